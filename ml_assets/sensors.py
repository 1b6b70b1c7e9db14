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
from ml_assets.dataset import DatasetSpec, active_spec
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

RETRAIN_PRIORITY = "10"


def _key(spec: DatasetSpec | None, role: str) -> AssetKey:
    spec = spec if spec is not None else active_spec()
    return AssetKey(list(spec.names.asset_keys[role]))


def build_landing_sensor(
    job: JobDefinition | Any,
    landing_dir: Path | None = None,
    spec: DatasetSpec | None = None,
    partitions_start: dt.date | None = None,
    running: bool = True,
):
    """The landing sensor of a dataset (default: the active spec, the settings' landing
    folder and first partition) for its ingest job; tests pass another folder."""
    spec = spec if spec is not None else active_spec()
    raw_key = _key(spec, "raw")

    @sensor(
        name="landing_sensor",
        job=job,
        minimum_interval_seconds=settings.sensor_interval_seconds(),
        default_status=DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED,
        description=(
            f"A new or rewritten landing file ({spec.landing_pattern_text}) requests "
            f"{job.name} for its day."
        ),
    )
    def landing_sensor(context: SensorEvaluationContext):
        folder = landing_dir or settings.landing_dir()
        files = list_landing_files(folder, spec)
        cursor = read_landing_cursor(context.cursor)
        ingested = (
            set(context.instance.get_materialized_partitions(raw_key)) if cursor is None else set()
        )
        decision = plan_landing_runs(
            files,
            cursor,
            ingested,
            time.time(),
            partitions_start or settings.partitions_start(),
            dt.date.today(),
            settle_seconds=settings.landing_settle_seconds(),
        )
        for note in decision.notes:
            context.log.info(note)
        runs = [
            RunRequest(
                run_key=run_key, partition_key=key, tags={"ml_assets/trigger": "landing_file"}
            )
            for key, run_key in decision.requests
        ]
        if not runs:
            return SensorResult(
                skip_reason=SkipReason(f"No new landing files in {folder}"),
                cursor=json.dumps(decision.cursor, sort_keys=True),
            )
        return SensorResult(run_requests=runs, cursor=json.dumps(decision.cursor, sort_keys=True))

    return landing_sensor


def read_drift_events(
    instance,
    after_storage_id: int,
    limit: int = DRIFT_EVENTS_PER_TICK,
    drift_key: AssetKey | None = None,
    predictions_key: AssetKey | None = None,
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
    drift_key = drift_key or _key(None, "drift")
    predictions_key = predictions_key or _key(None, "predictions")
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


def build_drift_sensor(
    job: JobDefinition | Any, spec: DatasetSpec | None = None, running: bool = True
):
    """The drift sensor of a dataset (default: the active spec) for its retrain job."""
    spec = spec if spec is not None else active_spec()
    names = spec.names
    drift_key, predictions_key = _key(spec, "drift"), _key(spec, "predictions")
    ops = {
        "training_set_op": _key(spec, "training_set").to_python_identifier(),
        "model_op": _key(spec, "model").to_python_identifier(),
    }

    @sensor(
        name="drift_sensor",
        job=job,
        minimum_interval_seconds=settings.sensor_interval_seconds(),
        default_status=DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED,
        description=(
            f"Reads {names.table(names.drift)} (input drift) and "
            f"{names.table(names.predictions)} (performance drift) materializations from the "
            f"event log; a drift event requests one {job.name} run, within a cooldown and a "
            "budget."
        ),
    )
    def drift_sensor(context: SensorEvaluationContext):
        cursor = json.loads(context.cursor) if context.cursor else {}
        events = read_drift_events(
            context.instance,
            int(cursor.get("storage_id", 0)),
            drift_key=drift_key,
            predictions_key=predictions_key,
        )
        decision = plan_drift_retrains(events, cursor, settings.retrain_policy())
        for note in decision.notes:
            context.log.info(note)
        runs = [
            RunRequest(
                run_key=req["run_key"],
                run_config=retrain_run_config(req, **ops),
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
            for req in decision.requests
        ]
        for req in decision.requests:
            context.log.info(
                f"Drift event on {req['partition']} ({req['drifted_features']}): "
                "requesting retrain_job"
            )
        if not runs:
            return SensorResult(
                skip_reason=SkipReason("No new drift event"), cursor=json.dumps(decision.cursor)
            )
        return SensorResult(run_requests=runs, cursor=json.dumps(decision.cursor))

    return drift_sensor
