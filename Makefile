# agentdeck: `make run` serves on the embedded default, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml sdk/python/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]' -e sdk/python
	touch $@ $(VENV)/.run-installed

# The repository's own data directory, so a clone keeps its database and secrets to itself.
run: $(VENV)/.run-installed
	AGENTDECK_DATA_DIR=$(CURDIR)/.agentdeck $(BIN)/agentdeck dev

lint: $(VENV)/.dev-installed
	$(BIN)/sqlfluff lint sql
	$(BIN)/ruff check api tests bench sdk
	$(BIN)/mypy
	$(BIN)/mypy sdk/python/agentdeck

test: lint
	$(BIN)/python -m tests.support.ensure_pgtap
	$(BIN)/python -m tests.support.ensure_chromium
	$(BIN)/python -m pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench.ingest

clean:
	rm -rf $(VENV) .agentdeck
