# Two commands for a fresh machine (see README):  make serve   and   make test
VENV ?= .venv
PYTHON ?= python3

.PHONY: serve test lint bench clean

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

bench: $(VENV)/.dev  ## rough throughput/latency of the gateway against a fake upstream
	$(VENV)/bin/python bench/quick.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
