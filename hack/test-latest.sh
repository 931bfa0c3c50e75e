#!/usr/bin/env bash
# Unit + integration tests against the newest versions pyproject.toml's ranges allow (`make
# test-latest`; not CI). uv.lock is put back as it was whatever happens: what breaks here is an
# upstream release to look at, then to take on purpose with `make lock ARGS=--upgrade`.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=$(hack/uv.sh)
kept=$(mktemp)
cp uv.lock "$kept"
trap 'cp "$kept" uv.lock; rm -f "$kept"' EXIT
"$uv" lock --upgrade --quiet
UV_PROJECT_ENVIRONMENT=.venv-latest "$uv" sync --frozen --quiet
cp "$kept" uv.lock
"$uv" pip list --python .venv-latest/bin/python --format freeze | grep -Ei '^(moto|boto3|kopf|kubernetes)==' >&2
VENV=.venv-latest hack/test.sh unit
VENV=.venv-latest hack/test.sh integration
