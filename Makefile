# tfident: two commands do all the set-up on a fresh machine.
#   make demo   build .venv from the lock file, generate a sample batch, run the pipeline on SQLite
#   make check  the fast gate: lint, types, import layers, doctests, unit and property tests (aim: under 90 s; README, "Tests")
#   make test   build .venv from the lock file, then lint, type-check and run the whole test suite
#   make test-cluster   the Spark backend on a standalone master and two workers on loopback (about a minute)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed-stamp
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
# Python's compiled bytecode, kept under .venv/pycache (never in the source tree) and reused by every later
# process: the suite starts hundreds of Python processes (pytest workers, killed runs, CLI subprocesses, Prefect,
# Spark's workers), each importing polars, SQLAlchemy, Splink and tfident, which costs about 7 CPU-s compiled from
# source and 2.7 from bytecode. Set here because PYTHONDONTWRITEBYTECODE=1 in the environment otherwise leaves
# every process compiling from source (the venv is installed without bytecode).
export PYTHONPYCACHEPREFIX := $(abspath $(VENV))/pycache
export PYTHONDONTWRITEBYTECODE :=

DEMO_DIR := demo
DEMO_DB := sqlite:///$(DEMO_DIR)/tfident.db
DEMO_AS_OF := 2026-10-31

.PHONY: install demo check test test-cluster lint format typecheck imports unit bench bench-pipeline bench-linkage bench-profiles bench-review bench-claims bench-incremental bench-spark clean

$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv sync --frozen --all-extras --quiet
	@touch $(STAMP)

install: $(STAMP)

demo: install
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	$(BIN)/tfident synth --households 400 --seed 7 --as-of $(DEMO_AS_OF) --out $(DEMO_DIR)/batch
	$(BIN)/tfident run --extracts $(DEMO_DIR)/batch --as-of $(DEMO_AS_OF) --db $(DEMO_DB)
	$(BIN)/tfident export --run latest --out $(DEMO_DIR)/export --db $(DEMO_DB)
	$(BIN)/tfident evaluate --extracts $(DEMO_DIR)/batch --run latest --db $(DEMO_DB)
	@echo
	@echo "Top of the ranked candidate list (demo/export/candidates.csv):"
	@cut -d, -f2-6 $(DEMO_DIR)/export/candidates.csv | head -n 11 | column -s, -t
	@echo
	@echo "Database:   $(DEMO_DIR)/tfident.db"
	@echo "Exports:    $(DEMO_DIR)/export/candidates.csv, members.csv, persons.csv"
	@echo "Batch:      $(DEMO_DIR)/batch (truth in $(DEMO_DIR)/batch/truth)"

lint: install
	$(BIN)/ruff check src tests flows benchmarks
	$(BIN)/ruff format --check src tests flows benchmarks

format: install
	$(BIN)/ruff format src tests flows benchmarks
	$(BIN)/ruff check --fix src tests flows benchmarks

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

unit: install
	$(BIN)/pytest tests/unit -q

# Three pytest workers on two cores, each taking whole test files (module fixtures are built once), the longest
# files first (tests/conftest.py, LONGEST_FILES): some tests wait (a Prefect scheduler, a browser, PostgreSQL), and
# a third worker uses that time (1.71 cores busy against 1.62 with two; README, "Tests").
# TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 3
# Line coverage of src/tfident over the whole suite, with a floor a few points below the
# measured value (see README, "Tests"); xdist workers' data is combined by pytest-cov.
COVERAGE_FLOOR ?= 91
COVERAGE := --cov=tfident --cov-report=term-missing:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

# The fast tier: unit and property tests (Hypothesis's "check" profile, tests/conftest.py) and the
# docstring examples of src/tfident (pyproject: --doctest-modules).
check: lint typecheck imports
	TFIDENT_HYPOTHESIS_PROFILE=check $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder tests/unit src/tfident

test: lint typecheck imports
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not cluster" $(COVERAGE)

# A Spark standalone master and two workers (separate JVMs, as on a cluster) on loopback, started
# with pyspark's own launcher; the linkage stage on them must give DuckDB's links (docs/spark.md).
# About a minute, most of it starting JVMs: kept out of `make test`; .ci/run runs it after.
test-cluster: install
	$(BIN)/pytest -q -m cluster tests/cluster

bench: bench-pipeline bench-linkage bench-profiles bench-review bench-claims bench-incremental bench-spark

bench-pipeline: install
	$(BIN)/python -m benchmarks.run

bench-linkage: install
	$(BIN)/python -m benchmarks.linkage

bench-profiles: install
	$(BIN)/python -m benchmarks.profiles

bench-review: install
	$(BIN)/python -m benchmarks.review_list

bench-claims: install
	$(BIN)/python -m benchmarks.claims

# full vs incremental month at 100k records, churn 1%, 5%, 20%; add RECORDS="1000000 3000000" for the larger sizes
RECORDS ?= 100000
bench-incremental: install
	$(BIN)/python -m benchmarks.incremental --records $(RECORDS)

# the linkage stage on DuckDB, Spark local[2] and a Spark standalone master + two workers on loopback
# (benchmarks/results/spark.md); 1M records take about 45 minutes here; SPARK_RECORDS="1000000 3000000" adds 3M (hours)
SPARK_RECORDS ?= 1000000
bench-spark: install
	$(BIN)/python -m benchmarks.spark --sizes $(SPARK_RECORDS)

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
