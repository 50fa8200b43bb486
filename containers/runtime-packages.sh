#!/usr/bin/env bash
# Prints, one per line, the installed packages (dpkg) whose shared libraries
# the executables and libraries under PREFIX load: what a runtime image needs
# beside the files of `cmake --install`. Dockerfile.cuda runs it in its build
# stage, so the runtime stage installs exactly what the build linked against
# and containers/deps-debian.txt stays the one list that is written by hand.
# Libraries opened with dlopen (cuBLAS, cuDNN) are not seen: the Dockerfile
# names those itself. Not a general dependency resolver: Debian/Ubuntu, ELF only.
# Usage: containers/runtime-packages.sh /opt/trainrt
set -euo pipefail
prefix=${1:?usage: runtime-packages.sh PREFIX}
prefix=$(cd "$prefix" && pwd)

# Every dynamically linked file under the prefix (what ldd accepts; scripts
# and data are skipped); ldd resolves their libraries with their RUNPATHs.
elves=()
while IFS= read -r -d '' f; do
  ldd "$f" >/dev/null 2>&1 && elves+=("$f")
done < <(find "$prefix" -type f \( -name '*.so*' -o -perm -u+x \) -print0)
[ ${#elves[@]} -gt 0 ] || { echo "runtime-packages: no ELF files under $prefix" >&2; exit 1; }

missing=$(ldd "${elves[@]}" 2>/dev/null | awk '/=> not found/ {print $1}' | sort -u)
if [ -n "$missing" ]; then
  echo "runtime-packages: libraries not found: $(echo "$missing" | tr '\n' ' ')" >&2
  exit 1
fi

# dpkg knows a file by the path its package shipped; with merged /usr that may
# be /lib/... or /usr/lib/..., and alternatives (libopenblas, libblas) are
# symlinks through /etc/alternatives: try the path, its real path, and both
# with and without the /usr prefix.
owner() {
  local path=$1 real candidates c found
  real=$(readlink -f "$path")
  candidates=("$path" "$real" "${path#/usr}" "/usr${path}" "${real#/usr}" "/usr${real}")
  for c in "${candidates[@]}"; do
    found=$(dpkg-query -S "$c" 2>/dev/null | head -n1) || continue
    [ -n "$found" ] && { echo "${found%%:*}"; return 0; }
  done
  return 1
}

ldd "${elves[@]}" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u |
  while read -r lib; do
    case "$lib" in "$prefix"/*) continue ;; esac  # trainrt's own libraries
    pkg=$(owner "$lib" || true)
    if [ -z "$pkg" ]; then
      echo "runtime-packages: no package owns $lib" >&2
      exit 1
    fi
    echo "$pkg"
  done | sort -u
