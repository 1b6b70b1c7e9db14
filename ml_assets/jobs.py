"""Jobs and the weekly retraining schedule of a dataset, built from its spec's names."""

from __future__ import annotations

from dataclasses import dataclass

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    JobDefinition,
    ScheduleDefinition,
    define_asset_job,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from ml_assets.assets.common import Wiring
from ml_assets.team.k8s import k8s_run_tags

# The live lifecycle runs one run at a time, in priority order (config/dagster.yaml limits
# this tag to 1): a drift event's retrain (dagster/priority 10) goes before the days queued
# after it, so they are scored by the new champion. Backfills (other jobs) run in parallel.
LIFECYCLE_TAGS = {"ml_assets/serial": "lifecycle"}
INGEST_ROLES = ("raw", "features", "drift", "predictions")
RETRAIN_ROLES = ("training_set", "model", "evaluation", "champion")


@dataclass(frozen=True)
class Jobs:
    ingest: UnresolvedAssetJobDefinition | JobDefinition
    retrain: UnresolvedAssetJobDefinition | JobDefinition
    weekly_retrain: ScheduleDefinition


def build_jobs(w: Wiring, running: bool = True) -> Jobs:
    """``ingest_job`` (one day: validate, features, drift, score), ``retrain_job`` (training
    set, model, evaluation, gate) and ``weekly_retrain_schedule`` of one dataset. Names are
    the same in every code location (one location per dataset)."""
    ingest = define_asset_job(
        "ingest_job",
        selection=AssetSelection.assets(*(w.key(role) for role in INGEST_ROLES)),
        partitions_def=w.partitions,
        description="One day: validate the landing file, build features, report drift, score.",
        tags={**LIFECYCLE_TAGS, **k8s_run_tags("ingest_job")},
    )
    retrain = define_asset_job(
        "retrain_job",
        selection=AssetSelection.assets(*(w.key(role) for role in RETRAIN_ROLES)),
        description="Training set, model, evaluation and the promotion gate.",
        tags={**LIFECYCLE_TAGS, **k8s_run_tags("retrain_job")},
    )
    schedule = ScheduleDefinition(
        name="weekly_retrain_schedule",
        job=retrain,
        cron_schedule="0 4 * * 1",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING if running else DefaultScheduleStatus.STOPPED,
        description="Retrain every Monday 04:00 UTC, drift or not, to keep up with slow change.",
    )
    return Jobs(ingest=ingest, retrain=retrain, weekly_retrain=schedule)
