"""The lifecycle with the real Dagster daemon: sensors start the ingest and retrain runs."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import duckdb
import pytest

from ml_assets_tests import dagster_processes as procs
from ml_assets_tests.conftest import day, write_days

BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_demo_drift_leads_to_one_sensor_started_retrain(project, tmp_path):
    # 14 days; a strong shift from day 10; the last 5 days are left to the sensors.
    write_days(
        project / "landing",
        14,
        rows=400,
        scenario="covariate",
        drift_start=day(10),
        drift_columns=("monthly_charges", "days_since_last_login"),
        drift_magnitude=1.5,
    )
    home = tmp_path / "dagster_home"
    env = dict(
        os.environ,
        DAGSTER_HOME=str(home),
        ML_ASSETS_SENSOR_INTERVAL="2",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    summary_file = tmp_path / "summary.json"
    done = procs.run(
        [
            str(BIN / "ml-assets"),
            "demo",
            "--live-days",
            "5",
            "--quiet-seconds",
            "8",
            "--timeout",
            "400",
            "--summary-file",
            str(summary_file),
        ],
        env=env,
    )
    log = (home / "daemon.log").read_text() if (home / "daemon.log").exists() else ""
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:] + log[-3000:]
    facts = json.loads(summary_file.read_text())
    # The terminal gets progress lines and the summary; step logs and warnings go to the log
    # file the first line names.
    terminal = done.stdout + done.stderr
    assert "DEBUG" not in terminal and "Warning" not in terminal, terminal
    assert len(terminal.splitlines()) < 40, terminal
    details = Path(facts["log_file"])
    assert str(details.relative_to(home)) in done.stdout.splitlines()[0]
    assert "STEP_SUCCESS" in details.read_text()
    assert "Days scored: " in done.stdout and "Log: " in done.stdout
    assert facts["days_ingested"] == 14
    assert facts["failed_runs"] == 0
    assert facts["drift_retrains"] == 1 and facts["drift_retrains_succeeded"] == 1
    assert facts["drift_days"] == [day(10).isoformat()]
    assert facts["models_trained"] == 2

    # The runs were started by the sensors, as the instance's run storage records.
    with sqlite3.connect(home / "history" / "runs.db") as con:
        by_sensor = dict(
            con.execute(
                "select t.value, count(*) from runs r join run_tags t on t.run_id = r.run_id "
                "where t.key = 'dagster/sensor_name' and r.status = 'SUCCESS' group by t.value"
            ).fetchall()
        )
    assert by_sensor == {"landing_sensor": 5, "drift_sensor": 1}

    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        drifted = {
            r[0]
            for r in con.execute(
                "select distinct snapshot_date from monitoring.drift_report where drifted"
            ).fetchall()
        }
        scored = dict(
            con.execute(
                "select snapshot_date, min(model_version) from scoring.churn_predictions group by 1"
            ).fetchall()
        )
        retrains = con.execute(
            "select drift_partition, drifted_features, model_version, promoted, champion_after "
            "from monitoring.retrain_log"
        ).fetchall()
        profiles = con.execute(
            "select model_version from monitoring.reference_profiles order by 1"
        ).fetchall()
        references = {
            r[0]
            for r in con.execute(
                "select distinct reference_model_version from monitoring.drift_report"
            ).fetchall()
        }
        reference_by_day = dict(
            con.execute(
                "select snapshot_date, max(reference_model_version) from monitoring.drift_report "
                "group by 1"
            ).fetchall()
        )
    # The shift is caught on its first day. A later day checked against v1's reference (its
    # training window, before the shift) is flagged again; one checked against v2's, whose
    # reference is the new regime from the drift day on, is not: a lasting shift is one event.
    assert day(10) in drifted and not drifted - {day(i) for i in range(10, 14)}
    for i in range(11, 14):
        assert (day(i) in drifted) == (reference_by_day[day(i)] == 1), (i, reference_by_day)
    # One retrain, linked to its drift event, its model and the gate's decision.
    assert len(retrains) == 1
    partition, features, version, promoted, champion_after = retrains[0]
    assert partition == day(10).isoformat() and "monthly_charges" in features
    assert version == 2 and champion_after == (2 if promoted else 1)
    assert profiles == [(1,), (2,)]
    # After a promotion the reference moves with the champion.
    if promoted:
        assert references == {1, 2}

    # The evidence travelled to the MLflow run of the retrained model.
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlflow' / 'mlflow.db'}")
    run_id = client.get_model_version("churn_model", "2").run_id
    tags = client.get_run(run_id).data.tags
    assert tags["ml_assets.drift_partition"] == day(10).isoformat()
    assert tags["ml_assets.trigger"] == "drift"
    assert set(scored) == {day(i) for i in range(9, 14)}
    # Days scored after the retrain use the new champion.
    if facts["champion_version"] == 2:
        assert scored[day(13)] == 2

    # Running the demo again is safe: nothing new to do, nothing fails, no second retrain.
    again = procs.run(
        [
            str(BIN / "ml-assets"),
            "demo",
            "--live-days",
            "5",
            "--quiet-seconds",
            "4",
            "--summary-file",
            str(summary_file),
        ],
        env=env,
    )
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    # Nothing landed since: the second run does not even start the daemon.
    assert "nothing new since the last run" in again.stdout, again.stdout
    facts = json.loads(summary_file.read_text())
    assert facts["drift_retrains"] == 1 and facts["models_trained"] == 2
