# ml_assets: `make run` runs the whole lifecycle, `make test` the test suite.
# Both create the virtualenv and install on first use; nothing else needs installing.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
export DAGSTER_HOME ?= $(CURDIR)/dagster_home
MLFLOW_URI = $(or $(MLFLOW_TRACKING_URI),sqlite:///$(CURDIR)/data/mlflow/mlflow.db)
UI_PORT ?= 3000
MLFLOW_PORT ?= 5000
# One server worker is plenty for a local UI and starts in seconds (MLflow's default, 4, takes a
# minute on a busy 2-core machine).
MLFLOW_WORKERS ?= 1
SERVE_PORT ?= 5001

.PHONY: help venv instance run team-up team-down test lint format ui mlflow-ui serve rollback drift-eval generate clean bench-deps bench

help:
	@echo "make run        the whole lifecycle on the committed sample, with the Dagster daemon"
	@echo "make run PROFILE=team  the same on the team stack (after make team-up)"
	@echo "make team-up    PostgreSQL, S3 (moto) and MLflow servers on 127.0.0.1; writes team.env"
	@echo "make team-down  stop them"
	@echo "make test       the test suite (ruff, then pytest)"
	@echo "make ui         Dagster UI on http://127.0.0.1:$(UI_PORT) over the same instance and data"
	@echo "make mlflow-ui  MLflow UI on http://127.0.0.1:$(MLFLOW_PORT)"
	@echo "make serve      REST scoring of raw rows by the champion on http://127.0.0.1:$(SERVE_PORT)"
	@echo "make rollback   make the previous champion the champion again"
	@echo "make drift-eval drift detection against ground truth, ours and Evidently (bench/drift_eval.py,"
	@echo "                about 5 min of CPU; EVIDENTLY=full adds Evidently at 100k rows/day, ~30 min)"
	@echo "make bench-deps install the optional bench extra (Evidently) into .venv"
	@echo "make bench      the benchmark table (bench/run.py, about 15 min); writes bench/results.json"
	@echo "make generate   regenerate the committed sample in data/landing"
	@echo "make clean      remove the warehouse, MLflow store and Dagster instance (keeps landing files)"

$(STAMP): setup.py pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,team]"
	@touch $(STAMP)

venv: $(STAMP)

# Optional benchmark dependencies (setup.py extra "bench": Evidently, the drift tool we compare
# against); they resolve beside the pins above without moving them.
$(BENCH_STAMP): $(STAMP) setup.py
	$(BIN)/python -m pip install --quiet -e ".[dev,team,bench]"
	@touch $(BENCH_STAMP)

bench-deps: $(BENCH_STAMP)

instance:
	@mkdir -p "$(DAGSTER_HOME)"
	@test -f "$(DAGSTER_HOME)/dagster.yaml" || cp config/dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"

# PROFILE=team runs on the servers of `make team-up` (variables from team.env); the default
# profile uses the DuckDB file, MLflow on SQLite and the instance in dagster_home/.
PROFILE ?= local
ifeq ($(PROFILE),team)
run: venv
	@test -f team.env || { echo "team.env is missing: run make team-up first."; exit 1; }
	set -a; . ./team.env; set +a; $(BIN)/ml-assets demo
else
run: venv instance
	$(BIN)/ml-assets demo
endif

# PostgreSQL (the machine's binaries; apt-get installs them if missing), moto S3 and an MLflow
# server on free 127.0.0.1 ports; state and data in .team/, variables in team.env (gitignored).
team-up: venv
	$(BIN)/python -m ml_assets.team.stack up

team-down: venv
	$(BIN)/python -m ml_assets.team.stack down

test: venv
	$(BIN)/ruff check ml_assets ml_assets_tests bench
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check ml_assets ml_assets_tests bench
	$(BIN)/ruff format --check ml_assets ml_assets_tests bench

format: venv
	$(BIN)/ruff format ml_assets ml_assets_tests

ui: venv instance
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

mlflow-ui: venv
	@mkdir -p data/mlflow
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/mlflow ui --backend-store-uri "$(MLFLOW_URI)" \
		--host 127.0.0.1 --port $(MLFLOW_PORT) --workers $(MLFLOW_WORKERS)

serve: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" MLFLOW_TRACKING_URI="$(MLFLOW_URI)" $(BIN)/mlflow models serve \
		-m models:/churn_model@champion --env-manager local -h 127.0.0.1 -p $(SERVE_PORT)

rollback: venv
	$(BIN)/ml-assets rollback

# EVIDENTLY=quick (default: Evidently on 3 days per scenario at 1,000 rows/day), full (also
# 100,000 rows/day, ~30 min) or off.
EVIDENTLY ?= quick
drift-eval: bench-deps
	$(BIN)/python -m bench.drift_eval --evidently $(EVIDENTLY)

bench: bench-deps
	$(BIN)/python -m bench.run

generate: venv
	$(BIN)/ml-assets generate --start 2025-01-01 --days 60 --rows-per-day 1000 --seed 42 \
		--scenario covariate --drift-start 2025-02-24 \
		--drift-columns monthly_charges,days_since_last_login --drift-magnitude 1.0

clean:
	rm -rf "$(DAGSTER_HOME)" data/warehouse.duckdb data/warehouse.duckdb.wal data/mlflow
