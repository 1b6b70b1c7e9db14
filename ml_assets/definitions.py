"""The one Definitions object of the code location."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from ml_assets import settings
from ml_assets.assets import evaluation, features, monitoring, raw, registry, scoring, training
from ml_assets.assets.checks import ALL_CHECKS
from ml_assets.assets.raw import LandingResource
from ml_assets.jobs import ingest_job, retrain_job, weekly_retrain_schedule
from ml_assets.resources import (
    DuckDBWarehouseIOManager,
    MlflowResource,
    ModelRegistryIOManager,
    WarehouseResource,
)
from ml_assets.sensors import build_drift_sensor, build_landing_sensor


def build_resources() -> dict:
    """Resources from settings (environment overrides applied at load time)."""
    database = settings.warehouse()
    mlflow = MlflowResource(
        tracking_uri=settings.mlflow_tracking_uri(),
        artifact_root=settings.mlflow_artifact_root(),
    )
    return {
        "io_manager": DuckDBWarehouseIOManager(database=database),
        "warehouse": WarehouseResource(database=database),
        "mlflow": mlflow,
        "model_io_manager": ModelRegistryIOManager(mlflow=mlflow),
        "landing": LandingResource(directory=str(settings.landing_dir())),
    }


ALL_ASSETS = [
    raw.customer_snapshots,
    features.customer_features,
    training.training_set,
    training.churn_model,
    evaluation.evaluation_report,
    registry.champion_model,
    scoring.churn_predictions,
    monitoring.drift_report,
]

defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    jobs=[ingest_job, retrain_job],
    schedules=[weekly_retrain_schedule],
    sensors=[build_landing_sensor(ingest_job), build_drift_sensor(retrain_job)],
    resources=build_resources(),
    # One process per run: steps share the warehouse file, and DuckDB allows one writing
    # process per file; it also saves a process start per step.
    executor=in_process_executor,
)
