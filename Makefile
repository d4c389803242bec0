# gist-scheduler — the front door. A newcomer types `make demo` or `make test`; nothing else is needed.
#
# PYTHON is the interpreter that creates .venv: python3.11 if present, else python3 when it is
# 3.11 or newer. Override it with `make test PYTHON=/path/to/python3.x`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= $(shell for p in python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && \
	   $$p -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; then \
	  command -v $$p; break; fi; done)

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONTRACT_CHECK := ../shared/tools/contract-check
BENCH_ARGS ?=
PIPELINE_BENCH_ARGS ?=
NOTIFY_BENCH_ARGS ?=
WEB_BENCH_ARGS ?=
DEMO_DIR ?= var/demo
DASHBOARD_PORT ?= 8000
IMPORT_BENCH_ARGS ?=

.PHONY: help venv demo dashboard run test reliability lint bench bench-plan bench-pipeline bench-notify bench-notices bench-recompute bench-web bench-import bench-scale contract clean

help: ## list every entry point (the default)
	@echo "gist-scheduler: make targets"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "The command line, once 'make venv' has run:"
	@echo "  .venv/bin/gistsched risk --size-cm X --mitoses N --site SITE [--ruptured]"
	@echo "  .venv/bin/gistsched plan FILE --as-of YYYY-MM-DD   e.g. examples/cohort.jsonl"
	@echo "  .venv/bin/gistsched demo [--pure] [--as-of YYYY-MM-DD]"
	@echo "  .venv/bin/gistsched run | worker | clock | serve | submit FILE [--wait S] | patient ID | db upgrade"
	@echo "  .venv/bin/gistsched user add NAME --role ROLE | feed create|revoke | audit [--patient ID] | status"
	@echo "  .venv/bin/gistsched fhir import FILE|DIR | fhir export PATIENT_ID"
	@echo "  .venv/bin/gistsched fhir pull --server URL [--since T] | fhir push --server URL [PATIENT...]"
	@echo "Variables: PYTHON=$(or $(PYTHON),<none found: need python3.11 or python3 >= 3.11>)  BENCH_ARGS='$(BENCH_ARGS)'"

venv: $(STAMP) ## create .venv and install the project with its dev tools (only when needed)

# Reinstalls only when .venv is missing or pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
	  echo "No Python >= 3.11 found (tried python3.11, python3). Install it (Debian: apt-get install python3 python3-venv) or pass PYTHON=..." >&2; \
	  exit 1; fi
	@if [ ! -x $(BIN)/python ]; then \
	  echo "Creating $(VENV) with $(PYTHON)"; \
	  $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install --disable-pip-version-check --no-input --quiet -e '.[dev]'
	@touch $@

demo: venv ## the example cohort through the pipeline (SQLite, embedded broker, one worker); exits when done
	$(BIN)/gistsched demo --data-dir $(DEMO_DIR)

dashboard: venv ## the dashboard, worker and clock on the data `make demo` left (DEMO_DIR); Ctrl-C stops them
	@if [ ! -f $(DEMO_DIR)/demo.env ]; then \
	  echo "No demo data in $(DEMO_DIR): run 'make demo' first" >&2; exit 1; fi
	@cat $(DEMO_DIR)/sign-in.txt
	set -a && . $(DEMO_DIR)/demo.env && set +a && exec $(BIN)/gistsched run --host 127.0.0.1 --port $(DASHBOARD_PORT)

run: venv ## the long-running service on this machine (worker + clock; GIST_* env); Ctrl-C stops it
	$(BIN)/gistsched run

test: venv ## lint, then run the whole test suite; the fault-injection suite (about 9 minutes) last
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest --ignore=tests/reliability
	$(BIN)/pytest tests/reliability

reliability: venv ## the fault-injection suite (tests/reliability; about 9 minutes; docs/reliability.md)
	$(BIN)/pytest tests/reliability -m reliability -s

lint: venv ## ruff (lint and format check) on the code, tests and benchmarks; mypy --strict; the import contracts (lint-imports)
	$(BIN)/ruff check scheduler tasks models notifications web deploy tests benchmarks
	$(BIN)/ruff format --check scheduler tasks models notifications web deploy tests benchmarks
	$(BIN)/mypy --strict scheduler tasks models notifications web
	$(BIN)/lint-imports

bench: bench-plan bench-pipeline bench-notify bench-notices bench-recompute bench-web bench-import bench-scale ## the benchmarks below: planner, pipeline, notifications, writing notices, recompute cost, web, FHIR import, daily tick at scale

bench-plan: venv ## time the planner on synthetic patients (BENCH_ARGS='--patients 1000' or '--profile')
	$(BIN)/python benchmarks/plan_bench.py $(BENCH_ARGS)

bench-pipeline: venv ## 2,000 events submit→reminders, 2 workers, redis, SQLite+PostgreSQL (PIPELINE_BENCH_ARGS)
	$(BIN)/python benchmarks/pipeline_bench.py $(PIPELINE_BENCH_ARGS)

bench-notify: venv ## navigator feed (2,000 patients) and dispatch over 1M reminders, PostgreSQL (NOTIFY_BENCH_ARGS)
	$(BIN)/python benchmarks/notify_bench.py $(NOTIFY_BENCH_ARGS)

bench-notices: venv ## create_due_notices: ms and SQL statements per due reminder, PostgreSQL+SQLite (NOTICES_BENCH_ARGS)
	$(BIN)/python benchmarks/notices_bench.py $(NOTICES_BENCH_ARGS)

bench-recompute: venv ## one patient's recompute: ms and SQL statements, new/unchanged/changed, PostgreSQL+SQLite (RECOMPUTE_BENCH_ARGS)
	$(BIN)/python benchmarks/recompute_bench.py $(RECOMPUTE_BENCH_ARGS)

bench-web: venv ## worklist and patient pages over HTTP, 100,000 patients / 3M reminders, PostgreSQL (WEB_BENCH_ARGS)
	$(BIN)/python benchmarks/web_bench.py $(WEB_BENCH_ARGS)

bench-import: venv ## 300 synthetic FHIR bundles → stored plans beside JSON Lines submit, SQLite+PostgreSQL (IMPORT_BENCH_ARGS)
	$(BIN)/python benchmarks/import_bench.py $(IMPORT_BENCH_ARGS)

bench-scale: venv ## a month of daily ticks, 100,000 patients, 2 workers, redis, PostgreSQL; baseline everyone (SCALE_BENCH_ARGS)
	$(BIN)/python benchmarks/scale_bench.py $(SCALE_BENCH_ARGS)

contract: venv ## check the command line against ../shared/event-contract.md (if the checker exists)
	@if [ -f $(CONTRACT_CHECK) ]; then \
	  $(CONTRACT_CHECK) $(BIN)/gistsched; \
	else \
	  echo "$(CONTRACT_CHECK) not found: skipping the contract check"; fi

clean: ## remove .venv, caches and build output
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache .grimp_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
