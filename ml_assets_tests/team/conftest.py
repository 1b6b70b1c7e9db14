"""Fixtures of the team-profile tests: real servers on 127.0.0.1, started and stopped here.

One PostgreSQL cluster and one S3 server (moto) per test session (about 5 s); the MLflow
server only for the tests that ask for it. Each test gets its own lake (a fresh catalog
database and data prefix), so tests never see each other's tables.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_assets import warehouse
from ml_assets.team import stack as team_stack

_COUNTER = itertools.count()


@pytest.fixture(scope="session")
def team(tmp_path_factory) -> Iterator[team_stack.Stack]:
    """PostgreSQL (the machine's binaries; apt-get installs them if missing) and moto S3."""
    root = tmp_path_factory.mktemp("team")
    try:
        pg = team_stack.start_postgres(root, "pw-" + os.urandom(8).hex(), install=True)
    except (team_stack.StackError, OSError) as exc:
        if shutil.which("apt-get") is None or "not found" in str(exc):
            pytest.skip(f"no PostgreSQL server binaries and none can be installed: {exc}")
        raise
    stack = team_stack.Stack(root=str(root), postgres=pg)
    try:
        stack.s3_pid, stack.s3_port = team_stack.start_s3(root)
        yield stack
    finally:
        team_stack.stop_process(stack.mlflow_pid)
        team_stack.stop_process(stack.s3_pid)
        team_stack.stop_postgres(pg)
        shutil.rmtree(pg.home, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(team) -> str:
    """An MLflow tracking server on the session's PostgreSQL, artifacts proxied to moto S3."""
    root = Path(team.root)
    team.mlflow_pid, team.mlflow_port = team_stack.start_mlflow(
        root, team.postgres, "s3://mlflow/artifacts", team.s3_endpoint
    )
    return team.mlflow_uri


def new_database(team: team_stack.Stack, prefix: str) -> str:
    import psycopg2

    pg = team.postgres
    name = f"{prefix}_{os.getpid()}_{next(_COUNTER)}"
    con = psycopg2.connect(
        dbname="postgres", host=pg.host, port=pg.port, user=pg.user, password=pg.password
    )
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f"create database {name}")
    con.close()
    return name


def lake_env(team: team_stack.Stack, database: str, data_path: str) -> dict[str, str]:
    env = {
        "ML_ASSETS_WAREHOUSE": f"ducklake:postgres:{team.postgres.dsn(database)}",
        "ML_ASSETS_LAKE_DATA_PATH": data_path,
        "PGPASSWORD": team.postgres.password,
    }
    env.update(team_stack.s3_env(team.s3_endpoint))
    return env


@pytest.fixture(params=["folder", "s3"])
def lake(request, team, tmp_path, monkeypatch) -> Iterator[str]:
    """A fresh, empty lake (catalog database in PostgreSQL; data in a folder or in S3), set
    as the warehouse in the environment; yields its ``ducklake:`` URI."""
    database = new_database(team, "lake")
    folder = f"{tmp_path / 'lake'}/"
    data_path = f"s3://lake/{database}/" if request.param == "s3" else folder
    env = lake_env(team, database, data_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env["ML_ASSETS_WAREHOUSE"]
    warehouse._forget_lake(env["ML_ASSETS_WAREHOUSE"])


@pytest.fixture()
def team_instance(team, project, tmp_path, monkeypatch) -> Path:
    """The team profile's Dagster instance (config/dagster-team.yaml) on a fresh PostgreSQL
    database, and a fresh lake (data in a folder) as the warehouse; returns DAGSTER_HOME.
    MLflow stays the project fixture's SQLite store (these tests are about the instance)."""
    from ml_assets import settings

    pg = team.postgres
    for key, value in {
        "ML_ASSETS_PG_HOST": pg.host,
        "ML_ASSETS_PG_PORT": str(pg.port),
        "ML_ASSETS_PG_USER": pg.user,
        "ML_ASSETS_PG_DB": new_database(team, "dagster"),
        **lake_env(team, new_database(team, "lake"), f"{tmp_path / 'lake'}/"),
    }.items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(settings.PROJECT_ROOT / "config" / "dagster-team.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    yield home
    warehouse._forget_lake(os.environ["ML_ASSETS_WAREHOUSE"])
