#!/usr/bin/env bash
# Load test of `trainrt serve` on loopback with wrk (Debian package wrk): serves
# examples/mnist/model.lua (the seed CNN, its initial weights: throughput does
# not depend on the values), POSTs one (1, 28, 28) image per request for
# DURATION seconds over CONNECTIONS keep-alive connections, and prints
# requests/s, p50/p99 latency, the mean batch the server formed, and errors.
# Exits 1 on any error (non-2xx answer, socket error, timeout).
# usage: bench/serve_load.sh [BUILD_DIR] [DURATION_S] [CONNECTIONS] [extra trainrt serve flags...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
duration=${2:-10}
connections=${3:-16}
shift $(( $# < 3 ? $# : 3 ))
trainrt=$build/bin/trainrt
command -v wrk > /dev/null || { echo "serve_load.sh: wrk is not installed (apt-get install wrk)" >&2; exit 77; }
[ -x "$trainrt" ] || { echo "serve_load.sh: $trainrt not found (build trainrt-cli, or pass BUILD_DIR)" >&2; exit 2; }

dir=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2> /dev/null; rm -rf "$dir"; }
trap cleanup EXIT

model=$root/examples/mnist/model.lua
cat > "$dir/make.lua" << LUA
local model = dofile("$model").build()
trainrt.checkpoint.save("$dir/ck.safetensors", { model = model })
LUA
"$trainrt" train "$dir/make.lua" --quiet > /dev/null

"$trainrt" serve --model "$model" --checkpoint "$dir/ck.safetensors" --port 0 "$@" > "$dir/serve.log" 2>&1 &
server=$!
port=
for _ in $(seq 600); do
  port=$(sed -n 's|.*listening on http://[^:]*:\([0-9]*\).*|\1|p' "$dir/serve.log")
  [ -n "$port" ] && break
  kill -0 "$server" 2> /dev/null || { cat "$dir/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "serve_load.sh: the server did not start" >&2; cat "$dir/serve.log" >&2; exit 1; }

# One image of values in [-1, 1), as the normalised training inputs.
body=$(awk 'BEGIN { srand(7); printf "{\"inputs\": [[["; for (r = 0; r < 28; r++) { printf "%s[", (r ? "," : "");
  for (c = 0; c < 28; c++) printf "%s%.4f", (c ? "," : ""), 2 * rand() - 1; printf "]" } printf "]]]}" }')
cat > "$dir/post.lua" << LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
LUA

wrk -t 2 -c "$connections" -d "${duration}s" --timeout 10s --latency -s "$dir/post.lua" \
  "http://127.0.0.1:$port/v1/predict" > "$dir/wrk.txt"
metrics=$(curl -s "http://127.0.0.1:$port/metrics" || true)
kill -TERM "$server"
wait "$server" && status=0 || status=$?
server=

rps=$(awk '/^Requests\/sec:/ { print $2 }' "$dir/wrk.txt")
p50=$(awk '$1 == "50%" { print $2 }' "$dir/wrk.txt")
p99=$(awk '$1 == "99%" { print $2 }' "$dir/wrk.txt")
requests=$(awk '/requests in/ { print $1 }' "$dir/wrk.txt")
non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$dir/wrk.txt")
socket=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$dir/wrk.txt")
errors=$(( ${non2xx:-0} + ${socket:-0} ))
mean_batch=$(printf '%s\n' "$metrics" | awk '/^trainrt_serve_batch_size_sum/ { s = $2 } /^trainrt_serve_batch_size_count/ { c = $2 }
  END { if (c > 0) printf "%.1f", s / c; else print "?" }')
echo "serve_load: model=examples/mnist/model.lua connections=$connections duration_s=$duration requests=$requests" \
     "requests_per_s=$rps p50=$p50 p99=$p99 mean_batch=$mean_batch errors=$errors sigterm_exit=$status"
[ "$errors" -eq 0 ] && [ "$status" -eq 0 ]
