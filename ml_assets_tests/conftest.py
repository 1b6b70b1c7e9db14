"""Shared fixtures: a project whose data, warehouse and MLflow store live in tmp_path."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import pytest

from ml_assets_examples.churn import generator

# ML_ASSETS_TEST_CPU_REPORT=FILE: CPU seconds per test (ml_assets_tests/cpu_report.py); the
# garbage collector while the test modules load (ml_assets_tests/gc_tuning.py).
pytest_plugins = ["ml_assets_tests.cpu_report", "ml_assets_tests.gc_tuning"]

START = dt.date(2025, 1, 1)
# The churn example's landing contract (DESIGN.md), written out once as the tests' reference.
CHURN_LANDING_COLUMNS = [
    "customer_id",
    "snapshot_date",
    "signup_date",
    "plan",
    "contract",
    "payment_method",
    "region",
    "monthly_charges",
    "total_charges",
    "support_calls_30d",
    "logins_30d",
    "avg_session_minutes",
    "days_since_last_login",
    "auto_renew",
    "churned",
]


def pytest_collection_modifyitems(config, items):
    """Modules with slow tests (daemons, webservers, subprocesses, model fits) first, each
    module kept together. pytest-xdist hands the tests out in this order, so the long tests
    start early and the many short ones fill the gaps at the end, instead of one worker
    finishing a two-minute test alone."""
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)


def day(i: int) -> dt.date:
    return START + dt.timedelta(days=i)


@pytest.fixture(scope="session")
def mlflow_template(request, tmp_path_factory) -> Path:
    """An initialised MLflow SQLite store that tests copy: creating one costs seconds of
    migrations. Kept in pytest's cache folder per MLflow version, so it is made once, not once
    per session and xdist worker; made in a temporary folder when the cache is off."""
    import mlflow
    from mlflow import MlflowClient

    cache = getattr(request.config, "cache", None)
    if cache is None:
        folder = tmp_path_factory.mktemp("mlflow_template")
    else:
        folder = cache.mkdir(f"mlflow_store_{mlflow.__version__}")
    db = folder / "mlflow.db"
    if not db.exists():
        # Made under a name of its own and renamed into place: another worker may be making
        # it at the same time.
        scratch = folder / f".mlflow.{os.getpid()}.db"
        MlflowClient(tracking_uri=f"sqlite:///{scratch}").search_experiments()
        os.replace(scratch, db)
    return db


@pytest.fixture()
def project(tmp_path, monkeypatch, mlflow_template) -> Path:
    """Point every location of the project at a fresh folder; returns the data folder."""
    data = tmp_path / "data"
    (data / "mlflow").mkdir(parents=True)
    shutil.copyfile(mlflow_template, data / "mlflow" / "mlflow.db")
    monkeypatch.setenv("ML_ASSETS_DATA_DIR", str(data))
    monkeypatch.setenv("ML_ASSETS_DUCKDB_PATH", str(data / "warehouse.duckdb"))
    uri = f"sqlite:///{data / 'mlflow' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # mlflow.set_tracking_uri/set_registry_uri (called by in-process runs) write module
    # globals and environment variables that outlive a test: an earlier test's registry
    # would otherwise answer for a client (or a subprocess) built with this test's URI.
    import mlflow

    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    monkeypatch.setenv("ML_ASSETS_MLFLOW_ARTIFACTS", str(data / "mlflow" / "artifacts"))
    return data


def write_days(landing: Path, days: int, rows: int = 600, first: int = 0, **scenario) -> list[Path]:
    """Generate landing files for days ``first .. first+days-1`` into ``landing``."""
    config = generator.GeneratorConfig(
        start=START, days=first + days, rows_per_day=rows, seed=11, **scenario
    )
    paths = []
    for i in range(first, first + days):
        frame, _ = generator.generate_day(config, day(i))
        paths.append(generator.write_landing_file(frame, landing, day(i)))
    # Landing files older than the sensor's settle time, as if they landed a while ago.
    old = time.time() - 60
    for path in paths:
        os.utime(path, (old, old))
    return paths
