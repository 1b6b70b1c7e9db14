"""Definitions of one dataset, built from its spec: what each code location loads.

``build_definitions(spec)`` makes the assets, checks, jobs, schedule, sensors and resources
of one dataset. ``ml_assets/definitions.py`` builds the default location's ``defs`` from the
active spec; ``ml_assets_examples/flights/definitions.py`` builds the flights location with a
key prefix and its own data folder (see ``workspace.yaml``). Nothing here is built at import
time, so a location imports only the dataset it serves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from dagster import Definitions, in_process_executor

from ml_assets import settings
from ml_assets.assets import build_assets
from ml_assets.assets.checks import build_checks
from ml_assets.assets.common import Wiring, build_daily_partitions
from ml_assets.assets.raw import LandingResource
from ml_assets.dataset import DatasetSpec, active_spec
from ml_assets.jobs import build_jobs
from ml_assets.resources import (
    DuckDBWarehouseIOManager,
    MlflowResource,
    ModelRegistryIOManager,
    WarehouseResource,
)
from ml_assets.sensors import build_drift_sensor, build_landing_sensor


def build_resources(
    spec: DatasetSpec | None = None, paths: settings.DataPaths | None = None
) -> dict:
    """Resources of a dataset from its paths (default: settings, environment overrides
    applied at load time) and its MLflow names."""
    spec = spec if spec is not None else active_spec()
    paths = paths or settings.data_paths()
    database = paths.warehouse or str(paths.duckdb_path)
    mlflow = MlflowResource(
        tracking_uri=paths.mlflow_tracking_uri,
        artifact_root=paths.mlflow_artifact_root,
        experiment_name=spec.names.experiment_name,
        model_name=spec.names.model_name,
    )
    return {
        "io_manager": DuckDBWarehouseIOManager(database=database),
        "warehouse": WarehouseResource(database=database),
        "mlflow": mlflow,
        "model_io_manager": ModelRegistryIOManager(mlflow=mlflow),
        "landing": LandingResource(directory=str(paths.landing_dir)),
    }


def build_definitions(
    spec: DatasetSpec,
    prefix: str | None = None,
    data_dir: Path | None = None,
    partitions_start: dt.date | None = None,
    running: bool = True,
) -> Definitions:
    """The Definitions of one dataset.

    ``prefix`` goes in front of every asset key (a dataset loaded beside the default one;
    tables stay ``<group>.<name>`` in its own warehouse). ``data_dir`` puts all its files
    (landing, warehouse, MLflow) under another folder; default: the settings' paths.
    ``partitions_start`` is its first daily partition (default ``ML_ASSETS_PARTITIONS_START``).
    ``running``: whether its sensors and schedule run by default (a location loaded beside
    the default one starts them stopped, so a daemon started for the default dataset never
    ingests the other's files unless someone turns them on in the UI).
    """
    if prefix is not None:
        spec = dataclasses.replace(spec, prefix=prefix)
    paths = settings.data_paths(data_dir, partitions_start)
    wiring = Wiring(spec=spec, partitions=build_daily_partitions(paths.partitions_start))
    jobs = build_jobs(wiring, running)
    return Definitions(
        assets=build_assets(wiring),
        asset_checks=build_checks(wiring),
        jobs=[jobs.ingest, jobs.retrain],
        schedules=[jobs.weekly_retrain],
        sensors=[
            build_landing_sensor(
                jobs.ingest,
                paths.landing_dir if data_dir is not None else None,
                spec,
                paths.partitions_start if data_dir is not None or partitions_start else None,
                running,
            ),
            build_drift_sensor(jobs.retrain, spec, running),
        ],
        resources=build_resources(spec, paths),
        # One process per run: steps share the warehouse file, and DuckDB allows one writing
        # process per file; it also saves a process start per step.
        executor=in_process_executor,
    )
