"""Jobs and the weekly retraining schedule."""

from __future__ import annotations

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

from ml_assets.assets.common import daily_partitions
from ml_assets.team.k8s import k8s_run_tags

# The live lifecycle runs one run at a time, in priority order (config/dagster.yaml limits
# this tag to 1): a drift event's retrain (dagster/priority 10) goes before the days queued
# after it, so they are scored by the new champion. Backfills (other jobs) run in parallel.
LIFECYCLE_TAGS = {"ml_assets/serial": "lifecycle"}

RAW = AssetSelection.assets(["raw", "customer_snapshots"])
FEATURES = AssetSelection.assets(["features", "customer_features"])
DRIFT = AssetSelection.assets(["monitoring", "drift_report"])
PREDICTIONS = AssetSelection.assets(["scoring", "churn_predictions"])
RETRAIN = AssetSelection.assets(
    ["training", "training_set"],
    ["training", "churn_model"],
    ["evaluation", "evaluation_report"],
    ["registry", "champion_model"],
)

ingest_job = define_asset_job(
    "ingest_job",
    selection=RAW | FEATURES | DRIFT | PREDICTIONS,
    partitions_def=daily_partitions,
    description="One day: validate the landing file, build features, report drift, score.",
    tags={**LIFECYCLE_TAGS, **k8s_run_tags("ingest_job")},
)

retrain_job = define_asset_job(
    "retrain_job",
    selection=RETRAIN,
    description="Training set, model, evaluation and the promotion gate.",
    tags={**LIFECYCLE_TAGS, **k8s_run_tags("retrain_job")},
)

weekly_retrain_schedule = ScheduleDefinition(
    name="weekly_retrain_schedule",
    job=retrain_job,
    cron_schedule="0 4 * * 1",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Retrain every Monday 04:00 UTC, drift or not, to keep up with slow change.",
)
