#!/usr/bin/env bash
# The first run on a GPU machine, in under 10 minutes: the gpu-labelled tests
# (tests/gpu: every op against the CPU, gradients, allocator, training runs),
# then training throughput of the seed CNN at batch 256 and of a ~2.8M-parameter
# ResNet (bench/resnet_small.lua) on cuda:0 with the memory peak, the seed CNN
# example on real Fashion-MNIST when the dataset is installed, and, with two or
# more GPUs, the NCCL all-reduce bus bandwidth (bench/allreduce.lua).
# Builds nothing: pass the build directory (default: build), configured and
# built with the CUDA plugins (ops-cuda, coll-nccl) and gpu_tests.
# Prints what it ran, skipped (and why) and failed; exits 1 when a step failed,
# 77 when there is no CUDA device at all (nothing run), else 0.
# Run: bench/gpu.sh [BUILD_DIR] 2>&1 | tee gpu-bench.log
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
TRAINRT=$BUILD/bin/trainrt
BUDGET_S=570  # the steps' time limits below add up to this; the script stays under 10 minutes
cd "$ROOT" || exit 2

declare -a SUMMARY=()
FAILED=0
note() { SUMMARY+=("$1"); }
skip() { echo "SKIP $1: $2"; note "skipped  $1: $2"; }

# run NAME LIMIT_S COMMAND...: runs the command with a time limit, unless the budget is spent.
run() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET_S - SECONDS))
  if ((left < 20)); then
    skip "$name" "time budget spent (${SECONDS}s of ${BUDGET_S}s)"
    return 1
  fi
  ((limit > left)) && limit=$left
  echo
  echo "==== $name (limit ${limit}s): $*"
  local start=$SECONDS rc
  timeout --signal=INT --kill-after=10 "$limit" "$@"
  rc=$?
  if ((rc == 0)); then
    note "ran      $name ($((SECONDS - start))s)"
  elif ((rc == 124)); then
    note "FAILED   $name: over its ${limit}s limit"
    FAILED=1
  else
    note "FAILED   $name: exit code $rc"
    FAILED=1
  fi
  return $rc
}

finish() {
  echo
  echo "==== summary (${SECONDS}s)"
  printf '  %s\n' "${SUMMARY[@]}"
  exit "$1"
}

if [[ ! -x $TRAINRT ]]; then
  echo "bench/gpu.sh: $TRAINRT not found; build first (cmake -S . -B $BUILD -G Ninja && cmake --build $BUILD)" >&2
  exit 2
fi

echo "==== trainrt devices"
DEVICES=$("$TRAINRT" devices 2>&1)
echo "$DEVICES"
NGPU=$(grep -cE '^cuda:[0-9]+' <<<"$DEVICES")
if ((NGPU == 0)) && command -v nvidia-smi >/dev/null && ! grep -qiE 'cuda: *(not available|no )' <<<"$DEVICES"; then
  # `trainrt devices` lists no cuda:N lines (an older listing format?) but does
  # not say CUDA is unavailable: trust the driver's count; the tests will tell.
  NGPU=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
  ((NGPU > 0)) && echo "bench/gpu.sh: no cuda:N line above; nvidia-smi lists $NGPU GPU(s), going on with those"
fi
if ((NGPU == 0)); then
  echo
  echo "bench/gpu.sh: no CUDA device (see \`trainrt devices\` above): nothing to run."
  skip "gpu tests, seed CNN, resnet_small, Fashion-MNIST example, NCCL all-reduce" "no CUDA device on this machine"
  finish 77
fi
echo "bench/gpu.sh: $NGPU CUDA device(s)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv

# 1. The gpu-labelled tests. Each test skips on its own when it needs more GPUs than there are.
if [[ -x $BUILD/bin/gpu_tests ]]; then
  run "ctest -L gpu" 240 ctest --test-dir "$BUILD" -L gpu --output-on-failure --timeout 200
else
  skip "ctest -L gpu" "$BUILD/bin/gpu_tests is not built (cmake --build $BUILD --target gpu_tests)"
  FAILED=1
fi

# 2. Training throughput on cuda:0, synthetic inputs (compute only, no I/O).
run "seed CNN, batch 256, cuda:0" 60 \
  "$TRAINRT" train bench/gpu_train.lua --device cuda:0 --model cnn --batch-size 256 --steps 100 --warmup 5
run "resnet_small (~2.8M parameters, 3x32x32), batch 128, cuda:0" 120 \
  "$TRAINRT" train bench/gpu_train.lua --device cuda:0 --model resnet_small --batch-size 128 --steps 30 --warmup 3

# 3. The seed CNN example on the real dataset: samples/s with the data loader, and its accuracy.
if [[ -e /usr/share/datasets/fashion-mnist ]]; then
  run "examples/mnist/train.lua, 1 epoch, batch 256, cuda:0" 90 \
    "$TRAINRT" train examples/mnist/train.lua --device cuda:0 --batch-size 256 --epochs 1 --log-every 50
else
  skip "examples/mnist/train.lua" "Fashion-MNIST is not installed (/usr/share/datasets/fashion-mnist; apt-get install dataset-fashion-mnist)"
fi

# 4. NCCL all-reduce bus bandwidth, one process per GPU (at most 8).
if ((NGPU >= 2)); then
  NPROC=$((NGPU > 8 ? 8 : NGPU))
  run "NCCL all-reduce, 64 MiB, $NPROC GPUs" 60 \
    "$TRAINRT" launch --nproc-per-node "$NPROC" --master-port 0 bench/allreduce.lua --device cuda --backend nccl \
    --mb 64 --iters 20 --warmup 5
else
  skip "NCCL all-reduce" "needs 2 or more GPUs, $NGPU visible"
fi

finish "$FAILED"
