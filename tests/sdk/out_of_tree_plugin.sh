#!/usr/bin/env bash
# The plugin SDK as a user meets it: installs the freshly built trainrt into a
# temporary prefix, builds examples/custom-layer-plugin against it with
# find_package(trainrt) (its .cu files too where nvcc exists), then through the
# installed trainrt: `trainrt plugins` (nothing refused), `trainrt check-plugin`
# on the built module, the Lua demo, and a few training steps of train.lua on
# Fashion-MNIST. Every step's exit code counts (set -e); printed lines are
# checked only on top of that.
# Usage: out_of_tree_plugin.sh BUILD_DIR SOURCE_DIR   (ctest: sdk.out_of_tree_plugin)
set -euo pipefail
build_dir=$1
source_dir=$2
example="$source_dir/examples/custom-layer-plugin"
data=${TRAINRT_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "out_of_tree_plugin: $*" >&2; exit 1; }

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
trainrt="$work/prefix/bin/trainrt"
cmake -S "$example" -B "$work/plugin" -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; fail "configuring the example against the install failed"; }
grep "trainrt plugin layer-examples" "$work/configure.log" || true  # the line saying the .cu files were left out
cmake --build "$work/plugin" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "building the example failed"; }
plugin="$work/plugin/trt-layer-examples.so"
[[ -f $plugin ]] || fail "the build made no $plugin"

# A plugin links the plugin headers only: never libtrainrt, and never the
# shared CUDA runtime or the driver (cudart is static), so it loads without a GPU.
if readelf -d "$plugin" | grep -E "NEEDED.*(libtrainrt|libcudart|libcuda)"; then
  fail "$plugin links a library a plugin must not need (above)"
fi

export TRAINRT_PLUGIN_PATH="$work/plugin"
listing=$("$trainrt" plugins)  # exits 1 if any plugin was refused
grep -q "layer-examples" <<<"$listing" || { echo "$listing"; fail "'trainrt plugins' does not list layer-examples"; }

"$trainrt" check-plugin "$plugin"

demo=$("$trainrt" train "$example/swish_demo.lua")
echo "$demo"
grep -q "layernorm ok" <<<"$demo" || fail "the demo did not reach its last check ('layernorm ok')"

if [[ ! -d $data ]]; then
  # Like REQUIRE_FASHION_MNIST in tests/requirements.h: skip here, fail on CI.
  [[ ${CI:-} == true ]] && fail "$data is missing (Debian package dataset-fashion-mnist); on CI the dependency list installs it"
  echo "out_of_tree_plugin: $data is missing (Debian package dataset-fashion-mnist): skipping the training run"
  exit 77
fi
trained=$("$trainrt" train "$example/train.lua" --epochs 1 --limit 512 --test-limit 1000 --data "$data" --threads 2)
echo "$trained"
accuracy=$(sed -n 's/^final test_accuracy=\([0-9.]*\)$/\1/p' <<<"$trained")
[[ -n $accuracy ]] || fail "train.lua did not print 'final test_accuracy=...'"
# Ten classes: 0.1 is chance. Eight steps of Adam get well past it.
awk -v a="$accuracy" 'BEGIN { exit !(a > 0.3) }' || fail "test accuracy $accuracy after 8 steps is not above 0.3"
