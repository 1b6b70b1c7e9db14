"""The warehouse's guarantees on the DuckLake lake (catalog in PostgreSQL, data in a folder
or in S3): one-transaction day replace, insert by name, refusals that keep the old rows,
nothing half-written after a SIGKILL, and concurrent writers of different days."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml_assets import settings
from ml_assets import warehouse as wh

pytestmark = pytest.mark.team

D1, D2, D3 = dt.date(2025, 1, 1), dt.date(2025, 1, 2), dt.date(2025, 1, 3)


def day_frame(day: dt.date, n: int = 3, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{offset + i}" for i in range(n)],
            "snapshot_date": pd.to_datetime([day] * n),
            "value": np.arange(n, dtype=float) + offset,
        }
    )


def write(frame: pd.DataFrame, day: dt.date | None, **kwargs) -> int:
    with wh.connect(settings.warehouse()) as con:
        return wh.replace_rows(
            con,
            "raw",
            "t",
            frame,
            partition_column="snapshot_date" if day else None,
            partition_range=(day, day) if day else None,
            **kwargs,
        )


def rows() -> pd.DataFrame:
    with wh.connect(settings.warehouse(), read_only=True) as con:
        frame = con.execute("select * from raw.t order by snapshot_date, customer_id").df()
    return frame.reset_index(drop=True)


def test_lake_is_selected_by_the_environment(lake):
    assert wh.is_lake(settings.warehouse())
    write(day_frame(D1), D1)
    with wh.connect(settings.warehouse(), read_only=True) as con:
        catalog = con.execute("select current_database()").fetchone()[0]
        stored = con.execute(
            "select data_type from information_schema.columns where table_catalog = ? "
            "and table_name = 't' and column_name = 'snapshot_date'",
            [catalog],
        ).fetchone()
    assert catalog == wh.LAKE_ALIAS
    assert stored == ("DATE",)
    # The rows live in the lake's data path, not in a DuckDB file.
    assert not settings.duckdb_path().exists()


def test_day_replace_touches_only_its_day(lake):
    write(day_frame(D1, 3), D1)
    write(day_frame(D2, 4), D2)
    write(day_frame(D2, 2, offset=10), D2)
    got = rows()
    counts = got.groupby(got["snapshot_date"].astype(str)).size().to_dict()
    assert counts == {"2025-01-01": 3, "2025-01-02": 2}
    assert sorted(got.loc[got["snapshot_date"].astype(str) == "2025-01-02", "customer_id"]) == [
        "c10",
        "c11",
    ]


def test_insert_is_by_column_name(lake):
    write(day_frame(D1), D1)
    shuffled = day_frame(D2)[["value", "customer_id", "snapshot_date"]]
    write(shuffled, D2)
    got = rows()
    second = got[got["snapshot_date"].astype(str) == "2025-01-02"]
    pd.testing.assert_series_equal(
        second["value"].reset_index(drop=True), day_frame(D2)["value"], check_names=False
    )
    assert list(second["customer_id"]) == ["c0", "c1", "c2"]


def test_empty_frame_is_refused_and_rows_kept(lake):
    write(day_frame(D1), D1)
    before = rows()
    with pytest.raises(wh.WarehouseError, match="empty frame"):
        write(day_frame(D1).iloc[0:0], D1)
    pd.testing.assert_frame_equal(rows(), before)


@pytest.mark.parametrize("change", ["add", "drop"])
def test_changed_columns_are_refused_and_rows_kept(lake, change):
    write(day_frame(D1), D1)
    before = rows()
    frame = day_frame(D1)
    frame = frame.assign(extra=1) if change == "add" else frame.drop(columns=["value"])
    with pytest.raises(wh.WarehouseError, match=r"columns of raw\.t changed"):
        write(frame, D1)
    pd.testing.assert_frame_equal(rows(), before)


def test_failed_insert_rolls_back_the_delete(lake):
    write(day_frame(D1), D1)
    before = rows()
    bad = day_frame(D1).assign(value=["x", "y", "z"])  # text into a DOUBLE column
    with pytest.raises(Exception, match=r"(?i)convert|cast"):
        write(bad, D1)
    pd.testing.assert_frame_equal(rows(), before)


CHILD = textwrap.dedent(
    """
    import sys, datetime as dt
    import pandas as pd
    from ml_assets import settings, warehouse as wh
    day = dt.date(2025, 1, 1)
    frame = pd.DataFrame({"customer_id": ["n0", "n1"], "snapshot_date": pd.to_datetime([day] * 2),
                          "value": [100.0, 101.0]})
    with wh.connect(settings.warehouse()) as con:
        wh.replace_rows(con, "raw", "t", frame, partition_column="snapshot_date",
                        partition_range=(day, day))
    """
)


@pytest.mark.parametrize("phase", ["after_delete", "after_commit"])
def test_sigkill_mid_write_leaves_old_or_new(lake, tmp_path, phase):
    write(day_frame(D1), D1)
    before = rows()
    marker = tmp_path / "paused"
    env = {**os.environ, wh.TEST_PAUSE_ENV: f"{phase}:raw.t:{marker}"}
    proc = subprocess.Popen([sys.executable, "-c", CHILD], env=env, start_new_session=True)
    try:
        while not marker.exists():
            assert proc.poll() is None, f"the writer exited ({proc.returncode}) before pausing"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    after = rows()
    if phase == "after_delete":
        pd.testing.assert_frame_equal(after, before)
    else:
        assert list(after["customer_id"]) == ["n0", "n1"]
        assert list(after["value"]) == [100.0, 101.0]
    # The lake stays writable: the next write of that day succeeds.
    write(day_frame(D1, 5), D1)
    assert len(rows()) == 5


WRITER = textwrap.dedent(
    """
    import sys, datetime as dt
    import numpy as np, pandas as pd
    from ml_assets import settings, warehouse as wh
    first, count, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    for i in range(first, first + count):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=i)
        for attempt in range(2):  # the second write of a day replaces the first
            frame = pd.DataFrame({"customer_id": [f"c{j}" for j in range(n)],
                                  "snapshot_date": pd.to_datetime([day] * n),
                                  "value": np.full(n, float(i * 10 + attempt))})
            with wh.connect(settings.warehouse()) as con:
                wh.replace_rows(con, "raw", "t", frame, partition_column="snapshot_date",
                                partition_range=(day, day))
    """
)


def test_concurrent_writers_of_different_days(lake):
    """Four processes replace days of one (not yet existing) table at once: they race to
    create it and then delete and insert concurrently; every row is there exactly once."""
    writers, days_each, n = 4, 2, 50
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(w * days_each), str(days_each), str(n)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    errors = [p.communicate()[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(errors)[-3000:]
    got = rows()
    assert len(got) == writers * days_each * n
    assert not got.duplicated(["customer_id", "snapshot_date"]).any()
    per_day = got.groupby(got["snapshot_date"].astype(str))["value"].agg(["count", "min", "max"])
    expected_value = np.arange(writers * days_each) * 10 + 1.0  # the second write of each day
    assert (per_day["count"] == n).all()
    np.testing.assert_array_equal(per_day["min"].to_numpy(), expected_value)
    np.testing.assert_array_equal(per_day["max"].to_numpy(), expected_value)


def test_rows_survive_a_new_process(lake):
    """What one process committed, another one (fresh DuckDB instance) reads."""
    write(day_frame(D3, 7), D3)
    code = (
        "from ml_assets import settings, warehouse as wh\n"
        "with wh.connect(settings.warehouse(), read_only=True) as con:\n"
        "    print(con.execute('select count(*) from raw.t').fetchone()[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "7"


def test_data_files_are_in_the_data_path(lake):
    # Enough rows that DuckLake writes a Parquet file (tiny inserts may be inlined in the
    # catalog database).
    write(day_frame(D1, n=5000), D1)
    data_path = settings.lake_data_path()
    if data_path.startswith("s3://"):
        import boto3

        bucket, prefix = data_path[5:].split("/", 1)
        client = boto3.client(
            "s3",
            endpoint_url=os.environ["ML_ASSETS_S3_ENDPOINT"],
            region_name=os.environ["AWS_DEFAULT_REGION"],
        )
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    else:
        keys = [str(p) for p in Path(data_path).rglob("*.parquet")]
    assert any(k.endswith(".parquet") for k in keys)
