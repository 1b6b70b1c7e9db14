"""What the sensors decide, as plain functions: no Dagster import, tested without a daemon.

``landing_sensor`` asks :func:`plan_landing_runs` which landing files need an ingest run and
keeps its cursor with :func:`read_landing_cursor`; ``drift_sensor`` turns materialization
metadata into events with :func:`drift_event` and asks :func:`plan_drift_retrains` which of
them start a retrain, within a :class:`RetrainPolicy` (cooldown and budget), and
:func:`retrain_run_config` what that retrain's training window is.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from ml_assets.landing import LandingFile, LandingFileError, check_partition_day

# A file modified less than this long ago may still be being written: wait a tick
# (settings.landing_settle_seconds() reads the override; this is its default).
DEFAULT_SETTLE_SECONDS = 5.0
# Drift and performance events read per kind per tick.
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
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
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


def retrain_run_config(
    request: dict,
    training_set_op: str = "training__training_set",
    model_op: str = "training__churn_model",
) -> dict:
    """Run config of the retrain a drift event requests.

    After performance drift the relation between inputs and the target has changed, so days
    before the event teach the old relation: the training window starts at the event's day
    (``training_set`` config ``since``). After input drift the relation still holds, so the
    usual window of recent days is kept, but the new model's drift reference describes the
    new inputs: the days from the event's day on (model config ``reference_since``), so the
    lasting shift is not flagged again every day. ``training_set_op`` and ``model_op`` are
    the two assets' op names.
    """
    day = str(request["partition"])[:10]
    if request.get("kind") == "performance":
        return {"ops": {training_set_op: {"config": {"since": day}}}}
    return {"ops": {model_op: {"config": {"reference_since": day}}}}


def drift_event(
    kind: str,
    storage_id: int,
    partition: str | None,
    metadata: dict[str, Any],
) -> dict:
    """One drift-evidence event from a materialization's metadata (plain values).

    ``kind`` "input": a drift report day (``dataset_drift``, ``drifted_features``);
    "performance": a predictions day (``performance_drift``, a significant AUC drop, whose
    drifted "feature" is ``realised_auc``). ``reference_window_end`` (the last day the
    champion was trained on) travels along when the report has it.
    """
    if kind == "input":
        is_drift = bool(metadata.get("dataset_drift", False))
        features = list(metadata.get("drifted_features") or [])
    elif kind == "performance":
        is_drift = bool(metadata.get("performance_drift", False))
        features = ["realised_auc"] if is_drift else []
    else:
        raise ValueError(f"drift event kind {kind!r} is neither 'input' nor 'performance'.")
    return {
        "kind": kind,
        "storage_id": storage_id,
        "partition": partition,
        "dataset_drift": is_drift,
        "drifted_features": features,
        "reference_window_end": metadata.get("reference_window_end"),
    }


def merge_event_batches(batches: list[tuple[list[dict], bool]]) -> list[dict]:
    """Events of several kinds, each read in a bounded batch, in event-log order.

    Each batch is ``(events in storage order, whether more events of that kind are
    waiting)``. When a kind has more waiting, only events up to the last one read of that
    kind are returned, so a cursor set to the newest returned id never moves past an event
    of another kind that was not read yet.
    """
    horizon = None
    for events, has_more in batches:
        if has_more and events:
            last = events[-1]["storage_id"]
            horizon = last if horizon is None else min(horizon, last)
    merged = [e for events, _ in batches for e in events]
    if horizon is not None:
        merged = [e for e in merged if e["storage_id"] <= horizon]
    return sorted(merged, key=lambda e: e["storage_id"])
