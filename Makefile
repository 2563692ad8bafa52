# Bookker Sync — the two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEPS_STAMP := $(VENV)/.deps-stamp
NODE_STAMP := node_modules/.deps-stamp
PYTEST_ARGS ?=

.PHONY: help deps browser up run test lint typecheck unit chaos bench clean

help:
	@echo "make run    start Azurite + Graph emulator + Functions host, seed a demo tenant, show sync"
	@echo "make up     the same stack, empty, in the foreground (Ctrl-C stops it all; INSTANCES=N)"
	@echo "make test   install what is missing, lint, type-check and run the whole test suite"
	@echo "make chaos  N=... SEED=...   a big chaos-convergence run"
	@echo "make bench  run the benchmark scripts (results: BENCHMARKS.md)"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(DEPS_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(DEPS_STAMP) $(NODE_STAMP)

# The status page test drives Debian's chromium through Playwright (never `playwright
# install`). Installed here when missing; if it can't be, that test fails (no skip).
CHROMIUM := /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	      || echo "warning: could not install chromium; the status page test will fail" >&2; \
	  else echo "warning: $(CHROMIUM) missing and no apt-get; the status page test will fail" >&2; \
	  fi; \
	fi

INSTANCES ?= 1
STACK_ARGS ?=
up: deps
	$(PY) -m emulators.stack --instances $(INSTANCES) $(STACK_ARGS)

run: deps
	$(PY) -m emulators.stack --demo --instances $(INSTANCES) $(STACK_ARGS)

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: deps
	$(VENV)/bin/mypy bookker_sync emulators function_app.py

# pytest exits 5 when it collected no tests: that must fail the run, and it does
# (any non-zero exit fails make).
test: deps browser lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

unit: deps
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

N ?= 1000
SEED ?= 1
chaos: deps
	CHAOS_N=$(N) CHAOS_SEED=$(SEED) $(PY) -m pytest tests/chaos -x -q -s

bench: deps
	$(PY) -m bench

clean:
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache .hypothesis
