"""A small, fast lifecycle with a drift retrain, for the lineage and UI tests.

Fourteen days of 400 rows with a covariate shift from day 11: days 0-10 are ingested as one
range run, a first model is trained and promoted, day 11 is ingested and drifts, the real
drift_sensor turns that into a retrain request whose tags the retrain run carries, and days
12-13 are scored by the retrained champion. Runs go through ``materialize`` with the asset
checks, into whatever instance the caller passes (an ephemeral one, or the one in a temporary
DAGSTER_HOME that a webserver then reads).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import AssetSelection, DagsterInstance, build_sensor_context, materialize

from ml_assets import settings
from ml_assets.definitions import ALL_ASSETS, ALL_CHECKS, build_resources, defs, retrain_job
from ml_assets.sensors import build_drift_sensor
from ml_assets_tests.conftest import day, write_days

INGEST = AssetSelection.assets(["raw", "customer_snapshots"], ["features", "customer_features"])
DAILY = INGEST | AssetSelection.assets(
    ["monitoring", "drift_report"], ["scoring", "churn_predictions"]
)
RETRAIN = AssetSelection.assets(
    ["training", "training_set"],
    ["training", "churn_model"],
    ["evaluation", "evaluation_report"],
    ["registry", "champion_model"],
)
DRIFT_DAY = 11
DAYS = 14
ROWS = 400

# A light model (no search); a wide non-inferiority margin so the drift retrain is promoted
# whatever the bootstrap says, and the last days are scored by the retrained model.
LIGHT = {
    "ops": {
        "training__training_set": {"config": {"window_days": 10}},
        "training__churn_model": {"config": {"max_iter": 60, "search": False}},
        "registry__champion_model": {"config": {"auc_margin": 0.5, "min_auc": 0.6}},
    }
}


@dataclass
class Lifecycle:
    data: Path
    drift_run_tags: dict[str, str]
    drift_retrain_run_id: str
    root: Path | None = None
    home: Path | None = None
    env: dict[str, str] | None = None


def _run(selection, instance, partition_key=None, days=None, tags=None):
    all_tags = dict(tags or {})
    if days:
        all_tags.update(
            {
                "dagster/asset_partition_range_start": days[0].isoformat(),
                "dagster/asset_partition_range_end": days[1].isoformat(),
            }
        )
    result = materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=selection,
        resources=build_resources(),
        instance=instance,
        partition_key=partition_key,
        tags=all_tags,
        run_config=LIGHT if selection is RETRAIN else None,
    )
    assert result.success
    return result


def run_small_lifecycle(data: Path, instance: DagsterInstance) -> Lifecycle:
    """Build the lifecycle into ``data`` (the project's data folder) and ``instance``."""
    write_days(
        data / "landing",
        DAYS,
        rows=ROWS,
        scenario="covariate",
        drift_start=day(DRIFT_DAY),
        drift_columns=("monthly_charges", "days_since_last_login"),
        drift_magnitude=1.5,
    )
    _run(INGEST, instance, days=(day(0), day(DRIFT_DAY - 1)))
    _run(RETRAIN, instance, tags={"ml_assets/trigger": "bootstrap"})
    _run(DAILY, instance, partition_key=day(DRIFT_DAY).isoformat())

    # The real drift sensor reads the drift report's materialization and asks for a retrain.
    sensor = build_drift_sensor(retrain_job)
    context = build_sensor_context(
        instance=instance, cursor=None, repository_def=defs.get_repository_def()
    )
    requests = sensor.evaluate_tick(context).run_requests
    assert len(requests) == 1, requests
    tags = dict(requests[0].tags)
    retrain = _run(RETRAIN, instance, tags=tags)
    for i in range(DRIFT_DAY + 1, DAYS):
        _run(DAILY, instance, partition_key=day(i).isoformat())
    return Lifecycle(data=data, drift_run_tags=tags, drift_retrain_run_id=retrain.run_id)


@pytest.fixture(scope="session")
def served_lifecycle(tmp_path_factory, mlflow_template) -> Lifecycle:
    """The lifecycle once per session, in its own data folder and DAGSTER_HOME (the instance a
    webserver can then serve); ``env`` points the project at both. Tests only read it."""
    root = tmp_path_factory.mktemp("lifecycle")
    data, home = root / "data", root / "dagster_home"
    (data / "mlflow").mkdir(parents=True)
    home.mkdir()
    shutil.copyfile(mlflow_template, data / "mlflow" / "mlflow.db")
    shutil.copyfile(settings.PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "ML_ASSETS_DATA_DIR": str(data),
        "ML_ASSETS_DUCKDB_PATH": str(data / "warehouse.duckdb"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{data / 'mlflow' / 'mlflow.db'}",
        "ML_ASSETS_MLFLOW_ARTIFACTS": str(data / "mlflow" / "artifacts"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        instance = DagsterInstance.get()
        try:
            life = run_small_lifecycle(data, instance)
        finally:
            instance.dispose()
    life.root, life.home, life.env = root, home, env
    return life
