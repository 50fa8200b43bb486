#!/usr/bin/env bash
# The containers' healthcheck: exits 0 when every given local port answers
# GET /healthz with HTTP 200 (one port per rank: --metrics-port P serves rank
# LOCAL_RANK on P + LOCAL_RANK; `trainrt serve` on its --port). Bash's
# /dev/tcp, so the runtime image needs neither curl nor wget. Not a client for
# anything else: HTTP/1.0, no TLS, no redirects.
# Usage: trainrt-healthcheck PORT [PORT...]   (installed so by Dockerfile.cuda)
#        HEALTHCHECK_HOST=127.0.0.1 HEALTHCHECK_TIMEOUT=5 (seconds per port)
set -uo pipefail
host=${HEALTHCHECK_HOST:-127.0.0.1}
timeout_s=${HEALTHCHECK_TIMEOUT:-5}
[ $# -gt 0 ] || { echo "usage: trainrt-healthcheck PORT [PORT...]" >&2; exit 2; }

check() {  # check PORT: the status line of GET /healthz
  exec 3<>"/dev/tcp/$host/$1" || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$host" "$1" >&3
  local status
  IFS= read -r -t "$timeout_s" status <&3 || status="(no answer in ${timeout_s}s)"
  # Read the rest (the server closes after an HTTP/1.0 answer), so the
  # server does not see the connection reset under its reply.
  while IFS= read -r -t "$timeout_s" _ <&3; do :; done
  exec 3<&-
  status=${status%$'\r'}
  case "$status" in
    "HTTP/1."[01]" 200"*) return 0 ;;
    *) echo "trainrt-healthcheck: $host:$1/healthz: $status" >&2; return 1 ;;
  esac
}

failed=0
for port in "$@"; do
  # A subshell each, so a port that refuses does not end the loop; its
  # message (connection refused, a status line) shows in docker inspect.
  (check "$port") || failed=1
done
exit "$failed"
