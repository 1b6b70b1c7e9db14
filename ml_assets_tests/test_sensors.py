"""landing_sensor and drift_sensor against a real (test) instance's event log."""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import pytest
from dagster import AssetKey, AssetMaterialization, build_sensor_context, instance_for_test

from ml_assets.definitions import defs
from ml_assets.jobs import ingest_job, retrain_job
from ml_assets.landing import list_landing_files
from ml_assets.sensors import (
    RetrainPolicy,
    build_drift_sensor,
    build_landing_sensor,
    plan_drift_retrains,
    plan_landing_runs,
    read_drift_events,
    read_landing_cursor,
)
from ml_assets_tests.conftest import START, day, write_days

DRIFT_KEY = AssetKey(["monitoring", "drift_report"])
RAW_KEY = AssetKey(["raw", "customer_snapshots"])
PREDICTIONS_KEY = AssetKey(["scoring", "churn_predictions"])


@pytest.fixture()
def instance():
    with instance_for_test() as test_instance:
        yield test_instance


def tick(sensor_def, instance, cursor):
    context = build_sensor_context(
        instance=instance, cursor=cursor, repository_def=defs.get_repository_def()
    )
    data = sensor_def.evaluate_tick(context)
    return data.run_requests or [], data.cursor


def report_drift(instance, partition: str, drifted: bool) -> None:
    instance.report_runless_asset_event(
        AssetMaterialization(
            asset_key=DRIFT_KEY,
            partition=partition,
            metadata={
                "dataset_drift": drifted,
                "drifted_features": ["monthly_charges"] if drifted else [],
            },
        )
    )


def report_drift_features(instance, partition: str, features: list[str]) -> None:
    instance.report_runless_asset_event(
        AssetMaterialization(
            asset_key=DRIFT_KEY,
            partition=partition,
            metadata={"dataset_drift": bool(features), "drifted_features": features},
        )
    )


def test_drift_event_requests_exactly_one_retrain(instance):
    sensor_def = build_drift_sensor(retrain_job)
    report_drift(instance, "2025-01-10", False)
    runs, cursor = tick(sensor_def, instance, None)
    assert runs == []

    report_drift(instance, "2025-01-11", True)
    runs, cursor = tick(sensor_def, instance, cursor)
    assert len(runs) == 1
    assert runs[0].tags["ml_assets/drift_partition"] == "2025-01-11"
    assert runs[0].tags["ml_assets/drifted_features"] == "monthly_charges"
    assert runs[0].tags["dagster/priority"] == "10"

    # A repeated tick sees nothing new; the next drifted day falls in the cooldown.
    assert tick(sensor_def, instance, cursor)[0] == []
    report_drift(instance, "2025-01-12", True)
    runs, cursor = tick(sensor_def, instance, cursor)
    assert runs == []

    # Eight days later the cooldown (7 days of data) is over: a new event, a new run key.
    report_drift(instance, "2025-01-19", True)
    runs, cursor = tick(sensor_def, instance, cursor)
    assert [r.tags["ml_assets/drift_partition"] for r in runs] == ["2025-01-19"]
    assert json.loads(cursor)["requested"][-1] == {"day": "2025-01-19", "severity": 1}


def test_drift_sensor_restart_from_cursor_does_not_repeat(instance):
    sensor_def = build_drift_sensor(retrain_job)
    report_drift(instance, "2025-01-11", True)
    first, cursor = tick(sensor_def, instance, None)
    # The daemon restarts and evaluates with the stored cursor: no second request.
    again, _ = tick(sensor_def, instance, cursor)
    assert len(first) == 1 and again == []


def test_more_severe_drift_overrides_the_cooldown(instance):
    sensor_def = build_drift_sensor(retrain_job)
    report_drift_features(instance, "2025-01-11", ["monthly_charges"])
    runs, cursor = tick(sensor_def, instance, None)
    report_drift_features(instance, "2025-01-12", ["monthly_charges"])
    report_drift_features(instance, "2025-01-13", ["monthly_charges", "region", "plan"])
    runs, cursor = tick(sensor_def, instance, cursor)
    assert [r.tags["ml_assets/drift_partition"] for r in runs] == ["2025-01-13"]
    assert runs[0].tags["ml_assets/drift_severity"] == "3"


def test_a_backlog_is_read_in_bounded_batches_without_skipping_an_event(instance):
    """More new events than a tick reads: 30 drift reports, then 30 predictions. Each
    tick reads at most 10 of each kind; no event is skipped or read twice."""
    for i in range(30):
        report_drift(instance, (START + dt.timedelta(days=i)).isoformat(), i % 2 == 0)
    for i in range(30):
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=PREDICTIONS_KEY,
                partition=(START + dt.timedelta(days=i)).isoformat(),
                metadata={"performance_drift": False},
            )
        )
    seen, cursor, ticks = [], 0, 0
    while True:
        events = read_drift_events(instance, cursor, limit=10)
        if not events:
            break
        assert sum(e["kind"] == "input" for e in events) <= 10
        assert sum(e["kind"] == "performance" for e in events) <= 10
        seen += events
        cursor = max(e["storage_id"] for e in events)
        ticks += 1
    ids = [e["storage_id"] for e in seen]
    assert len(ids) == len(set(ids)) == 60 and ids == sorted(ids)
    assert [e["partition"] for e in seen if e["kind"] == "input"] == [
        (START + dt.timedelta(days=i)).isoformat() for i in range(30)
    ]
    assert ticks >= 6


def test_drift_on_days_the_champion_was_trained_on_never_retrains():
    # Drift re-checked over a backfilled history against a champion trained up to 2025-03-31.
    policy = RetrainPolicy(cooldown_days=7, budget=4, budget_window_days=30)
    events = [
        {
            "storage_id": i,
            "partition": f"2025-03-{25 + i:02d}",
            "dataset_drift": True,
            "drifted_features": ["x"],
            "reference_window_end": "2025-03-31",
        }
        for i in range(7)
    ]
    events.append(
        {
            "storage_id": 9,
            "partition": "2025-04-01",
            "dataset_drift": True,
            "drifted_features": ["x"],
            "reference_window_end": "2025-03-31",
        }
    )
    plan = plan_drift_retrains(events, {}, policy)
    assert [r["partition"] for r in plan.requests] == ["2025-04-01"]
    assert sum("trained on or before" in n for n in plan.notes) == 7
    # Without a recorded window end (older profiles) the day is judged as before.
    old = [{k: v for k, v in events[0].items() if k != "reference_window_end"}]
    assert len(plan_drift_retrains(old, {}, policy).requests) == 1


def test_retrain_budget_caps_requests():
    policy = RetrainPolicy(cooldown_days=0, budget=2, budget_window_days=30)
    events = [
        {
            "storage_id": i,
            "partition": f"2025-01-{10 + i:02d}",
            "dataset_drift": True,
            "drifted_features": ["x"],
        }
        for i in range(5)
    ]
    plan = plan_drift_retrains(events, {}, policy)
    assert [r["partition"] for r in plan.requests] == ["2025-01-10", "2025-01-11"]
    assert sum("budget" in n for n in plan.notes) == 3
    # The cursor carries the history, so a later tick still respects the budget.
    later = [
        {
            "storage_id": 9,
            "partition": "2025-01-20",
            "dataset_drift": True,
            "drifted_features": ["x"],
        }
    ]
    assert plan_drift_retrains(later, plan.cursor, policy).requests == []
    after_window = [
        {
            "storage_id": 10,
            "partition": "2025-02-15",
            "dataset_drift": True,
            "drifted_features": ["x"],
        }
    ]
    assert len(plan_drift_retrains(after_window, plan.cursor, policy).requests) == 1


def test_drift_on_a_day_before_the_last_retrain_never_retrains():
    # Backfill chunks finish out of order: older drifted days arrive after a retrain for a
    # newer day. Even more severe, they do not retrain again (and do not use the budget).
    policy = RetrainPolicy(cooldown_days=7, budget=4, budget_window_days=30)
    first = [
        {
            "storage_id": 1,
            "partition": "2025-02-10",
            "dataset_drift": True,
            "drifted_features": ["x"],
        }
    ]
    plan = plan_drift_retrains(first, {}, policy)
    assert len(plan.requests) == 1
    older = [
        {
            "storage_id": 2 + i,
            "partition": f"2025-01-{10 + i:02d}",
            "dataset_drift": True,
            "drifted_features": ["x", "y", "z"],
        }
        for i in range(3)
    ]
    later = plan_drift_retrains(older, plan.cursor, policy)
    assert later.requests == [] and sum("newer data" in n for n in later.notes) == 3
    # A newer drifted day past the cooldown still retrains.
    newer = [
        {
            "storage_id": 9,
            "partition": "2025-02-20",
            "dataset_drift": True,
            "drifted_features": ["x"],
        }
    ]
    assert len(plan_drift_retrains(newer, later.cursor, policy).requests) == 1


def test_landing_sensor_requests_each_new_file_once(project, instance):
    landing = project / "landing"
    write_days(landing, 3, rows=50)
    sensor_def = build_landing_sensor(ingest_job, landing)
    runs, cursor = tick(sensor_def, instance, None)
    assert sorted(r.partition_key for r in runs) == [day(i).isoformat() for i in range(3)]
    assert len({r.run_key for r in runs}) == 3

    assert tick(sensor_def, instance, cursor)[0] == []

    # A rewritten file (newer mtime) is requested again, alone.
    path = landing / f"customers_{day(1).isoformat()}.csv"
    stamp = time.time() - 10
    os.utime(path, (stamp, stamp))
    runs, cursor = tick(sensor_def, instance, cursor)
    assert [r.partition_key for r in runs] == [day(1).isoformat()]


def test_landing_sensor_first_tick_skips_ingested_days(project, instance):
    landing = project / "landing"
    write_days(landing, 3, rows=50)
    instance.report_runless_asset_event(
        AssetMaterialization(asset_key=RAW_KEY, partition=day(0).isoformat())
    )
    runs, _ = tick(build_landing_sensor(ingest_job, landing), instance, None)
    assert sorted(r.partition_key for r in runs) == [day(1).isoformat(), day(2).isoformat()]


def test_landing_plan_waits_for_settling_files_and_refuses_bad_days(project):
    landing = project / "landing"
    paths = write_days(landing, 2, rows=50)
    now = time.time()
    os.utime(paths[1], (now, now))  # still being written
    future = landing / "customers_2999-01-01.csv"
    future.write_text(paths[0].read_text())
    old = now - 100
    os.utime(future, (old, old))
    (landing / "notes.txt").write_text("not a landing file")
    plan = plan_landing_runs(
        list_landing_files(landing), None, set(), now, START, today=START.replace(year=2026)
    )
    assert [key for key, _ in plan.requests] == [day(0).isoformat()]
    assert any("settling" in n for n in plan.notes)
    assert any("2999-01-01" in n and "future" in n for n in plan.notes)
    # The settling file is not recorded, so a later tick, once it is still, requests it.
    assert paths[1].name not in plan.cursor["files"]
    later = plan_landing_runs(
        list_landing_files(landing),
        plan.cursor,
        set(),
        now + 10,
        START,
        today=START.replace(year=2026),
    )
    assert [key for key, _ in later.requests] == [day(1).isoformat()]


def test_a_file_created_while_a_tick_reads_the_folder_is_not_lost(project):
    """The race that a single "newest time handled" cursor lost (seen in CI): a tick lists
    the folder, a new day lands and an old day is touched before the tick reads the times
    of what it listed. The new day's file is older than the touched one, yet still new."""
    landing = project / "landing"
    paths = write_days(landing, 2, rows=50)
    first = plan_landing_runs(
        list_landing_files(landing), None, set(), time.time(), START, today=START.replace(year=2026)
    )
    listed = list_landing_files(landing)
    (new_day,) = write_days(landing, 1, rows=50, first=2)
    stamp = time.time() - 10
    os.utime(new_day, (stamp - 1, stamp - 1))
    os.utime(paths[0], (stamp, stamp))
    racing = plan_landing_runs(
        listed, first.cursor, set(), time.time(), START, today=START.replace(year=2026)
    )
    assert [key for key, _ in racing.requests] == [day(0).isoformat()]
    after = plan_landing_runs(
        list_landing_files(landing),
        racing.cursor,
        set(),
        time.time(),
        START,
        today=START.replace(year=2026),
    )
    assert [key for key, _ in after.requests] == [day(2).isoformat()]


def test_a_file_moved_in_with_an_old_time_is_requested_and_a_removed_name_forgotten(
    project, tmp_path
):
    landing = project / "landing"
    write_days(landing, 2, rows=50)
    plan = plan_landing_runs(
        list_landing_files(landing), None, set(), time.time(), START, today=START.replace(year=2026)
    )
    assert len(plan.requests) == 2
    # `mv` keeps the source's modification time: a week old, older than every handled file.
    (outside,) = write_days(tmp_path / "elsewhere", 1, rows=50, first=5)
    week_ago = time.time() - 7 * 86400
    os.utime(outside, (week_ago, week_ago))
    moved = landing / outside.name
    outside.rename(moved)
    plan = plan_landing_runs(
        list_landing_files(landing),
        plan.cursor,
        set(),
        time.time(),
        START,
        today=START.replace(year=2026),
    )
    assert [key for key, _ in plan.requests] == [day(5).isoformat()]
    assert moved.name in plan.cursor["files"]
    moved.unlink()
    plan = plan_landing_runs(
        list_landing_files(landing),
        plan.cursor,
        set(),
        time.time(),
        START,
        today=START.replace(year=2026),
    )
    assert plan.requests == [] and moved.name not in plan.cursor["files"]


def test_a_cursor_of_the_older_single_time_form_is_read_and_replaced(project):
    landing = project / "landing"
    paths = write_days(landing, 3, rows=50)
    cut = paths[0].stat().st_mtime + 1  # day 0 handled under the old cursor
    newer = cut + 5
    for path in paths[1:]:
        os.utime(path, (newer, newer))
    cursor = read_landing_cursor(str(cut))
    plan = plan_landing_runs(
        list_landing_files(landing),
        cursor,
        set(),
        newer + 60,
        START,
        today=START.replace(year=2026),
    )
    assert sorted(key for key, _ in plan.requests) == [day(1).isoformat(), day(2).isoformat()]
    assert set(plan.cursor) == {"files"} and len(plan.cursor["files"]) == 3
    assert read_landing_cursor(json.dumps(plan.cursor)) == plan.cursor
    assert read_landing_cursor(None) is None


def test_definitions_resolve_and_sensors_run_by_default():
    assert {j.name for j in defs.resolve_all_job_defs()} >= {"ingest_job", "retrain_job"}
    for name in ("landing_sensor", "drift_sensor"):
        sensor_def = defs.resolve_sensor_def(name)
        assert sensor_def.default_status.value == "RUNNING"
    schedule = defs.resolve_schedule_def("weekly_retrain_schedule")
    assert schedule.job_name == "retrain_job"
    assert schedule.default_status.value == "RUNNING"
