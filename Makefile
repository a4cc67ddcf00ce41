# Two commands for a fresh machine (see README):  make serve   and   make test
VENV ?= .venv
PYTHON ?= python3

.PHONY: serve test lint bench bench-quick bench-soak bench-profile clean

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

serve: $(VENV)/.runtime  ## install and serve the default profile on :8000
	$(VENV)/bin/model-runtime serve

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint  ## install, lint, type-check and run the whole test suite
	$(VENV)/bin/pytest

bench: $(VENV)/.runtime  ## direct, nginx, LiteLLM proxy and the gateway side by side (~17 min): bench/results/
	$(VENV)/bin/python bench/run.py

bench-quick: $(VENV)/.runtime  ## a one-minute smoke of the harness (short runs, no LiteLLM)
	$(VENV)/bin/python bench/run.py --quick

bench-soak: $(VENV)/.runtime  ## the gateway under load for 10 minutes: does worker memory stay flat?
	$(VENV)/bin/python bench/run.py --soak

bench-profile: $(VENV)/.runtime  ## py-spy profiles of the gateway under load: bench/results/profile-*
	$(VENV)/bin/python bench/hotspots.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
