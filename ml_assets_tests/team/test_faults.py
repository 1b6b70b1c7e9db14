"""Faults of the lake's servers: PostgreSQL or S3 down (at start and mid-run), a wrong
password, a catalog locked by another session. Each fails with one message naming the
server, what happened and what to do; earlier rows are unchanged; once the server is back,
the same write succeeds."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil

import pandas as pd
import psycopg2
import pytest

from ml_assets import settings
from ml_assets import warehouse as wh
from ml_assets.team import stack as team_stack
from ml_assets_tests.team.conftest import lake_env, new_database

pytestmark = pytest.mark.team

DAY = dt.date(2025, 1, 1)


def frame(n: int, value: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "snapshot_date": pd.to_datetime([DAY] * n),
            "value": [value] * n,
        }
    )


def write(df: pd.DataFrame) -> None:
    with wh.connect(settings.warehouse()) as con:
        wh.replace_rows(
            con, "raw", "t", df, partition_column="snapshot_date", partition_range=(DAY, DAY)
        )


def stored() -> pd.DataFrame:
    with wh.connect(settings.warehouse(), read_only=True) as con:
        return con.execute("select * from raw.t order by customer_id").df()


def one_sentence_naming(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, (part, message)
    assert "\n" not in message


@pytest.fixture()
def folder_lake(team, tmp_path, monkeypatch) -> dict[str, str]:
    env = lake_env(team, new_database(team, "lake"), f"{tmp_path / 'lake'}/")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env
    wh._forget_lake(env["ML_ASSETS_WAREHOUSE"])


def test_postgres_down_at_start(team, monkeypatch, tmp_path):
    port = team_stack.free_port()
    monkeypatch.setenv(
        "ML_ASSETS_WAREHOUSE", f"ducklake:postgres:dbname=lake host=127.0.0.1 port={port} user=x"
    )
    monkeypatch.setenv("ML_ASSETS_LAKE_DATA_PATH", f"{tmp_path}/lake/")
    with pytest.raises(wh.WarehouseError) as caught:
        write(frame(3, 1.0))
    one_sentence_naming(
        str(caught.value), f"PostgreSQL 127.0.0.1:{port}", "unreachable", "make team-up"
    )


def test_wrong_password(folder_lake, monkeypatch, team):
    write(frame(3, 1.0))
    wh._forget_lake(folder_lake["ML_ASSETS_WAREHOUSE"])
    monkeypatch.setenv("PGPASSWORD", "not-the-password")
    with pytest.raises(wh.WarehouseError) as caught:
        write(frame(5, 2.0))
    one_sentence_naming(
        str(caught.value), f"127.0.0.1:{team.postgres.port}", "refused the login", "PGPASSWORD"
    )
    monkeypatch.setenv("PGPASSWORD", team.postgres.password)
    assert list(stored()["value"]) == [1.0] * 3


def test_catalog_locked_by_another_session(folder_lake, monkeypatch, team):
    write(frame(3, 1.0))
    wh._forget_lake(folder_lake["ML_ASSETS_WAREHOUSE"])
    monkeypatch.setattr(wh, "CATALOG_LOCK_TIMEOUT_MS", 2000)
    pg = team.postgres
    dbname = re.search(r"dbname=(\S+)", folder_lake["ML_ASSETS_WAREHOUSE"]).group(1)
    holder = psycopg2.connect(
        dbname=dbname, host=pg.host, port=pg.port, user=pg.user, password=pg.password
    )
    try:
        with holder.cursor() as cur:
            cur.execute("lock table ducklake_snapshot in access exclusive mode")
        with pytest.raises(wh.WarehouseError) as caught:
            write(frame(5, 2.0))
        one_sentence_naming(str(caught.value), "stayed locked", "pg_stat_activity", dbname)
    finally:
        holder.rollback()
        holder.close()
    assert list(stored()["value"]) == [1.0] * 3
    write(frame(5, 2.0))  # the lock is gone: the same write succeeds
    assert list(stored()["value"]) == [2.0] * 5


def test_postgres_down_mid_run_and_back(tmp_path, monkeypatch):
    """A cluster of its own, stopped hard between two writes and started again."""
    root = tmp_path / "own"
    pg = team_stack.start_postgres(root, "pw-" + os.urandom(6).hex())
    try:
        own = team_stack.Stack(root=str(root), postgres=pg)
        for key, value in lake_env_without_s3(own, tmp_path).items():
            monkeypatch.setenv(key, value)
        write(frame(3, 1.0))
        team_stack.kill_postgres(pg)
        with pytest.raises(wh.WarehouseError) as caught:
            write(frame(5, 2.0))
        one_sentence_naming(
            str(caught.value), f"PostgreSQL 127.0.0.1:{pg.port}", "unreachable", "unchanged"
        )
        team_stack.restart_postgres(pg)
        assert list(stored()["value"]) == [1.0] * 3
        write(frame(5, 2.0))
        assert list(stored()["value"]) == [2.0] * 5
    finally:
        wh._forget_lake(os.environ.get("ML_ASSETS_WAREHOUSE", ""))
        team_stack.stop_postgres(pg)
        shutil.rmtree(pg.home, ignore_errors=True)


def lake_env_without_s3(stack: team_stack.Stack, tmp_path) -> dict[str, str]:
    return {
        "ML_ASSETS_WAREHOUSE": stack.warehouse_uri(),
        "ML_ASSETS_LAKE_DATA_PATH": f"{tmp_path / 'own_lake'}/",
        "PGPASSWORD": stack.postgres.password,
    }


def test_s3_down_mid_run(team, tmp_path, monkeypatch):
    """The object store of its own goes away between two writes: a clear error, and the
    catalog (so the lake's contents) did not change."""
    pid, port = team_stack.start_s3(tmp_path)
    try:
        database = new_database(team, "lake")
        env = lake_env(team, database, f"s3://lake/{database}/")
        env.update(team_stack.s3_env(f"http://127.0.0.1:{port}"))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        write(frame(3000, 1.0))  # big enough to be written as Parquet, not inlined
        pg = team.postgres
        with (
            psycopg2.connect(
                dbname=database, host=pg.host, port=pg.port, user=pg.user, password=pg.password
            ) as con,
            con.cursor() as cur,
        ):
            cur.execute("select max(snapshot_id) from ducklake_snapshot")
            before = cur.fetchone()[0]
        team_stack.stop_process(pid)
        pid = None
        with pytest.raises(wh.WarehouseError) as caught:
            write(frame(3000, 2.0))
        one_sentence_naming(str(caught.value), f"127.0.0.1:{port}", "object store", "unchanged")
        with (
            psycopg2.connect(
                dbname=database, host=pg.host, port=pg.port, user=pg.user, password=pg.password
            ) as con,
            con.cursor() as cur,
        ):
            cur.execute("select max(snapshot_id) from ducklake_snapshot")
            assert cur.fetchone()[0] == before
    finally:
        wh._forget_lake(os.environ.get("ML_ASSETS_WAREHOUSE", ""))
        team_stack.stop_process(pid)
