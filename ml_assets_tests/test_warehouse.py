"""Tests of ml_assets.warehouse on a real DuckDB file."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import textwrap
import time

import duckdb
import pandas as pd
import pytest

from ml_assets import warehouse as wh

D1, D2, D3 = dt.date(2025, 1, 1), dt.date(2025, 1, 2), dt.date(2025, 1, 3)


def day_frame(day, n=3, offset=0):
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "snapshot_date": pd.Timestamp(day),
            "score": [float(i + offset) for i in range(n)],
            "count_value": [i * 10 + offset for i in range(n)],
        }
    )


def raw_rows(path, sql):
    """Read with a plain duckdb connection, independent of read_rows."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def write(path, frame, day_range=None, **kwargs):
    with wh.connect(path) as con:
        return wh.replace_rows(
            con,
            "features",
            "daily",
            frame,
            partition_column="snapshot_date" if day_range else None,
            partition_range=day_range,
            **kwargs,
        )


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "warehouse.duckdb"
    for day in (D1, D2, D3):
        write(path, day_frame(day), (day, day))
    return path


@pytest.fixture
def db(template_db, tmp_path):
    """A warehouse with three days of three rows each (a copy per test)."""
    path = tmp_path / "wh" / "warehouse.duckdb"
    path.parent.mkdir()
    shutil.copyfile(template_db, path)
    return path


def count_by_day(path):
    rows = raw_rows(
        path, "select snapshot_date, count(*), sum(score) from features.daily group by 1 order by 1"
    )
    return {d: (n, s) for d, n, s in rows}


def test_partition_replace_touches_only_its_range(db):
    before = count_by_day(db)
    assert before == {D1: (3, 3.0), D2: (3, 3.0), D3: (3, 3.0)}
    written = write(db, day_frame(D2, n=5, offset=100), (D2, D2))
    assert written == 5
    after = count_by_day(db)
    assert after[D1] == before[D1] and after[D3] == before[D3]
    assert after[D2] == (5, sum(100.0 + i for i in range(5)))


def test_whole_table_replace_without_partition(db):
    write(db, day_frame(D1, n=2, offset=7))
    assert count_by_day(db) == {D1: (2, 15.0)}


def test_insert_is_by_column_name(db):
    frame = day_frame(D2, n=2, offset=5)[["count_value", "score", "snapshot_date", "customer_id"]]
    write(db, frame, (D2, D2))
    rows = raw_rows(
        db,
        "select customer_id, score, count_value from features.daily "
        "where snapshot_date = '2025-01-02' order by customer_id",
    )
    assert rows == [("C0", 5.0, 5), ("C1", 6.0, 15)]


def test_date_columns_are_stored_as_date(db):
    types = dict(
        raw_rows(
            db,
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'daily'",
        )
    )
    assert types["snapshot_date"] == "DATE"
    assert raw_rows(db, "select min(snapshot_date) from features.daily")[0][0] == D1


def test_empty_frame_is_refused_and_rows_kept(db):
    with pytest.raises(wh.WarehouseError, match="empty frame"):
        write(db, day_frame(D2).iloc[0:0], (D2, D2))
    assert count_by_day(db)[D2] == (3, 3.0)


def test_allow_empty_empties_the_partition(db):
    assert write(db, day_frame(D2).iloc[0:0], (D2, D2), allow_empty=True) == 0
    assert set(count_by_day(db)) == {D1, D3}


@pytest.mark.parametrize("change", ["add", "drop"])
def test_changed_columns_raise_and_keep_old_rows(db, change):
    frame = day_frame(D2, offset=50)
    frame = frame.assign(extra=1) if change == "add" else frame.drop(columns="count_value")
    with pytest.raises(wh.WarehouseError, match=r"columns of features\.daily changed"):
        write(db, frame, (D2, D2))
    assert count_by_day(db) == {D1: (3, 3.0), D2: (3, 3.0), D3: (3, 3.0)}
    # The connection that saw the failure is usable again (the transaction was rolled back).
    with wh.connect(db) as con:
        with pytest.raises(wh.WarehouseError):
            wh.replace_rows(con, "features", "daily", frame, "snapshot_date", (D2, D2))
        wh.replace_rows(
            con, "features", "daily", day_frame(D2, offset=1), "snapshot_date", (D2, D2)
        )
    assert count_by_day(db)[D2] == (3, 6.0)


def test_failed_insert_rolls_back_the_delete(db):
    """A value that does not fit the column fails after the delete; the delete is undone."""
    frame = day_frame(D2).astype({"count_value": object})
    frame.loc[0, "count_value"] = "not a number"
    with pytest.raises(duckdb.Error):
        write(db, frame, (D2, D2))
    assert count_by_day(db)[D2] == (3, 3.0)


def test_rows_outside_the_partition_are_refused(db):
    frame = pd.concat([day_frame(D2, offset=9), day_frame(D3, n=2, offset=9)])
    with pytest.raises(wh.WarehouseError, match=r"2 rows .* outside the partition"):
        write(db, frame, (D2, D2))
    assert count_by_day(db) == {D1: (3, 3.0), D2: (3, 3.0), D3: (3, 3.0)}


def test_nothing_is_created_for_a_refused_first_write(tmp_path):
    path = tmp_path / "fresh.duckdb"
    with pytest.raises(wh.WarehouseError):
        write(path, day_frame(D2), (D1, D1))
    assert raw_rows(
        path, "select count(*) from information_schema.tables where table_name = 'daily'"
    ) == [(0,)]


def test_read_rows_by_range_and_columns(db):
    with wh.connect(db, read_only=True) as con:
        out = wh.read_rows(
            con, "features", "daily", ["customer_id", "score"], "snapshot_date", (D2, D3)
        )
    assert list(out.columns) == ["customer_id", "score"]
    assert len(out) == 6


def test_read_rows_of_missing_table(db):
    with (
        wh.connect(db, read_only=True) as con,
        pytest.raises(wh.WarehouseError, match="does not exist"),
    ):
        wh.read_rows(con, "features", "nope")


def test_read_only_connect_to_missing_file(tmp_path):
    with (
        pytest.raises(wh.WarehouseError, match="does not exist"),
        wh.connect(tmp_path / "missing.duckdb", read_only=True),
    ):
        pass


@pytest.mark.parametrize(
    "name", ["x; drop table y", "A", "1abc", "", "a-b", "a b", "é", 't"', "a.b", "x\ny"]
)
def test_check_identifier_rejects_unsafe_names(name):
    with pytest.raises(wh.WarehouseError, match="not a valid"):
        wh.check_identifier(name)


def test_check_identifier_rejects_a_trailing_newline():
    with pytest.raises(wh.WarehouseError, match="not a valid"):
        wh.check_identifier("x\n")


@pytest.mark.parametrize("name", ["a", "_x", "customer_features", "col_2"])
def test_check_identifier_accepts_plain_names(name):
    assert wh.check_identifier(name) == name


def test_unsafe_column_name_is_refused_before_writing(db):
    frame = day_frame(D2).rename(columns={"score": "score; drop table features.daily"})
    with pytest.raises(wh.WarehouseError, match="not a valid"):
        write(db, frame, (D2, D2))
    assert count_by_day(db)[D2] == (3, 3.0)


def test_unsafe_table_name_is_refused(db):
    with wh.connect(db) as con, pytest.raises(wh.WarehouseError):
        wh.replace_rows(con, "features", "daily; drop table features.daily", day_frame(D1))


# --------------------------------------------------------------------------- file lock

HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
""")


def hold_lock(path, seconds):
    """Start another process that holds the DuckDB file lock for ``seconds``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.slow
def test_connect_waits_for_a_lock_held_by_another_process(db):
    proc = hold_lock(db, 1.0)
    try:
        start = time.monotonic()
        with wh.connect(db, lock_timeout_s=20) as con:
            waited = time.monotonic() - start
            assert con.execute("select count(*) from features.daily").fetchone() == (9,)
        assert waited > 0.3  # it really had to wait for the other process
    finally:
        proc.wait(timeout=20)


@pytest.mark.slow
def test_connect_gives_up_after_the_timeout(db):
    proc = hold_lock(db, 15.0)
    try:
        start = time.monotonic()
        with (
            pytest.raises(wh.WarehouseError, match="locked by another process") as info,
            wh.connect(db, lock_timeout_s=1.0),
        ):
            pass
        elapsed = time.monotonic() - start
        assert 1.0 <= elapsed < 8.0
        assert str(db) in str(info.value) and "retry" in str(info.value)
    finally:
        proc.kill()
        proc.wait(timeout=20)
