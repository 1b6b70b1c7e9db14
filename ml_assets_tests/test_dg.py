"""`dg` on the project ([tool.dg] in pyproject.toml): check and list the definitions, launch one
partition, and what a user reads when a landing file is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ml_assets import settings
from ml_assets_tests import dagster_processes as procs
from ml_assets_tests.conftest import day, write_days
from ml_assets_tests.test_definitions import CONTRACT_EDGES

# Every test here runs the dg command line as a process.
pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def dg(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return procs.run(
        [str(BIN / "dg"), *args], cwd=settings.PROJECT_ROOT, env=env or dict(os.environ)
    )


def _env(tmp: Path) -> dict:
    home = tmp / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return dict(os.environ, DAGSTER_HOME=str(home), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")


def break_first_row(path: Path, column: str, value: str) -> None:
    """Set ``column`` of a landing file's first row to ``value``."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index(column)] = value
    path.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")


def test_dg_check_and_list_defs_see_the_contract():
    checked = dg("check", "defs")
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    listed = dg("list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    defs = json.loads(listed.stdout)
    assets = {a["asset_key"] for a in defs["assets"]}
    assert assets == {key for edge in CONTRACT_EDGES for key in edge}
    assert {"ingest_job", "retrain_job"} <= {j["name"] for j in defs["jobs"]}
    assert {"landing_sensor", "drift_sensor"} <= {s["name"] for s in defs["sensors"]}


def test_dg_launch_one_partition_and_a_refused_file(project, tmp_path):
    write_days(project / "landing", 2, rows=80)
    env = _env(tmp_path)
    done = dg(
        "launch",
        "--assets",
        "raw/customer_snapshots,features/customer_features",
        "--partition",
        day(0).isoformat(),
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from features.customer_features").fetchone()[0] == 80

    # A refused file: the reason (file, column, rule, rows) is among the last lines a user
    # sees (the run's failure, then one stack trace), without chained tracebacks (the landing
    # error and pandera's report used to add two more, 187 lines in all) or Dagster's beta
    # notices.
    bad = project / "landing" / f"customers_{day(1).isoformat()}.csv"
    break_first_row(bad, "monthly_charges", "-5.0")
    done = dg(
        "launch", "--assets", "raw/customer_snapshots", "--partition", day(1).isoformat(), env=env
    )
    out = done.stdout + done.stderr
    assert done.returncode != 0
    reason = f"{bad.name}: column monthly_charges breaks rule"
    lines = out.splitlines()
    assert reason in "\n".join(lines[-40:]), out[-3000:]
    assert len(lines) < 100, out[-3000:]
    assert "SchemaErrors" not in out and "The above exception" not in out, out[-3000:]
    assert "BetaWarning" not in out, out[:3000]
