"""landing_sensor and drift_sensor against a real (test) instance's event log."""

from __future__ import annotations

import datetime as dt
import json
import os
import time

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance, build_sensor_context

from ml_assets.definitions import defs, ingest_job, retrain_job
from ml_assets.sensors import build_drift_sensor, build_landing_sensor, read_drift_events
from ml_assets_tests.conftest import START, day, write_days

DRIFT_KEY = AssetKey(["monitoring", "drift_report"])
RAW_KEY = AssetKey(["raw", "customer_snapshots"])
PREDICTIONS_KEY = AssetKey(["scoring", "churn_predictions"])


@pytest.fixture()
def instance():
    with DagsterInstance.ephemeral() as test_instance:
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


def test_definitions_resolve_and_sensors_run_by_default():
    assert {j.name for j in defs.resolve_all_job_defs()} >= {"ingest_job", "retrain_job"}
    for name in ("landing_sensor", "drift_sensor"):
        sensor_def = defs.resolve_sensor_def(name)
        assert sensor_def.default_status.value == "RUNNING"
    schedule = defs.resolve_schedule_def("weekly_retrain_schedule")
    assert schedule.job_name == "retrain_job"
    assert schedule.default_status.value == "RUNNING"
