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
# `make bench`: every benchmark, each printing its table and writing JSON to bench-results/.
# Ingest is driven by wrk (Debian's package); PostgreSQL runs use throwaway databases there.
WRK ?= /usr/bin/wrk
BENCH_PG ?= postgresql://postgres@127.0.0.1:5432/postgres
BENCH_OUT := bench-results

.PHONY: bench
bench: install-dev $(WRK)
	mkdir -p $(BENCH_OUT)
	$(BIN)/python -m bench.webhook_load --database-url $(BENCH_PG) --json $(BENCH_OUT)/webhook_load.json
	$(BIN)/python -m bench.sync_throughput --items 1000 --json $(BENCH_OUT)/sync_throughput.json
	$(BIN)/python -m bench.close_latency --items 200 --json $(BENCH_OUT)/close_latency.json
	$(BIN)/python -m bench.dashboard_summary --items 300000 --database-url $(BENCH_PG) --json $(BENCH_OUT)/dashboard_summary.json
	$(BIN)/python -m bench.storage_day --deliveries 1000000 --baseline-deliveries 100000 --json $(BENCH_OUT)/storage_day.json

$(WRK):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk; }; \
	else \
	  echo "The ingest benchmark needs wrk at $(WRK): sudo apt-get install wrk (or WRK=...)"; exit 1; \
	fi
	test -x $(WRK)

.PHONY: chaos
chaos: install-dev
	$(BIN)/python -m bench.fault_run --items 1000 --kills 20 --api-processes 2 --workers 2 $(CHAOS_ARGS)

openapi: install
	$(BIN)/followthrough openapi > openapi/openapi.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
