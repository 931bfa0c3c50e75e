#!/usr/bin/env bash
# The emulator's own tests against another moto release (`make test-moto MOTO=5.2.5`; not CI):
# uv.lock's versions in a scratch venv (.venv-moto) with only moto swapped, so neither uv.lock
# nor .venv change. What fails here is what that moto release moved (moto_surface.py lists what
# the emulator relies on). Usage: hack/test-moto.sh MOTO_VERSION [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
moto=${1:?usage: hack/test-moto.sh MOTO_VERSION [pytest args...]}
shift
uv=$(hack/uv.sh)
venv=${MOTO_VENV:-.venv-moto}
UV_PROJECT_ENVIRONMENT=$venv "$uv" sync --frozen --quiet
"$uv" pip install --quiet --python "$venv/bin/python" "moto[server]==$moto"
"$uv" pip list --python "$venv/bin/python" --format freeze | grep -Ei '^moto==' >&2
"$venv/bin/pytest" -p no:cacheprovider tests/integration/emulator \
  tests/integration/test_plain_moto.py "$@"
