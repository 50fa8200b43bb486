#!/usr/bin/env bash
# Installs the freshly built trainrt into a temporary prefix, builds
# examples/custom-layer-plugin against it with find_package(trainrt), and runs
# its Lua demo through the installed trainrt with the plugin on TRAINRT_PLUGIN_PATH.
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/examples/custom-layer-plugin" -B "$work/plugin" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/plugin" >/dev/null
export TRAINRT_PLUGIN_PATH="$work/plugin"
"$work/prefix/bin/trainrt" plugins | grep -q "layer-swish"
# The demo's own exit code counts (set -e), and it must have reached its last check.
output=$("$work/prefix/bin/trainrt" train "$source_dir/examples/custom-layer-plugin/swish_demo.lua")
echo "$output"
grep -q "swish ok" <<<"$output" || { echo "out_of_tree_plugin: the demo did not print 'swish ok'" >&2; exit 1; }
