# herder's developer entry points. CI runs `make test` (see .ci/run).
#
# Rules: every target works from a clean clone on a fresh machine, as root, with only PyPI and
# Debian's packages reachable; `.venv` is created and refreshed here, never by hand.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; pyproject.toml newer than it means "install again".
STAMP := $(VENV)/.herder-installed
LINT_PATHS := src tests bench examples
TYPED_SCRIPTS := $(wildcard bench/*.py bench/apps/*.py examples/*.py)

.PHONY: help venv run lint format types test nginx install-check bench bench-smoke \
	bench-faults bench-herd bench-herd-quick bench-parsers bench-hotpath docs docs-check clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install herder editable with the test extra

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

run: venv ## serve examples/demo.py with 2 workers on 127.0.0.1:8000
	$(BIN)/herder --chdir examples -w 2 -b 127.0.0.1:8000 demo:app

lint: venv ## ruff check and ruff format --check
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

format: venv ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

types: venv ## mypy --strict on the package (and on the bench and example scripts)
	$(BIN)/mypy --strict src
	$(BIN)/mypy --strict $(TYPED_SCRIPTS)

test: venv lint types nginx ## lint, types, the whole test suite, then the benchmark smoke run (CI)
	$(BIN)/pytest
	$(MAKE) --no-print-directory bench-smoke

nginx: ## install nginx (Debian package) when missing: the integration tests run a real one
	scripts/ensure-nginx

install-check: ## pip install . (not editable) in a throwaway venv: console script, py.typed
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp" build' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check .; \
	test -x "$$tmp/venv/bin/herder"; \
	"$$tmp/venv/bin/python" -c 'import importlib.resources as r, sys; \
	  sys.exit(not r.files("herder").joinpath("py.typed").is_file())'; \
	echo "install-check: ok (herder script and py.typed installed)"

bench: ## the benchmark suite vs Gunicorn, uWSGI, Granian (full: ~30 min; writes bench/results, README)
	$(PYTHON) bench/suite.py

bench-smoke: ## the suite as a smoke run: every server and scenario, 1 s each, output in /tmp
	$(PYTHON) bench/suite.py --quick

bench-faults: venv ## fault scenarios under load (HUP, USR2, kill -9, TTIN/TTOU, harakiri...)
	$(BIN)/python bench/faults.py

bench-herd: ## accept strategies x worker classes, and the I/O-bound comparison (full, long)
	$(PYTHON) bench/herd.py

bench-herd-quick: ## the same as a smoke run (2 s per run)
	$(PYTHON) bench/herd.py --quick

bench-parsers: venv ## head parsers in process: parse_head against the httptools accelerator
	$(BIN)/python bench/parsers.py

bench-hotpath: venv ## the event worker's cost per request in process: µs, calls, stages
	$(BIN)/python bench/hotpath.py

docs: venv ## regenerate docs/settings.md from the settings declarations
	$(BIN)/python -m herder.config.docs > docs/settings.md.tmp
	mv docs/settings.md.tmp docs/settings.md

docs-check: venv ## fail when docs/settings.md is out of date
	$(BIN)/python -m herder.config.docs | diff -u docs/settings.md - \
	  || { echo "docs/settings.md is stale: run 'make docs'"; exit 1; }

clean: ## remove caches and build output
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis .coverage .coverage.*
	find . -name __pycache__ -type d -not -path './.venv/*' -not -path './bench/.venv/*' \
	  -prune -exec rm -rf {} +

distclean: clean ## also remove .venv and bench/.venv
	rm -rf $(VENV) bench/.venv
