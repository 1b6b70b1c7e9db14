"""The daemon killed in the middle of a drift event: exactly one retrain after restarts.

The real dagster-daemon ingests two landing days; the second is drifted, so drift_sensor
requests a retrain. The daemon is killed (SIGKILL, no chance to clean up) as soon as that
retrain run exists, started again, killed again while the retrain is running, and started
once more. The run_key of the drift event and the sensor's cursor must keep it at one
retrain, which finishes.
"""

from __future__ import annotations

import os
import signal
import time

import duckdb
import pytest
from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
    materialize,
)
from dagster._core.instance.ref import InstanceRef

from ml_assets import registry, settings
from ml_assets.definitions import ALL_ASSETS, build_resources
from ml_assets_tests import dagster_processes as procs
from ml_assets_tests.conftest import day, write_days

HISTORY, LIVE = 10, 2
LIGHT_RETRAIN = {
    "ops": {
        "training__training_set": {"config": {"window_days": 10}},
        "training__churn_model": {"config": {"max_iter": 60, "search": False}},
    }
}
ACTIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def _retrain_runs(instance):
    return instance.get_run_records(RunsFilter(tags={"dagster/sensor_name": "drift_sensor"}))


def _wait(predicate, instance, what: str, home, poll_s: float = 0.2):
    """Wait for ``predicate`` while the instance advances (events, runs) or the daemon logs;
    a stall of procs.STALL_S fails, never a fixed wall time."""
    progress = procs.Progress(
        lambda: (
            procs.instance_progress(instance),
            procs.file_progress(home / "daemon.log", home / "daemon2.log"),
        )
    )
    while progress.advancing():
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    pytest.fail(
        progress.describe(f"waiting for {what}")
        + "\n"
        + (home / "daemon.log").read_text(errors="replace")[-3000:]
    )


def _kill_daemon_only(daemon) -> None:
    """SIGKILL the daemon process itself, as a crash would; its children are left alone."""
    os.kill(daemon.pid, signal.SIGKILL)
    daemon.wait(timeout=10)
    daemon.log_file.close()


@pytest.mark.slow
def test_daemon_killed_during_drift_retrain_gives_exactly_one_retrain(project, tmp_path):
    write_days(
        project / "landing",
        HISTORY + LIVE,
        rows=300,
        scenario="covariate",
        drift_start=day(HISTORY + 1),
        drift_columns=("monthly_charges", "days_since_last_login"),
        drift_magnitude=1.5,
    )
    home = procs.make_instance_home(tmp_path / "dagster_home")
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    assert materialize(
        ALL_ASSETS,
        selection=AssetSelection.assets(
            ["raw", "customer_snapshots"], ["features", "customer_features"]
        ),
        resources=build_resources(),
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": day(0).isoformat(),
            "dagster/asset_partition_range_end": day(HISTORY - 1).isoformat(),
        },
    ).success
    assert materialize(
        ALL_ASSETS,
        selection=AssetSelection.groups("training", "evaluation", "registry"),
        resources=build_resources(),
        instance=instance,
        run_config=LIGHT_RETRAIN,
    ).success

    env = procs.process_env(home, ML_ASSETS_SENSOR_INTERVAL="2")
    daemons, seen_at_kill = [], []
    try:
        daemons.append(procs.start_daemon(home, env))
        # 1. Killed as soon as drift_sensor has requested the retrain (queued or launching).
        runs = _wait(lambda: _retrain_runs(instance), instance, "drift_sensor's retrain run", home)
        _kill_daemon_only(daemons[-1])
        seen_at_kill.append(instance.get_run_by_id(runs[0].dagster_run.run_id).status.value)
        daemons.append(procs.start_daemon(home, env, "daemon2.log"))
        # 2. Killed again while the retrain is running (if it is not already past that).
        run_id = runs[0].dagster_run.run_id
        status = _wait(
            lambda: (
                instance.get_run_by_id(run_id).status
                if instance.get_run_by_id(run_id).status
                not in (
                    DagsterRunStatus.QUEUED,
                    DagsterRunStatus.NOT_STARTED,
                    DagsterRunStatus.STARTING,
                )
                else None
            ),
            instance,
            "the retrain to start",
            home,
        )
        if status == DagsterRunStatus.STARTED:
            _kill_daemon_only(daemons[-1])
            seen_at_kill.append(instance.get_run_by_id(run_id).status.value)
            daemons.append(procs.start_daemon(home, env, "daemon3.log"))

        # 3. Everything settles: both days ingested, no run active, a few quiet ticks.
        def settled():
            done = instance.get_materialized_partitions(AssetKey(["raw", "customer_snapshots"]))
            active = instance.get_run_records(RunsFilter(statuses=ACTIVE))
            return len(done) == HISTORY + LIVE and not active

        _wait(settled, instance, "the instance to settle", home, poll_s=1.0)
        time.sleep(8)  # four more drift_sensor ticks after the last report
        assert not instance.get_run_records(RunsFilter(statuses=ACTIVE))
    finally:
        for daemon in daemons:
            procs.stop(daemon)

    print("daemon restart: run status at each kill:", seen_at_kill)
    assert seen_at_kill and seen_at_kill[0] in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")
    retrains = _retrain_runs(instance)
    assert len(retrains) == 1, [r.dagster_run.tags for r in retrains]
    retrain = retrains[0].dagster_run
    assert retrain.status == DagsterRunStatus.SUCCESS
    assert retrain.tags["ml_assets/drift_partition"] == day(HISTORY + 1).isoformat()
    failed = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
    assert failed == []
    # One new model, and one row in the retrain log, for the one event.
    assert registry.latest_version(settings.mlflow_tracking_uri()).version == 2
    with duckdb.connect(str(settings.duckdb_path()), read_only=True) as con:
        logged = con.execute("select drift_partition from monitoring.retrain_log").fetchall()
    assert logged == [(day(HISTORY + 1).isoformat(),)]
