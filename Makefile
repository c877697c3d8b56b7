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

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/agentdeck dev

lint: $(VENV)/.dev-installed
	$(BIN)/sqlfluff lint sql
	$(BIN)/ruff check api tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m tests.support.ensure_pgtap
	$(BIN)/python -m tests.support.ensure_chromium
	$(BIN)/python -m pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench.ingest

clean:
	rm -rf $(VENV) .agentdeck
