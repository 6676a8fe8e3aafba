# The two commands of the README: `make demo` (set up, simulate a cluster, ingest, summarise)
# and `make test` (the whole suite; .ci/run calls exactly this).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench lint notebooks clean

$(BIN)/auditlake: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/auditlake
	$(BIN)/auditlake demo

test: $(BIN)/auditlake
	$(BIN)/python -m pytest -q

notebooks: $(BIN)/auditlake
	$(BIN)/python -m pip install --quiet -e '.[notebooks]'
	test -d lake || $(BIN)/auditlake demo
	$(BIN)/jupyter lab notebooks/

bench: $(BIN)/auditlake
	$(BIN)/python benchmarks/ingest_benchmark.py

lint: $(BIN)/auditlake
	$(BIN)/ruff check auditlake tests benchmarks

clean:
	rm -rf $(VENV) lake demo-audit-log
