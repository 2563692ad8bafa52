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

.PHONY: help deps deps-lock deps-upgrade browser up run test lint typecheck unit chaos bench clean

help:
	@echo "make run    start Azurite + Graph emulator + Functions host, seed a demo tenant, show sync"
	@echo "make up     the same stack, empty, in the foreground (Ctrl-C stops it all; INSTANCES=N)"
	@echo "make test   install what is missing, lint, type-check and run the whole test suite"
	@echo "make chaos  N=... SEED=...   a big chaos-convergence run"
	@echo "make bench  run the benchmark scripts (results: BENCHMARKS.md)"
	@echo "make deps-lock     after editing requirements*.in: recompile the hashed lock files"
	@echo "make deps-upgrade  move the lock files to the newest versions the .in files allow"

$(PY):
	$(PYTHON) -m venv $(VENV)

# requirements*.in are the human-edited inputs; requirements*.txt are their compiled
# locks (exact versions and sha256 hashes), the only files pip installs from. The
# deployed app gets requirements.txt (Azure's remote build installs it, hashes
# included); requirements-dev.txt is the runtime set plus the dev tools.
$(DEPS_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	@touch $@

# The hashes are those of every file of each release on the indexes pip is set up with
# here (PyPI and any local mirror), so an install from either checks out. Index and
# find-links options stay out of the files: they are this machine's, not the project's.
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make deps-lock" $(VENV)/bin/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
deps-lock: $(DEPS_STAMP)
	$(PIP_COMPILE) -o requirements.txt requirements.in
	$(PIP_COMPILE) -o requirements-dev.txt requirements-dev.in

# Runtime first: requirements-dev.in is constrained by requirements.txt.
deps-upgrade: $(DEPS_STAMP)
	$(PIP_COMPILE) --upgrade -o requirements.txt requirements.in
	$(PIP_COMPILE) --upgrade -o requirements-dev.txt requirements-dev.in

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(DEPS_STAMP) $(NODE_STAMP)

# The status page and API docs page tests drive Debian's chromium headless through
# Playwright (never `playwright install`). Installed here when missing, saying so; if it
# can't be, those tests fail (no skip).
CHROMIUM := /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "make: $(CHROMIUM) is missing; installing Debian's chromium (apt-get install chromium):" \
	    "the status page and API docs page tests (tests/e2e/test_status_page.py," \
	    "tests/e2e/test_api_docs_page.py) drive it headless through Playwright."; \
	  if command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	      || echo "warning: could not install chromium; the browser tests will fail" >&2; \
	  else echo "warning: no apt-get to install chromium; the browser tests will fail" >&2; \
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
