# The README's two commands: `make demo` and `make test`. Each sets everything up first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export EMBREC_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: setup demo test test-fast lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first: a bare `torch` requirement would pull a multi-GB CUDA build
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[all,distributed,test]'
	$(BIN)/pip install --quiet --no-deps torchrec==1.8.0  # its fbgemm-gpu requirement is the CUDA build: the extra has the CPU one
	touch $@

# `. .venv/bin/activate` (as the README says) then finds the same datasets as `make demo` does
$(VENV)/.data-dir: | $(BIN)/python
	@if [ -d "$(EMBREC_DATA_DIR)" ]; then \
	  echo 'export EMBREC_DATA_DIR="$${EMBREC_DATA_DIR:-$(EMBREC_DATA_DIR)}"  # added by make setup' >> $(BIN)/activate; fi
	touch $@

setup: $(VENV)/.installed $(VENV)/.data-dir

demo: setup
	$(BIN)/embrec demo

test: setup
	$(BIN)/python -m pytest -q -n 2

test-fast: setup
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

# ruff (lint and format) and mypy, configured in pyproject.toml
lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) runs .pytest_cache
