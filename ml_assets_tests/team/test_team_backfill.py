"""The concurrent backfill of test_backfill.py, reduced in size, on both profiles in one run.

Same scenario on each: history ingested and a champion trained; then, with the daemon and
the webserver running and a reader querying the UI, a backfill re-processes every day while
two new days land and one history day lands again. The file profile (DuckDB file, SQLite
instance, warehouse pool 1) and the team profile (PostgreSQL instance, DuckLake lake,
warehouse pool 4) must both end with every landing row exactly once, no failed run and no
lock error; the figures (wall time, runs, overlap of warehouse steps) are printed and
written to backfill_profiles.json for the closing note. In `make test` the team profile runs
alone on 6 days; the side-by-side comparison (20 days, ML_ASSETS_TEAM_BACKFILL_DAYS) is in
the soak tier.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from dagster import AssetSelection, DagsterInstance, DagsterRunStatus, RunsFilter, materialize
from dagster._core.instance.ref import InstanceRef

from ml_assets import settings
from ml_assets import warehouse as wh
from ml_assets.definitions import ALL_ASSETS, build_resources
from ml_assets_tests import dagster_processes as procs
from ml_assets_tests.conftest import day, write_days
from ml_assets_tests.team.conftest import lake_env, new_database
from ml_assets_tests.test_backfill import (
    BACKFILL_STATUS,
    DAILY_KEYS,
    LAUNCH_BACKFILL,
    LIGHT_RETRAIN,
    SENSOR_TICKS,
    TERMINAL,
    UiReader,
    _landing_rows,
    _max_overlap,
    _pool_step_intervals,
)

pytestmark = [pytest.mark.team, pytest.mark.slow]

# `make test`: 6 days on the team profile only (the file profile's backfill is test_backfill);
# `make test-soak`: both profiles side by side, 20 days each (ML_ASSETS_TEAM_BACKFILL_DAYS).
DAYS = 6
SOAK_DAYS = int(os.environ.get("ML_ASSETS_TEAM_BACKFILL_DAYS", "20"))
ROWS_PER_DAY = 200


def _use_profile(profile: str, root: Path, team, monkeypatch, mlflow_template) -> Path:
    """Point the environment at a fresh data folder and the profile's warehouse and instance;
    returns DAGSTER_HOME."""
    data = root / "data"
    (data / "mlflow").mkdir(parents=True)
    shutil.copyfile(mlflow_template, data / "mlflow" / "mlflow.db")
    uri = f"sqlite:///{data / 'mlflow' / 'mlflow.db'}"
    env = {
        "ML_ASSETS_DATA_DIR": str(data),
        "ML_ASSETS_DUCKDB_PATH": str(data / "warehouse.duckdb"),
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "ML_ASSETS_MLFLOW_ARTIFACTS": str(data / "mlflow" / "artifacts"),
    }
    home = root / "dagster_home"
    home.mkdir()
    if profile == "team":
        pg = team.postgres
        env.update(
            {
                "ML_ASSETS_PG_HOST": pg.host,
                "ML_ASSETS_PG_PORT": str(pg.port),
                "ML_ASSETS_PG_USER": pg.user,
                "ML_ASSETS_PG_DB": new_database(team, "dagster"),
                **lake_env(team, new_database(team, "lake"), f"{data / 'lake'}/"),
            }
        )
        shutil.copyfile(
            settings.PROJECT_ROOT / "config" / "dagster-team.yaml", home / "dagster.yaml"
        )
    else:
        monkeypatch.delenv("ML_ASSETS_WAREHOUSE", raising=False)
        shutil.copyfile(settings.PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return home


def _backfill(root: Path, home: Path, days: int) -> dict:
    landing = settings.landing_dir()
    write_days(landing, days, rows=ROWS_PER_DAY)
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    first, last = day(0).isoformat(), day(days - 1).isoformat()
    assert materialize(
        ALL_ASSETS,
        selection=AssetSelection.assets(*DAILY_KEYS[:2]),
        resources=build_resources(),
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
    ).success
    assert materialize(
        ALL_ASSETS,
        selection=AssetSelection.groups("training", "evaluation", "registry"),
        resources=build_resources(),
        instance=instance,
        run_config={
            "ops": {
                **LIGHT_RETRAIN["ops"],
                "training__training_set": {"config": {"window_days": days}},
            }
        },
    ).success

    env = procs.process_env(home, ML_ASSETS_SENSOR_INTERVAL="2", ML_ASSETS_RETRAIN_BUDGET="0")
    port = procs.free_port()
    webserver = procs.start_webserver(home, env, port)
    daemon = procs.start_daemon(home, env)
    reader = UiReader(port)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            _, ticks = procs.graphql(port, SENSOR_TICKS)
            listed = ticks["data"]["sensorOrError"]["sensorState"]["ticks"]
            if listed and listed[0]["status"] in ("SKIPPED", "SUCCESS"):
                break
            assert daemon.poll() is None, (home / "daemon.log").read_text()[-3000:]
            time.sleep(1)
        else:
            pytest.fail("landing_sensor never ticked: " + (home / "daemon.log").read_text()[-3000:])
        reader.start()
        started = time.monotonic()
        _, launched = procs.graphql(
            port,
            LAUNCH_BACKFILL,
            {
                "params": {
                    "partitionNames": [day(i).isoformat() for i in range(days)],
                    "assetSelection": [{"path": key} for key in DAILY_KEYS],
                    "fromFailure": False,
                    "title": f"reprocess {days} days",
                }
            },
        )
        result = launched["data"]["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = result["backfillId"]
        now = time.time() - 5
        for path in write_days(root / "staging", 2, rows=ROWS_PER_DAY, first=days):
            os.utime(path, (now, now))
            path.rename(landing / path.name)
        os.utime(landing / f"customers_{day(days // 2).isoformat()}.csv", (now, now))

        status, quiet_since = None, None
        # A safety bound only; the loop ends when the work is done or the daemon dies.
        deadline = time.monotonic() + 5400
        while time.monotonic() < deadline:
            assert daemon.poll() is None, (home / "daemon.log").read_text()[-3000:]
            _, payload = procs.graphql(port, BACKFILL_STATUS, {"id": backfill_id})
            status = payload["data"]["partitionBackfillOrError"]["status"]
            active = instance.get_run_records(
                RunsFilter(statuses=[s for s in DagsterRunStatus if s not in TERMINAL])
            )
            sensor_runs = instance.get_run_records(
                RunsFilter(tags={"dagster/sensor_name": "landing_sensor"})
            )
            if (
                status in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED")
                and len(sensor_runs) >= 3
                and not active
            ):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 6:
                    break
            else:
                quiet_since = None
            time.sleep(1)
        wall = time.monotonic() - started
    finally:
        reader.stop_event.set()
        procs.stop(daemon)
        procs.stop(webserver)
    reader.join(timeout=30)

    records = instance.get_run_records(RunsFilter())
    backfill_runs = [
        r for r in records if r.dagster_run.tags.get("dagster/backfill") == backfill_id
    ]
    sensor_runs = [
        r for r in records if r.dagster_run.tags.get("dagster/sensor_name") == "landing_sensor"
    ]
    failed = [
        (r.dagster_run.run_id, r.dagster_run.status.value)
        for r in records
        if r.dagster_run.status != DagsterRunStatus.SUCCESS
    ]
    daemon_runs = backfill_runs + sensor_runs
    log_text = "".join(
        (home / name).read_text(errors="replace") for name in ("daemon.log", "webserver.log")
    )
    counts, duplicates = {}, {}
    with wh.connect(settings.warehouse(), read_only=True) as con:
        for schema, table in DAILY_KEYS:
            counts[table] = dict(
                con.execute(
                    f"select cast(snapshot_date as date), count(*) from {schema}.{table} group by 1"
                ).fetchall()
            )
        for schema, table in [DAILY_KEYS[0], DAILY_KEYS[1], DAILY_KEYS[3]]:
            duplicates[table] = con.execute(
                f"select count(*) - count(distinct (customer_id, snapshot_date)) "
                f"from {schema}.{table}"
            ).fetchone()[0]
    expected = _landing_rows(landing)
    return {
        "status": status,
        "days": len(expected),
        "rows": sum(expected.values()),
        "backfill_runs": len(backfill_runs),
        "sensor_runs": len(sensor_runs),
        "max_runs_at_once": _max_overlap(
            [(r.start_time, r.end_time) for r in daemon_runs if r.start_time and r.end_time]
        ),
        "max_warehouse_steps_at_once": _max_overlap(
            _pool_step_intervals(instance, [r.dagster_run.run_id for r in records])
        ),
        "wall_seconds": round(wall, 1),
        "failed_runs": failed,
        "lock_errors": sum(
            m in log_text for m in ("Could not set lock", "stayed locked", "conflicted with")
        ),
        "ui_queries": len(reader.latencies),
        "ui_errors": reader.errors[:3],
        # drift_report holds one row per day and feature, not per customer: its days only.
        "counts_match": {
            t: counts[t] == expected
            for t in ("customer_snapshots", "customer_features", "churn_predictions")
        },
        "drift_days_match": set(counts["drift_report"]) == set(expected),
        "duplicates": duplicates,
    }


def _check(profile: str, got: dict) -> None:
    assert got["status"] == "COMPLETED_SUCCESS", (profile, got)
    assert not got["failed_runs"], (profile, got)
    assert got["lock_errors"] == 0, (profile, got)
    assert got["sensor_runs"] == 3, (profile, got)
    assert all(got["counts_match"].values()), (profile, got)
    assert got["drift_days_match"], (profile, got)
    assert set(got["duplicates"].values()) == {0}, (profile, got)
    assert got["ui_errors"] == [], (profile, got)


def _run_profiles(profiles, days, team, tmp_path, monkeypatch, mlflow_template) -> dict:
    figures = {}
    for profile in profiles:
        root = tmp_path / profile
        home = _use_profile(profile, root, team, monkeypatch, mlflow_template)
        try:
            figures[profile] = _backfill(root, home, days)
        finally:
            wh._forget_lake(os.environ.get("ML_ASSETS_WAREHOUSE", ""))
    print("backfill figures:", json.dumps(figures))
    (tmp_path / "backfill_profiles.json").write_text(json.dumps(figures, indent=2))
    out = os.environ.get("ML_ASSETS_BACKFILL_FIGURES")
    if out:
        Path(out).write_text(json.dumps(figures, indent=2))
    for profile, got in figures.items():
        _check(profile, got)
    return figures


def test_backfill_on_the_team_profile(team, tmp_path, monkeypatch, mlflow_template):
    figures = _run_profiles(["team"], DAYS, team, tmp_path, monkeypatch, mlflow_template)
    assert 1 <= figures["team"]["max_warehouse_steps_at_once"] <= 4, figures


@pytest.mark.soak
@pytest.mark.timeout(7200)
def test_backfill_on_both_profiles(team, tmp_path, monkeypatch, mlflow_template):
    figures = _run_profiles(
        ["file", "team"], SOAK_DAYS, team, tmp_path, monkeypatch, mlflow_template
    )
    # The file profile keeps one warehouse writer; the lake allows up to the pool's 4.
    assert figures["file"]["max_warehouse_steps_at_once"] == 1, figures
    assert figures["team"]["max_warehouse_steps_at_once"] <= 4, figures
