"""landing_sensor and drift_sensor.

Sensors are cheap and idempotent: they read the landing folder and Dagster's event log,
never the warehouse (a sensor tick times out after 60 s, and the warehouse may be locked
by a run), and every request carries a run_key so a repeated tick or a daemon restart
never launches a run twice. Decisions are plain functions, tested without a daemon.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DefaultSensorStatus,
    JobDefinition,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from ml_assets import settings
from ml_assets.decisions import (
    DRIFT_EVENTS_PER_TICK,
    drift_event,
    merge_event_batches,
    plan_drift_retrains,
    plan_landing_runs,
    read_landing_cursor,
    retrain_run_config,
)
from ml_assets.landing import list_landing_files

RAW_KEY = AssetKey(["raw", "customer_snapshots"])
DRIFT_KEY = AssetKey(["monitoring", "drift_report"])
PREDICTIONS_KEY = AssetKey(["scoring", "churn_predictions"])
RETRAIN_PRIORITY = "10"


def build_landing_sensor(job: JobDefinition | Any, landing_dir: Path | None = None):
    """The landing sensor for a target job (tests pass another folder)."""

    @sensor(
        name="landing_sensor",
        job=job,
        minimum_interval_seconds=settings.sensor_interval_seconds(),
        default_status=DefaultSensorStatus.RUNNING,
        description="A new or rewritten landing file requests ingest_job for its day.",
    )
    def landing_sensor(context: SensorEvaluationContext):
        folder = landing_dir or settings.landing_dir()
        files = list_landing_files(folder)
        cursor = read_landing_cursor(context.cursor)
        ingested = (
            set(context.instance.get_materialized_partitions(RAW_KEY)) if cursor is None else set()
        )
        plan = plan_landing_runs(
            files,
            cursor,
            ingested,
            time.time(),
            settings.partitions_start(),
            dt.date.today(),
            settle_seconds=settings.landing_settle_seconds(),
        )
        for note in plan.notes:
            context.log.info(note)
        runs = [
            RunRequest(
                run_key=run_key, partition_key=key, tags={"ml_assets/trigger": "landing_file"}
            )
            for key, run_key in plan.requests
        ]
        if not runs:
            return SensorResult(
                skip_reason=SkipReason(f"No new landing files in {folder}"),
                cursor=json.dumps(plan.cursor, sort_keys=True),
            )
        return SensorResult(run_requests=runs, cursor=json.dumps(plan.cursor, sort_keys=True))

    return landing_sensor


def read_drift_events(
    instance,
    after_storage_id: int,
    limit: int = DRIFT_EVENTS_PER_TICK,
    drift_key: AssetKey = DRIFT_KEY,
    predictions_key: AssetKey = PREDICTIONS_KEY,
) -> list[dict]:
    """Drift evidence after a storage id, in event-log order, as plain dicts
    (:func:`ml_assets.decisions.drift_event`).

    Two kinds: input drift (the drift report's ``dataset_drift``) and performance drift (the
    predictions' ``performance_drift``, a significant drop of the realised AUC on a labelled
    day). At most ``limit`` events of each kind are read, so a tick's work stays bounded
    however long the history (reading an event costs about 0.7 ms: each carries its column
    schema); a backlog is worked off over the next ticks
    (:func:`ml_assets.decisions.merge_event_batches`).
    """
    batches = []
    for kind, key in (("input", drift_key), ("performance", predictions_key)):
        result = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, after_storage_id=after_storage_id or None),
            limit=limit,
            ascending=True,
        )
        events = []
        for record in result.records:
            materialization = record.asset_materialization
            metadata = materialization.metadata if materialization else {}
            events.append(
                drift_event(
                    kind,
                    record.storage_id,
                    materialization.partition if materialization else None,
                    {name: value.value for name, value in metadata.items()},
                )
            )
        batches.append((events, bool(result.has_more)))
    return merge_event_batches(batches)


def build_drift_sensor(job: JobDefinition | Any):
    """The drift sensor for a target job (tests pass another)."""

    @sensor(
        name="drift_sensor",
        job=job,
        minimum_interval_seconds=settings.sensor_interval_seconds(),
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Reads drift_report (input drift) and churn_predictions (performance drift) "
            "materializations from the event log; a drift event requests one retrain_job run, "
            "within a cooldown and a budget."
        ),
    )
    def drift_sensor(context: SensorEvaluationContext):
        cursor = json.loads(context.cursor) if context.cursor else {}
        events = read_drift_events(context.instance, int(cursor.get("storage_id", 0)))
        plan = plan_drift_retrains(events, cursor, settings.retrain_policy())
        for note in plan.notes:
            context.log.info(note)
        runs = [
            RunRequest(
                run_key=req["run_key"],
                run_config=retrain_run_config(req),
                tags={
                    "ml_assets/trigger": "drift",
                    "ml_assets/drift_kind": req["kind"],
                    "ml_assets/drift_partition": str(req["partition"]),
                    "ml_assets/drifted_features": ",".join(req["drifted_features"])[:200],
                    "ml_assets/drift_event_storage_id": str(req["storage_id"]),
                    "ml_assets/drift_severity": str(req["severity"]),
                    # Jump the queue: days after the drift should be scored by the new model.
                    "dagster/priority": RETRAIN_PRIORITY,
                },
            )
            for req in plan.requests
        ]
        for req in plan.requests:
            context.log.info(
                f"Drift event on {req['partition']} ({req['drifted_features']}): "
                "requesting retrain_job"
            )
        if not runs:
            return SensorResult(
                skip_reason=SkipReason("No new drift event"), cursor=json.dumps(plan.cursor)
            )
        return SensorResult(run_requests=runs, cursor=json.dumps(plan.cursor))

    return drift_sensor
