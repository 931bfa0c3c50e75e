#!/usr/bin/env bash
# Runs the checks and the test layers: lint + types, unit, integration (AWS emulator on
# loopback), e2e (local kube-apiserver + etcd, started here and stopped on exit).
# Usage: hack/test.sh [all|unit|integration|e2e|faults [ROUNDS]]
# `faults` runs only the fault suite (pytest -m faults, docs/RELIABILITY.md); with ROUNDS (or
# SD_FAULT_ROUNDS) its long form, e.g. `hack/test.sh faults 20`. `all` and `e2e` run its short form.
set -euo pipefail
cd "$(dirname "$0")/.."
layer=${1:-all}
if [ "$layer" = faults ] && [ -n "${2:-}" ]; then
  export SD_FAULT_ROUNDS=$2
fi
venv=${VENV:-.venv}
bin=$venv/bin
# A free port: another checkout's control plane on 6443 must not fail this run.
export CONTROL_PLANE_PORT=${CONTROL_PLANE_PORT:-auto}

# pytest exits 5 when it collected nothing: a silently empty suite must fail, not pass.
run_pytest() {
  local rc=0
  "$bin/pytest" "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "error: pytest collected no tests for: $*" >&2
    return 1
  fi
  return "$rc"
}

if [ "$layer" = all ]; then
  # What is installed is what uv.lock names, nothing more or less (`make setup` installs it).
  UV_PROJECT_ENVIRONMENT=$venv "$(hack/uv.sh)" sync --locked --check --quiet
  "$bin/ruff" check .
  "$bin/ruff" format --check .
  "$bin/mypy"
  "$bin/lint-imports"
fi
case "$layer" in
  unit) run_pytest tests/unit ;;
  integration) run_pytest tests/integration ;;
  e2e|all|faults)
    started=0
    if ! hack/control-plane.sh status >/dev/null 2>&1; then
      hack/control-plane.sh up
      started=1
    fi
    stop() { if [ "$started" = 1 ]; then hack/control-plane.sh down || true; fi; }
    trap stop EXIT
    eval "$(hack/control-plane.sh env)"
    # tests/e2e/test_health.py reads status through the real kstatus library
    KSTATUS=$(hack/tools.sh kstatus)
    export KSTATUS
    case "$layer" in
      e2e) run_pytest tests/e2e ;;
      faults) run_pytest -m faults tests/e2e ;;
      *)
        # The emulators record each AWS action the operator calls; tests/iam then compares the
        # record with docs/iam-policy.json, so it runs last, on this run's record only.
        mkdir -p .test-results
        export SD_OPERATOR_EMULATOR_CALL_LOG=$PWD/.test-results/aws-actions.txt
        rm -f "$SD_OPERATOR_EMULATOR_CALL_LOG"
        run_pytest tests --ignore=tests/iam
        run_pytest tests/iam
        ;;
    esac
    ;;
  *) echo "usage: $0 [all|unit|integration|e2e|faults [ROUNDS]]" >&2; exit 2 ;;
esac
