# Everything runs from the project's own virtualenv in .venv; only Python 3.11+ and make are needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
# The wall page's browser tests drive Debian's Chromium (Playwright never downloads one).
CHROMIUM ?= /usr/bin/chromium
BROWSER_PACKAGES := chromium fonts-dejavu-core

.PHONY: install install-dev browser run test lint format openapi clean

install: $(RUNTIME_STAMP)

$(RUNTIME_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

install-dev: $(DEV_STAMP)

$(DEV_STAMP): $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

browser: $(CHROMIUM)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES); }; \
	else \
	  echo "The browser tests need Chromium at $(CHROMIUM): sudo apt-get install $(BROWSER_PACKAGES)"; \
	  echo "(or point CHROMIUM= at another Chromium build)"; exit 1; \
	fi
	test -x $(CHROMIUM)

run: install
	$(BIN)/followthrough db upgrade
	@echo "Get an admin token (in another shell): $(BIN)/followthrough tokens create --scope admin --name me"
	$(BIN)/followthrough serve --no-migrate

test: install-dev browser
	FOLLOWTHROUGH_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check app connectors tests bench
	$(BIN)/ruff format --check app connectors tests bench
	$(BIN)/mypy app connectors

format: install-dev
	$(BIN)/ruff format app connectors tests bench
	$(BIN)/ruff check --fix app connectors tests bench

# The fault run (bench/fault_run.py): 1,000 items through 2 API processes and 2 workers on a
# PostgreSQL cluster of its own, create faults, 20 worker SIGKILLs, one database restart and
# webhooks twice and out of order; fails unless one ticket per item, none lost, all converged.
.PHONY: chaos
chaos: install-dev
	$(BIN)/python -m bench.fault_run --items 1000 --kills 20 --api-processes 2 --workers 2 $(CHAOS_ARGS)

openapi: install
	$(BIN)/followthrough openapi > openapi/openapi.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
