#!/usr/bin/env bash
# Installs the Debian packages listed in containers/deps-debian.txt that are not
# installed yet, then the test virtualenv <repo>/.venv-test (Debian's python3 and
# python3-venv, packages pinned in containers/requirements-test.txt). Safe to run
# again; does nothing when everything is present.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The virtualenv of the tests that compare trainrt's files with the reference
# implementations (safetensors + numpy from PyPI). /usr/bin/python3 on purpose:
# not a pyenv or conda python that happens to be first on PATH.
install_test_venv() {
  local venv stamp
  venv="$(cd "$here/.." && pwd)/.venv-test"
  stamp="$venv/.requirements-test.txt"
  if [ ! -f "$here/requirements-test.txt" ]; then  # e.g. the Dockerfile's first layer: packages only
    echo "install-deps: no requirements-test.txt here; skipping the test virtualenv"
    return 0
  fi
  if [ -x "$venv/bin/python" ] && cmp -s "$here/requirements-test.txt" "$stamp"; then
    echo "install-deps: $venv up to date"
    return 0
  fi
  echo "install-deps: creating $venv"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements-test.txt"
  cp "$here/requirements-test.txt" "$stamp"
}
# One package per line; '#' starts a comment (whole line or after the name).
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e 's/^[[:space:]]*//' "$here/deps-debian.txt" | grep -v '^$')
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#wanted[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
install_test_venv
