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
from dataclasses import dataclass, field
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
from ml_assets.landing import LandingFile, LandingFileError, check_partition_day, list_landing_files

RAW_KEY = AssetKey(["raw", "customer_snapshots"])
DRIFT_KEY = AssetKey(["monitoring", "drift_report"])
PREDICTIONS_KEY = AssetKey(["scoring", "churn_predictions"])
# A file modified less than this long ago may still be being written: wait a tick
# (the sensor reads ML_ASSETS_LANDING_SETTLE_SECONDS; this is its default).
SETTLE_SECONDS = settings.DEFAULT_LANDING_SETTLE_SECONDS
RETRAIN_PRIORITY = "10"
# Drift and performance events read per kind per tick (read_drift_events).
DRIFT_EVENTS_PER_TICK = 50


@dataclass
class LandingPlan:
    requests: list[tuple[str, str]]  # (partition key, run key)
    cursor: dict
    notes: list[str]


def read_landing_cursor(text: str | None) -> dict | None:
    """The landing sensor's cursor: ``{"files": {file name: mtime in ns}}``, or None.

    Cursors written before the per-file form held one float, the newest modification time
    handled; it is read as ``{"files": {}, "before": that float}`` and replaced on the next
    tick.
    """
    if not text:
        return None
    try:
        return {"files": {}, "before": float(text)}
    except ValueError:
        pass
    cursor = json.loads(text)
    return {"files": {str(k): int(v) for k, v in dict(cursor.get("files", {})).items()}}


def plan_landing_runs(
    files: list[LandingFile],
    cursor: dict | None,
    already_ingested: set[str],
    now: float,
    partitions_start: dt.date,
    today: dt.date,
    settle_seconds: float = SETTLE_SECONDS,
) -> LandingPlan:
    """Which landing files need an ingest run.

    The cursor remembers, per file name, the modification time it was handled at. A file is
    new when its name is not there or its modification time differs (rewritten, or moved in
    with an older time: ``mv`` and ``rsync -t`` keep the source's time). A single
    "newest time handled" would lose such a file, and also a file created while a tick is
    between listing the folder and reading the times of the files it listed.

    A file whose modification time is less than ``settle_seconds`` old may still be being
    written (every write moves the time): it gets no run on this tick and is not recorded,
    so a later tick, once the file has been still long enough, requests it. A writer that
    stalls longer than that is caught by the loader, which refuses a file whose last line is
    cut off; the completed file then gets a new time and a new run.

    With no cursor (first tick), days already ingested are recorded without a run, so
    turning the sensor on over a backfilled history does not re-run it. Names that left the
    folder are dropped from the cursor.
    """
    handled = dict(cursor["files"]) if cursor else {}
    before = cursor.get("before") if cursor else None
    requests, notes, kept = [], [], {}
    for landing_file in files:
        name = landing_file.path.name
        mtime_ns = landing_file.path.stat().st_mtime_ns  # one stat a file
        if handled.get(name) == mtime_ns or (
            name not in handled and before is not None and mtime_ns / 1e9 <= before
        ):
            kept[name] = mtime_ns
            continue
        if now - mtime_ns / 1e9 < settle_seconds:
            notes.append(f"{name}: still settling, will look again")
            if name in handled:
                kept[name] = handled[name]
            continue
        kept[name] = mtime_ns
        key = landing_file.partition_key
        try:
            check_partition_day(landing_file.day, partitions_start, today)
        except LandingFileError as exc:
            notes.append(f"{name}: refused: {exc}")
            continue
        if cursor is None and key in already_ingested:
            continue
        requests.append((key, f"{name}:{mtime_ns // 1000}"))
    return LandingPlan(requests=requests, cursor={"files": kept}, notes=notes)


@dataclass(frozen=True)
class RetrainPolicy:
    """How often drift may trigger a retrain, in days of data (partition dates).

    Days of data, not wall-clock time, so a backfill of a month behaves like the month did.
    """

    cooldown_days: int = 7
    budget: int = 4
    budget_window_days: int = 30


@dataclass
class DriftPlan:
    requests: list[dict]
    cursor: dict
    notes: list[str] = field(default_factory=list)


def _day(partition: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(partition)[:10])
    except ValueError:
        return None


def plan_drift_retrains(events: list[dict], cursor: dict, policy: RetrainPolicy) -> DriftPlan:
    """One retrain per drift event, within a cooldown and a budget.

    ``events`` are drift report materializations in event-log order, each with
    ``storage_id``, ``partition``, ``dataset_drift`` and ``drifted_features``. A drifted day
    is a drift event and requests a retrain unless one was requested for a day less than
    ``cooldown_days`` earlier -- except when the drift is more severe (more drifted
    features) than the event that caused that retrain. At most ``budget`` retrains are
    requested per ``budget_window_days``. A refused challenger therefore cannot start a
    retraining loop; the weekly schedule keeps retraining meanwhile. A day up to the end of
    the champion's training data (``reference_window_end``, when the event has it) never
    requests a retrain: a backfill that re-checks history against a champion trained on
    newer days would otherwise retrain for the past.
    """
    last_id = int(cursor.get("storage_id", 0))
    history = [dict(r) for r in cursor.get("requested", [])]
    requests, notes = [], []
    for event in events:
        last_id = max(last_id, int(event["storage_id"]))
        day = _day(event["partition"])
        if not event["dataset_drift"] or day is None:
            continue
        window_end = _day(event.get("reference_window_end"))
        if window_end is not None and day <= window_end:
            # A backfill re-checking old days against a champion trained on newer ones.
            notes.append(
                f"{day}: drift on a day the champion was trained on or before (its "
                f"training data ends {window_end}): no retrain"
            )
            continue
        severity = len(event["drifted_features"])
        previous = history[-1] if history else None
        if previous is not None:
            gap = (day - dt.date.fromisoformat(previous["day"])).days
            if gap < 0:
                # A day older than the one that caused the last retrain (a backfill, or range
                # chunks finishing out of order): that retrain already saw newer data.
                notes.append(
                    f"{day}: drift on a day before {previous['day']}, whose retrain "
                    "already learnt from newer data: no retrain"
                )
                continue
            if gap < policy.cooldown_days and severity <= previous["severity"]:
                notes.append(
                    f"{day}: drift within the {policy.cooldown_days}-day cooldown of "
                    f"the retrain for {previous['day']}, not more severe: no retrain"
                )
                continue
        recent = [
            r
            for r in history
            if 0 <= (day - dt.date.fromisoformat(r["day"])).days < policy.budget_window_days
        ]
        if len(recent) >= policy.budget:
            notes.append(
                f"{day}: retrain budget of {policy.budget} per "
                f"{policy.budget_window_days} days used up: no retrain"
            )
            continue
        requests.append(
            {
                "run_key": f"drift-event-{event['storage_id']}",
                "partition": event["partition"],
                "drifted_features": event["drifted_features"],
                "storage_id": event["storage_id"],
                "severity": severity,
                "kind": event.get("kind", "input"),
            }
        )
        history.append({"day": day.isoformat(), "severity": severity})
    # Only what the budget window can still need is kept in the cursor.
    return DriftPlan(
        requests=requests,
        notes=notes,
        cursor={"storage_id": last_id, "requested": history[-policy.budget * 2 :]},
    )


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
    instance, after_storage_id: int, limit: int = DRIFT_EVENTS_PER_TICK
) -> list[dict]:
    """Drift evidence after a storage id, in event-log order, as plain dicts.

    Two kinds: input drift (``monitoring/drift_report`` metadata ``dataset_drift``) and
    performance drift (``scoring/churn_predictions`` metadata ``performance_drift``, a
    significant drop of the realised AUC on a labelled day).

    At most ``limit`` events of each kind are read, so a tick's work stays bounded however
    long the history (reading an event costs about 0.7 ms: each carries its column schema);
    a backlog is worked off over the next ticks. When one kind has more than ``limit`` new
    events, only events up to the last one read of that kind are returned, so the cursor
    never moves past an event of the other kind that was not read yet.
    """
    events, horizon = [], None
    for key, flag, features_key in (
        (DRIFT_KEY, "dataset_drift", "drifted_features"),
        (PREDICTIONS_KEY, "performance_drift", None),
    ):
        result = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, after_storage_id=after_storage_id or None),
            limit=limit,
            ascending=True,
        )
        if result.has_more and result.records:
            last = result.records[-1].storage_id
            horizon = last if horizon is None else min(horizon, last)
        for record in result.records:
            materialization = record.asset_materialization
            metadata = materialization.metadata if materialization else {}
            drifted = metadata.get(flag)
            is_drift = bool(drifted.value) if drifted is not None else False
            if features_key is None:
                features = ["realised_auc"] if is_drift else []
            else:
                value = metadata.get(features_key)
                features = list(value.value) if value is not None else []
            window_end = metadata.get("reference_window_end")
            events.append(
                {
                    "kind": "input" if features_key else "performance",
                    "storage_id": record.storage_id,
                    "partition": materialization.partition if materialization else None,
                    "dataset_drift": is_drift,
                    "drifted_features": features,
                    "reference_window_end": window_end.value if window_end is not None else None,
                }
            )
    if horizon is not None:
        events = [e for e in events if e["storage_id"] <= horizon]
    return sorted(events, key=lambda e: e["storage_id"])


def retrain_run_config(request: dict) -> dict:
    """Run config of the retrain a drift event requests.

    After performance drift the relation between inputs and churn has changed, so days before
    the event teach the old relation: the training window starts at the event's day
    (``training_set`` config ``since``). After input drift the relation still holds, so the
    usual window of recent days is kept (it also holds the shifted days, and the reference
    profile built from it moves with them).
    """
    if request.get("kind") != "performance":
        return {}
    since = str(request["partition"])[:10]
    return {"ops": {"training__training_set": {"config": {"since": since}}}}


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
