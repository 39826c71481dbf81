# Two commands do everything on a fresh machine:
#   make demo   set up, start a local Anvil, deploy, and play the battery loop
#   make test   set up and run every test (forge, artifacts, gas, Python, CLI, brownie)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast test-forge test-python test-brownie test-slither bench artifacts check-artifacts check-fmt lint

setup: $(VENV)/.ok node_modules/.ok

$(VENV)/.ok: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,lint]'
	touch $@

# The Foundry packages ship their binaries as platform packages: no install scripts are needed.
node_modules/.ok: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

demo: setup
	$(BIN)/python scripts/demo.py

artifacts: node_modules/.ok
	node scripts/compile.mjs

check-artifacts: node_modules/.ok
	node scripts/compile.mjs --check

test: setup lint check-artifacts test-forge test-slither test-python test-brownie

test-forge: node_modules/.ok check-fmt
	bash scripts/forge-test.sh

# Solidity formatting, by the [fmt] settings in foundry.toml: `$(FORGE) fmt contracts` fixes what this reports.
# The platform binary (see scripts/forge-test.sh), looked up when the recipe runs, after `npm ci`.
FORGE = $(firstword $(wildcard node_modules/@foundry-rs/forge-*/bin/forge))
check-fmt: node_modules/.ok
	$(FORGE) fmt --check contracts

# Python style (ruff lint and format), types (mypy on ledger/, settings in pyproject.toml) and the
# layers contract (import-linter: no upward imports inside ledger/, the CLI uses the public API only).
lint: setup
	$(BIN)/ruff check ledger cli scripts tests
	$(BIN)/ruff format --check ledger cli scripts tests
	$(BIN)/mypy
	$(BIN)/lint-imports

test-python: setup
	$(BIN)/python -m pytest

# Static analysis in its own venv: fails on any high or medium finding not answered in docs/security.md.
test-slither: node_modules/.ok
	bash scripts/slither.sh

test-brownie: node_modules/.ok
	bash scripts/test-brownie.sh

# Benchmarks (scripts that print figures, not tests): gas, bulk ingest, replay, queries, signatures.
# Every figure of docs/performance.md in one run (~25 min on 2 cores), the growth chart with matplotlib.
bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python scripts/bench_all.py

# Unit tests only: no chain, no browser, a few seconds.
test-fast: setup
	$(BIN)/python -m pytest tests/unit -q
