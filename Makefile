# Every target installs what it needs; a fresh clone runs `make demo` or `make test` directly.
# What is installed is exactly uv.lock (`uv sync --locked`): nothing floats on a new machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV = $(shell PYTHON=$(PYTHON) hack/uv.sh)

.PHONY: setup demo test lint unit integration e2e lock test-latest test-moto control-plane-up control-plane-down clean

# The product, the dev group and the devkit workspace member (devkit/: the AWS emulator, moto
# and the demo, which the product's wheel and image do not carry), all at uv.lock's versions.
# Compiled to bytecode here, once: where PYTHONDONTWRITEBYTECODE is set (this machine, CI) no
# process writes it, and every one compiled what it imported from source again; `sd-operator
# run`, started by each e2e test, took 6 s of CPU to import (the kubernetes client alone 3 s),
# 1.8 s compiled.
$(STAMP): uv.lock pyproject.toml devkit/pyproject.toml hack/uv-requirements.txt Makefile
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --compile-bytecode --python $(PYTHON) --quiet
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/sd-operator demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# hack/test.sh runs `make setup` itself, once the Go tools' builds have started beside it.
test:
	hack/test.sh

unit: setup
	hack/test.sh unit

integration: setup
	hack/test.sh integration

e2e: setup
	hack/test.sh e2e

# Re-resolve on purpose: `make lock` keeps every version it can, `make lock ARGS=--upgrade`
# moves to the newest the ranges allow (a commit of its own, then a full `make test`).
lock:
	hack/lock.sh $(ARGS)

# Unit + integration against the newest versions the ranges allow, in a venv of its own and
# without touching uv.lock: an upstream release breaks this deliberate run, not a fresh clone.
test-latest:
	hack/test-latest.sh

# The emulator's own tests against another moto release (`make test-moto MOTO=5.2.5`), in a venv
# of its own (.venv-moto) with uv.lock's versions but that moto: uv.lock and .venv stay as they are.
test-moto:
	@test -n "$(MOTO)" || { echo "usage: make test-moto MOTO=<moto version, e.g. 5.2.5>" >&2; exit 2; }
	hack/test-moto.sh $(MOTO)

control-plane-up:
	hack/control-plane.sh up

control-plane-down:
	hack/control-plane.sh down

clean:
	hack/control-plane.sh down || true
	rm -rf $(VENV) .venv-latest .venv-moto .pytest_cache .mypy_cache .ruff_cache
