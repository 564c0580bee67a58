# Two entry points (see README): `make run` runs the main job (GRPO training, offline default on
# CPU), `make test` runs the whole test suite.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED_DATA := $(abspath ../shared/data)
DATA_ARGS := $(if $(wildcard $(SHARED_DATA)/*),--data-dir $(SHARED_DATA),)
# torch 2.13.0 is pinned for the install step only (the package accepts any torch >= 2.4); on the
# project's CI machines a CPU build of it lies on disk, so nothing large is downloaded.
TORCH ?= torch==2.13.0

.PHONY: run test check-env setup system-deps lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[all,dev,bench]"
	touch $@

setup: $(VENV)/.installed

# Bubblewrap, Docker and the sandbox image, when we may install system packages (root + apt).
system-deps:
	@if [ -x scripts/setup-sandbox.sh ] || [ -f scripts/setup-sandbox.sh ]; then \
		PYTHON=$(abspath $(BIN)/python) bash scripts/setup-sandbox.sh; fi

lint: setup
	$(BIN)/ruff check .

run: setup
	$(BIN)/rlvr-envs $(DATA_ARGS) train --output-dir runs/train

test: setup lint system-deps
	$(BIN)/python -m pytest -m "" -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
