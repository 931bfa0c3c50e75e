# Every target installs what it needs; a fresh clone runs `make demo` or `make test` directly.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint unit integration e2e control-plane-up control-plane-down clean

$(STAMP): pyproject.toml devkit/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The product and its developer kit (devkit/: the AWS emulator, moto and the demo), which
	# ships separately: the product's wheel and image carry neither.
	$(BIN)/pip install --quiet -e '.[dev]' -e ./devkit
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/sd-operator demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: setup
	hack/test.sh

unit: setup
	hack/test.sh unit

integration: setup
	hack/test.sh integration

e2e: setup
	hack/test.sh e2e

control-plane-up:
	hack/control-plane.sh up

control-plane-down:
	hack/control-plane.sh down

clean:
	hack/control-plane.sh down || true
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
