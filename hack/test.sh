#!/usr/bin/env bash
# Runs the checks and the test layers: lint + types, unit, integration (AWS emulator on
# loopback), e2e (local kube-apiserver + etcd, started here and stopped on exit).
# Usage: hack/test.sh [all|unit|integration|e2e|faults [ROUNDS]]
# `faults` runs only the fault suite (pytest -m faults, docs/RELIABILITY.md); with ROUNDS (or
# SD_FAULT_ROUNDS) its long form, e.g. `hack/test.sh faults 20`. `all` and `e2e` run its short form.
# SD_TEST_WORKERS sets pytest-xdist's workers for unit + integration (default 2: both cores) and
# SD_E2E_WORKERS for e2e (default 4: its tests mostly wait on the operator, not on the CPU).
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
workers=${SD_TEST_WORKERS:-2}
e2e_workers=${SD_E2E_WORKERS:-4}

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

# The Go tools build in the background while the checks, unit and integration tests run: on a
# fresh machine they take most of the run, on a warm one nothing. Two groups, so that the e2e
# layer starts as soon as it can: the control plane's (etcd, kube-apiserver) first, and helm +
# kstatus, which only a few e2e tests call (marker `test_tools`), at a lower CPU priority beside
# them, then beside the first e2e tests. Each group writes its exit status to a file: the e2e
# job waits on it from a subshell, where `wait` knows no sibling's process.
declare -A tools_pid=()
e2e_pid=
cleanup() {
  local pid
  for pid in "${tools_pid[@]}" $e2e_pid; do kill -- "-$pid" 2>/dev/null || true; done
  # a marker file, not a variable: the e2e job starts the control plane in a subshell
  if [ -e .test-results/control-plane.ours ]; then
    hack/control-plane.sh down || true
    rm -f .test-results/control-plane.ours
  fi
}
trap cleanup EXIT
build_tools() {
  mkdir -p .test-results
  rm -f .test-results/tools-*.rc
  # each group in its own process group, so that an early failure stops its Go builds with it
  setsid bash -c 'hack/tools.sh control-plane; echo $? >.test-results/tools-control-plane.rc' \
    >.test-results/tools-control-plane.log 2>&1 &
  tools_pid[control-plane]=$!
  setsid nice -n 10 bash -c 'hack/tools.sh test-tools; echo $? >.test-results/tools-test-tools.rc' \
    >.test-results/tools-test-tools.log 2>&1 &
  tools_pid[test-tools]=$!
  echo "building the Go tools in the background (logs: .test-results/tools-*.log)" >&2
}

# tools_built GROUP: the group's build, if this run started one, is over (its status written).
tools_built() {
  [ -z "${tools_pid[$1]:-}" ] || [ -s ".test-results/tools-$1.rc" ]
}

# wait_tools GROUP: the group's build, if this run started one, has finished and succeeded.
wait_tools() {
  local pid=${tools_pid[$1]:-}
  [ -n "$pid" ] || return 0
  while ! tools_built "$1" && kill -0 "$pid" 2>/dev/null; do sleep 1; done
  if [ "$(cat ".test-results/tools-$1.rc" 2>/dev/null)" != 0 ]; then
    cat ".test-results/tools-$1.log" >&2
    echo "error: building the Go tools ($1) failed" >&2
    return 1
  fi
}

with_control_plane() {
  wait_tools control-plane
  if ! hack/control-plane.sh status >/dev/null 2>&1; then
    mkdir -p .test-results
    touch .test-results/control-plane.ours
    hack/control-plane.sh up
  fi
  eval "$(hack/control-plane.sh env)"
  "$@"
}

# The tests marked test_tools call helm or kstatus: on a fresh machine those build meanwhile.
with_test_tools() {
  wait_tools test-tools
  # tests/e2e/test_health.py reads status through the real kstatus library
  KSTATUS=$(hack/tools.sh kstatus)
  export KSTATUS
  "$@"
}

# e2e test by test (--dist load), not file by file as pyproject's addopts say: its module
# fixtures are cheap (a namespace, the CRDs), and a file such as test_lifecycle.py or
# test_ecs.py, ~100 s of waiting each, no longer holds one worker while the others are idle.
# --maxschedchunk 1: xdist's load scheduling first hands each worker a run of consecutive tests
# (a quarter of its share, 15 here), so the first worker got every `long` test, which the e2e
# conftest puts first, and ran them one after the other for 8 minutes while the other three
# were done after 3 to 4. One test at a time, the long ones go one to each free worker.
e2e() { run_pytest -n "$e2e_workers" --dist load --maxschedchunk 1 --durations=10 "$@" tests/e2e; }

# The e2e layer once the control plane is built: in one run when helm and kstatus are built by
# then (any warm machine, and a fresh one where they build faster than kube-apiserver), else the
# tests that need them last, once they are.
e2e_job() {
  wait_tools control-plane
  if tools_built test-tools; then
    with_control_plane with_test_tools e2e
  else
    with_control_plane e2e -m "not test_tools"
    with_test_tools e2e -m test_tools
  fi
}

case "$layer" in
  unit) run_pytest -n "$workers" tests/unit ;;
  integration) run_pytest -n "$workers" tests/integration ;;
  e2e) with_control_plane with_test_tools e2e ;;
  faults)
    # the CLI's half of the malformed manifests needs no API server: it is an integration test
    run_pytest -n "$workers" -m faults tests/integration
    with_control_plane with_test_tools e2e -m faults
    ;;
  all)
    build_tools
    # `make test` installs here, after the Go builds started: on a fresh machine both download.
    make --no-print-directory setup VENV="$venv"
    # What is installed is what uv.lock names, nothing more or less (`make setup` installs it).
    UV_PROJECT_ENVIRONMENT=$venv "$(hack/uv.sh)" sync --locked --check --quiet
    "$bin/ruff" check .
    "$bin/ruff" format --check .
    # mypy's cache outlives the checkout, as the Go tools' do: a fresh clone's first check took
    # 24 s of CPU, 1 s with the cache. Its entries are checked by content hash, not trusted.
    MYPY_CACHE_DIR=${SD_OPERATOR_CACHE:-$HOME/.cache/sd-operator}/mypy "$bin/mypy"
    "$bin/lint-imports"
    (site=$(mktemp -d) && trap 'rm -rf "$site"' EXIT && "$bin/mkdocs" build --strict --site-dir "$site") # docs/ (not --quiet: it hides the warnings --strict counts)
    # The emulators record each AWS action the operator calls; tests/iam then compares the
    # record with docs/iam-policy.json, so it runs last, on this run's record only.
    export SD_OPERATOR_EMULATOR_CALL_LOG=$PWD/.test-results/aws-calls.jsonl
    rm -f "$SD_OPERATOR_EMULATOR_CALL_LOG"
    # e2e runs beside unit + integration, as soon as the control plane is built: its tests
    # mostly wait on the operator (about one core of two), and unit + integration, at a lower
    # CPU priority from here on, take what it and the control plane's Go builds leave. Its
    # output follows theirs. `set -m`: the job gets a process group of its own to stop.
    set -m
    e2e_job >.test-results/e2e.log 2>&1 &
    e2e_pid=$!
    set +m
    echo "e2e runs in the background once the control plane is built (log: .test-results/e2e.log)" >&2
    renice -n 10 -p $$ >/dev/null
    failed=()
    run_pytest -n "$workers" --durations=10 tests/unit tests/integration || failed+=("unit + integration")
    wait "$e2e_pid" || failed+=(e2e)
    e2e_pid=
    cat .test-results/e2e.log
    if [ "${#failed[@]}" -gt 0 ]; then
      echo "error: failed: ${failed[*]}" >&2
      exit 1
    fi
    run_pytest tests/iam
    ;;
  *) echo "usage: $0 [all|unit|integration|e2e|faults [ROUNDS]]" >&2; exit 2 ;;
esac
