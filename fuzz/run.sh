#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time (outside CI):
#   fuzz/run.sh TARGET [SECONDS]      e.g. fuzz/run.sh idx 600
# Builds fuzz_TARGET with clang, ASan and UBSan in build-fuzz/ (once), runs it
# on a copy of the committed seeds in fuzz/corpus/TARGET/, and leaves what it
# found in build-fuzz/crashes/TARGET/. `fuzz/run.sh --list` lists the targets.
# clang and its runtime come from containers/deps-debian.txt.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
if [ "${1:-}" = "--list" ] || [ $# -lt 1 ]; then
  echo "targets:" $(cd "$here/targets" && ls *.cmake 2>/dev/null | sed 's/\.cmake$//')
  [ $# -ge 1 ] && exit 0 || { echo "usage: fuzz/run.sh TARGET [SECONDS]"; exit 2; }
fi
target=$1
seconds=${2:-600}
[ -f "$here/targets/$target.cmake" ] || { echo "fuzz/run.sh: no target '$target' (fuzz/run.sh --list)"; exit 2; }
build="$root/build-fuzz"
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTRAINRT_FUZZ=ON -DTRAINRT_BUILD_TESTS=OFF -DTRAINRT_BUILD_BENCHMARKS=OFF
fi
cmake --build "$build" --target "fuzz_$target"
corpus="$build/corpus/$target"
crashes="$build/crashes/$target"
mkdir -p "$corpus" "$crashes"
[ -d "$here/corpus/$target" ] && cp -n "$here/corpus/$target"/* "$corpus"/ 2>/dev/null || true
echo "fuzz/run.sh: fuzz_$target for $seconds s; corpus $corpus, crashes $crashes"
cd "$crashes"
exec "$build/bin/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 \
  -print_final_stats=1 "$corpus"
