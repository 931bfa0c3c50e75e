#!/usr/bin/env bash
# Print the path of the pinned uv (pyproject.toml [tool.uv] required-version), installing it
# first, hash-checked, from hack/uv-requirements.txt into the tool cache. uv installs and locks
# everything else, so it is the one tool bootstrapped with pip; the machine's own uv, if any,
# is never used: another version could resolve or install differently.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(sed -n 's/^required-version = "==\(.*\)"$/\1/p' "$ROOT/pyproject.toml")
[ -n "$version" ] || { echo "hack/uv.sh: no [tool.uv] required-version in pyproject.toml" >&2; exit 1; }
dir="${SD_OPERATOR_CACHE:-$HOME/.cache/sd-operator}/uv-$version"
if [ ! -x "$dir/bin/uv" ]; then
  grep -q "^uv==$version " "$ROOT/hack/uv-requirements.txt" \
    || { echo "hack/uv.sh: hack/uv-requirements.txt does not pin uv $version: run hack/lock.sh" >&2; exit 1; }
  rm -rf "$dir.tmp.$$"
  "${PYTHON:-python3}" -m venv "$dir.tmp.$$"
  "$dir.tmp.$$/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps \
    -r "$ROOT/hack/uv-requirements.txt"
  rm -rf "$dir" && mv "$dir.tmp.$$" "$dir"
fi
printf '%s\n' "$dir/bin/uv"
