# The two commands of the README: `make demo` (set up, simulate a cluster, ingest, summarise, PCI-DSS report)
# and `make test` (lint, type check and the whole suite; .ci/run calls exactly this).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test browser postgres java bench bench-verify bench-objectstore bench-scaleout bench-detect objectstore-demo fuzz lint notebooks clean

$(BIN)/auditlake: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/auditlake
	$(BIN)/auditlake demo
	$(BIN)/auditlake report pci-dss --since 7d --out reports/ --format html,md,csv,json

test: $(BIN)/auditlake browser postgres java lint
	$(BIN)/python -m pytest -q -n auto --dist loadfile

# The report test renders HTML in Debian's chromium: installed here when we are root on Debian/Ubuntu;
# elsewhere that one test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; }; }; } || \
	  echo "chromium is not installed: the headless-browser report test will skip"

# The Iceberg catalog test runs a real PostgreSQL server (Debian's postgresql, started by the test on loopback):
# installed here when we are root on Debian/Ubuntu; elsewhere that test skips and says why.
postgres:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; }; }; } || \
	  echo "PostgreSQL is not installed: the Iceberg PostgreSQL-catalog test will skip"

# The Spark parity tests (tests/test_spark.py) run pyspark in local mode, which needs a Java runtime: installed here
# when we are root on Debian/Ubuntu; elsewhere those tests skip and say why.
java:
	@command -v java >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null 2>&1; }; }; } || \
	  echo "java is not installed: the Spark tests will skip"

# Jupyter runs each notebook in notebooks/, so the lake is handed over as an absolute path: AUDITLAKE_LAKE when
# set, else ./lake (the demo's, simulated here when missing, as `make demo` does; never a lake in notebooks/).
notebooks: $(BIN)/auditlake
	$(BIN)/python -m pip install --quiet -e '.[notebooks]'
	$(if $(AUDITLAKE_LAKE),,test -f lake/_manifest/manifest.json || $(BIN)/auditlake demo)
	AUDITLAKE_LAKE='$(abspath $(or $(AUDITLAKE_LAKE),lake))' $(BIN)/jupyter lab notebooks/

bench: $(BIN)/auditlake
	$(BIN)/python benchmarks/ingest_benchmark.py

bench-verify: $(BIN)/auditlake
	$(BIN)/python benchmarks/verify_benchmark.py

# A real S3 server (SeaweedFS from PyPI, on loopback, stopped after): the demo's log read from a bucket, and the benchmark.
objectstore-demo: $(BIN)/auditlake
	$(BIN)/python benchmarks/objectstore_benchmark.py --demo

bench-objectstore: $(BIN)/auditlake
	$(BIN)/python benchmarks/objectstore_benchmark.py

# Issue 18: the same saved questions on lakes of 1 M, 10 M and 50 M events (DuckDB, local disk); the lakes stay in
# benchmarks/work/scaleout-* (≈ 2 GB) so a rerun only asks the questions again.
bench-scaleout: $(BIN)/auditlake
	$(BIN)/python benchmarks/scaleout_benchmark.py

# Issue 19: every detection over the 10 M-event lake of bench-scaleout (built when missing), against ≤ 20 s and < 1 GiB.
bench-detect: $(BIN)/auditlake
	$(BIN)/python benchmarks/detect_benchmark.py

fuzz: $(BIN)/auditlake
	$(BIN)/python benchmarks/fuzz_ingest.py --examples 10000

lint: $(BIN)/auditlake
	$(BIN)/ruff check auditlake tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) lake demo-audit-log reports
