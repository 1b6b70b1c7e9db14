"""The team profile's Dagster instance: PostgreSQL storage, and run monitoring that marks a
run whose processes were SIGKILLed (with the daemon and code server, as in a machine crash)
as failed; the lake keeps the day's old rows."""

from __future__ import annotations

import os
import signal
import time

import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance, DagsterRunStatus, RunsFilter, materialize
from dagster._core.instance.ref import InstanceRef

from ml_assets import settings
from ml_assets import warehouse as wh
from ml_assets.definitions import ALL_ASSETS, build_resources
from ml_assets_tests import dagster_processes as procs
from ml_assets_tests.conftest import day, write_days

pytestmark = [pytest.mark.team, pytest.mark.slow]

RAW = ["raw", "customer_snapshots"]
RAW_TABLE = "raw.customer_snapshots"


def day_rows(partition: str) -> pd.DataFrame:
    with wh.connect(settings.warehouse(), read_only=True) as con:
        return con.execute(
            f"select * exclude (source_file) from {RAW_TABLE} where snapshot_date = ? "
            "order by customer_id",
            [partition],
        ).df()


def wait(condition, what: str, daemon, home, timeout_s: float = 600):
    """Wait for ``condition()`` to be truthy while the daemon lives (a generous safety bound
    only: the wait ends on progress or on the daemon's death)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if daemon is not None and daemon.poll() is not None:
            pytest.fail(f"the daemon exited while waiting for {what}: " + _log(home))
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}: " + _log(home))


def _log(home) -> str:
    path = home / "daemon.log"
    return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def test_instance_storage_is_postgres(team_instance):
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(team_instance)))
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert instance.run_monitoring_enabled
    assert instance.run_launcher.supports_check_run_worker_health


def test_sigkilled_run_is_marked_failed_and_the_lake_keeps_old_rows(team_instance, project):
    home = team_instance
    landing = project / "landing"
    write_days(landing, 2, rows=200)
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    first, last = day(0).isoformat(), day(1).isoformat()
    assert materialize(
        ALL_ASSETS,
        selection=AssetSelection.assets(RAW),
        resources=build_resources(),
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
    ).success
    before = day_rows(first)
    assert len(before) == 200

    # The landing sensor's run of day 0 stops inside the lake transaction, after the delete.
    marker = project.parent / "paused"
    env = procs.process_env(
        home,
        ML_ASSETS_SENSOR_INTERVAL="2",
        ML_ASSETS_LANDING_SETTLE_SECONDS="1",
        **{wh.TEST_PAUSE_ENV: f"after_delete:{RAW_TABLE}:{marker}"},
    )
    daemon = procs.start_daemon(home, env)
    try:
        # The first tick takes the ingested days as history; then day 0 lands again.
        # (Another code location of the workspace has a landing_sensor too: match the folder.)
        first_tick = f"Sensor landing_sensor skipped: No new landing files in {landing}"
        wait(
            lambda: first_tick in _log(home),
            "landing_sensor's first tick",
            daemon,
            home,
        )
        now = time.time() - 3
        os.utime(landing / f"customers_{first}.csv", (now, now))
        wait(marker.exists, "the run to reach the pause point", daemon, home)
        # A machine crash: daemon, code server and run worker die at once.
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()
    finally:
        procs.stop(daemon)
    runs = instance.get_run_records(RunsFilter(tags={"dagster/sensor_name": "landing_sensor"}))
    assert len(runs) == 1
    run_id = runs[0].dagster_run.run_id
    assert instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED
    # Nothing of the killed transaction is visible: the day's old rows, exactly.
    pd.testing.assert_frame_equal(day_rows(first), before)

    # A new daemon (without the pause) finds the dead run through run monitoring.
    marker.unlink(missing_ok=True)
    env.pop(wh.TEST_PAUSE_ENV)
    daemon = procs.start_daemon(home, env, log_name="daemon2.log")
    try:
        wait(
            lambda: instance.get_run_by_id(run_id).status == DagsterRunStatus.FAILURE,
            "run monitoring to mark the dead run failed",
            daemon,
            home,
        )
    finally:
        procs.stop(daemon)
    messages = [
        (e.dagster_event.message if e.dagster_event else None) or e.user_message or ""
        for e in instance.all_logs(run_id)
    ]
    assert any("Detected run worker status" in m and "killed" in m for m in messages), messages[-5:]
    pd.testing.assert_frame_equal(day_rows(first), before)
    # The step can run again: the same day rematerializes on the lake.
    assert materialize(
        ALL_ASSETS,
        selection=AssetSelection.assets(RAW),
        resources=build_resources(),
        instance=instance,
        partition_key=first,
    ).success
    pd.testing.assert_frame_equal(day_rows(first), before)
