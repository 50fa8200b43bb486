#!/usr/bin/env bash
# Side-by-side: trainrt against PyTorch (Debian's python3-torch, run with
# /usr/bin/python3) on the identical training epoch: Fashion-MNIST, batch 64,
# Adam 1e-3, shuffled, no evaluation; the seed CNN and the 784-256-256-10 MLP at
# 1 and 2 threads. bench/compare/trainrt_epoch.lua and torch_epoch.py each time
# their own epoch loop (samples/s, data loading included, start-up excluded);
# peak RSS comes from /usr/bin/time -v (else the script's own getrusage).
# PyTorch gets OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=N and, unless the caller
# sets it, OMP_WAIT_POLICY=PASSIVE: on a busy 2-core machine libgomp's spinning
# threads made its 2-thread runs 4-8x slower than its 1-thread runs.
# Runs are interleaved pair by pair, the order alternating between rounds, and
# the summary gives medians and the median of the per-pair ratios, as
# `compare case=...` lines and a markdown table.
#
# Usage: bench/compare_pytorch.sh [--pairs 3] [--limit 0] [--cases cnn:1,cnn:2,mlp:1,mlp:2]
#                                 [--trainrt PATH] [--data DIR] [--trainrt-mode compiled|eager]
# Exit status: 0 done, 1 a run failed, 2 bad usage or torch not importable.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=/usr/bin/python3
pairs=3
limit=0
cases=cnn:1,cnn:2,mlp:1,mlp:2
trainrt=$root/build/bin/trainrt
data=/usr/share/datasets/fashion-mnist
mode=compiled  # trainrt's step: trainrt.compile'd (as examples/mnist/train.lua) or op by op
omp_wait_policy=${OMP_WAIT_POLICY:-PASSIVE}

usage() { sed -n '15,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
die() { echo "compare_pytorch: $2" >&2; exit "$1"; }

while [ $# -gt 0 ]; do
  case $1 in
    --pairs) pairs=${2:?--pairs needs a value}; shift 2 ;;
    --limit) limit=${2:?--limit needs a value}; shift 2 ;;
    --cases) cases=${2:?--cases needs a value}; shift 2 ;;
    --trainrt) trainrt=${2:?--trainrt needs a value}; shift 2 ;;
    --data) data=${2:?--data needs a value}; shift 2 ;;
    --trainrt-mode) mode=${2:?--trainrt-mode needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die 2 "unknown option '$1'" ;;
  esac
done
[[ $pairs =~ ^[1-9][0-9]*$ ]] || die 2 "--pairs must be a positive integer, got '$pairs'"
[[ $mode =~ ^(compiled|eager)$ ]] || die 2 "--trainrt-mode must be compiled or eager, got '$mode'"
[[ $limit =~ ^[0-9]+$ ]] || die 2 "--limit must be a non-negative integer, got '$limit'"
IFS=, read -r -a case_list <<< "$cases"
for c in "${case_list[@]}"; do
  [[ $c =~ ^(cnn|mlp):[1-9][0-9]*$ ]] || die 2 "bad case '$c' (expected MODEL:THREADS, MODEL cnn or mlp)"
done

if ! torch_info=$("$python" -c 'import torch; print(torch.__version__, torch.backends.mkldnn.is_available())' 2>&1); then
  die 2 "PyTorch is not importable by $python (it is not a trainrt dependency; apt-get install python3-torch): ${torch_info##*$'\n'}"
fi
read -r torch_version torch_mkldnn <<< "$torch_info"

# The binary may be briefly absent while it is rebuilt: wait up to 5 minutes.
wait_for_trainrt() {
  local waited=0
  until [ -x "$trainrt" ]; do
    [ "$waited" -ge 300 ] && die 1 "$trainrt not found (build it, or pass --trainrt PATH)"
    [ "$waited" -eq 0 ] && echo "# waiting for $trainrt to appear" >&2
    sleep 5; waited=$((waited + 5))
  done
}
wait_for_trainrt

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timer=()
if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -v -o "$tmp/time"); fi

# run_side SIDE MODEL THREADS: runs one epoch; sets sps, seconds, rss_mb, loss.
run_side() {
  local side=$1 model=$2 threads=$3 attempt cmd line
  if [ "$side" = trainrt ]; then
    cmd=("$trainrt" train "$root/bench/compare/trainrt_epoch.lua" --threads "$threads" --model "$model" --mode "$mode")
  else
    cmd=("$python" "$root/bench/compare/torch_epoch.py" --threads "$threads" --model "$model")
  fi
  cmd+=(--limit "$limit" --data "$data")
  for attempt in 1 2 3; do
    [ "$side" = trainrt ] && wait_for_trainrt
    rm -f "$tmp/time"
    if OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads OMP_WAIT_POLICY=$omp_wait_policy \
        "${timer[@]}" "${cmd[@]}" > "$tmp/out" 2> "$tmp/err" &&
        line=$(grep -m1 '^epoch ' "$tmp/out"); then
      field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$line"; }
      sps=$(field sps); seconds=$(field seconds); loss=$(field mean_loss); rss_mb=$(field rss_mb)
      if [ -s "$tmp/time" ]; then
        rss_mb=$(awk -F': *' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$tmp/time")
      fi
      return 0
    fi
    echo "# $side $model threads=$threads failed (attempt $attempt of 3):" >&2
    tail -n 5 "$tmp/err" "$tmp/out" >&2
    sleep 60  # a rebuild under way leaves the binary and scripts out of step for a while
  done
  die 1 "$side $model threads=$threads failed 3 times"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "# date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "# cpu: ${cpu:-unknown} ($(nproc) cores online)"
echo "# trainrt: $trainrt (git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo "# torch: $torch_version mkldnn_available=$torch_mkldnn (python $python, OMP_WAIT_POLICY=$omp_wait_policy)"
echo "# pairs=$pairs limit=$limit cases=$cases data=$data trainrt_mode=$mode"

declare -A results  # "$case:$side" -> "sps rss" lines; "$case:ratio" -> ratios
for ((pair = 1; pair <= pairs; pair++)); do
  if ((pair % 2)); then order=(trainrt torch); else order=(torch trainrt); fi
  for c in "${case_list[@]}"; do
    model=${c%%:*}; threads=${c##*:}
    declare -A pair_sps=()
    for side in "${order[@]}"; do
      run_side "$side" "$model" "$threads"
      pair_sps[$side]=$sps
      results[$c:$side]+="$sps $rss_mb"$'\n'
      echo "run pair=$pair case=$model threads=$threads side=$side sps=$sps seconds=$seconds mean_loss=$loss rss_mb=$rss_mb"
    done
    results[$c:ratio]+=$(awk -v a="${pair_sps[trainrt]}" -v b="${pair_sps[torch]}" 'BEGIN { printf "%.3f", a / b }')$'\n'
  done
done

echo
table="| model | threads | trainrt samples/s | PyTorch samples/s | trainrt/PyTorch | trainrt peak RSS MB | PyTorch peak RSS MB |"$'\n'
table+="|---|---|---|---|---|---|---|"$'\n'
for c in "${case_list[@]}"; do
  model=${c%%:*}; threads=${c##*:}
  col() { printf '%s' "${results[$c:$1]}" | awk -v k="$2" 'NF { print $k }' | median; }
  t_sps=$(col trainrt 1); p_sps=$(col torch 1); t_rss=$(col trainrt 2); p_rss=$(col torch 2)
  ratio=$(col ratio 1)
  printf 'compare case=%s threads=%s trainrt_sps=%.0f torch_sps=%.0f ratio=%.2f trainrt_rss_mb=%.0f torch_rss_mb=%.0f\n' \
    "$model" "$threads" "$t_sps" "$p_sps" "$ratio" "$t_rss" "$p_rss"
  table+=$(printf '| %s | %s | %.0f | %.0f | %.2fx | %.0f | %.0f |' "$model" "$threads" "$t_sps" "$p_sps" "$ratio" "$t_rss" "$p_rss")$'\n'
done
echo
span="one whole epoch"
[ "$limit" -gt 0 ] && span="the first $limit samples"
echo "Fashion-MNIST, $span, batch 64, Adam, data loading included, trainrt step $mode; medians of $pairs interleaved"
echo "pair(s), trainrt/PyTorch the median of the per-pair ratios. PyTorch $torch_version (oneDNN: $torch_mkldnn,"
echo "OMP_WAIT_POLICY=$omp_wait_policy), ${cpu:-unknown CPU}, $(nproc) cores, $(date -u +%Y-%m-%d)."
echo
printf '%s' "$table"
