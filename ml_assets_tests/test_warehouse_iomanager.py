"""The hazards of the stock DuckDB pandas IO manager, and that ours cannot have them.

Each test runs the same two materializations through Dagster twice: once with
``dagster_duckdb_pandas.DuckDBPandasIOManager`` (the hazard shows: rows lost or shifted)
and once with the project's ``DuckDBWarehouseIOManager`` (the old rows stay, or the write
goes by name). See STACK_NOTES.md, "DuckDBPandasIOManager".
"""

from __future__ import annotations

import datetime as dt
import gc
from dataclasses import dataclass

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, DailyPartitionsDefinition, asset, materialize
from dagster_duckdb_pandas import DuckDBPandasIOManager

from ml_assets.resources import DuckDBWarehouseIOManager

DAYS = DailyPartitionsDefinition(start_date="2025-01-01")
D1, D2 = "2025-01-01", "2025-01-02"


def io_manager(kind: str, path) -> object:
    if kind == "stock":
        return DuckDBPandasIOManager(database=str(path))
    return DuckDBWarehouseIOManager(database=str(path), lock_timeout_s=10)


def store(
    kind: str, path, frame: pd.DataFrame, partition: str | None = None, metadata: dict | None = None
):
    """Materialize ``frame`` as asset features/accounts (daily when ``partition`` is set)."""
    meta = dict(metadata or {})
    if partition:
        meta["partition_expr"] = "snapshot_date"

    @asset(key=["features", "accounts"], metadata=meta, partitions_def=DAYS if partition else None)
    def accounts() -> pd.DataFrame:
        return frame

    result = materialize(
        [accounts],
        resources={"io_manager": io_manager(kind, path)},
        instance=DagsterInstance.ephemeral(),
        partition_key=partition,
        raise_on_error=False,
    )
    outcome = Outcome(
        success=result.success,
        failure=" ".join(
            str(e.event_specific_data.error)
            for e in result.all_events
            if e.event_type_value == "STEP_FAILURE"
        ),
        metadata=[e.materialization.metadata for e in result.get_asset_materialization_events()],
    )
    # A failed stock write keeps its connection (and the file lock) alive through the
    # traceback frames held by the result; let it go before anything reads the file.
    del result
    gc.collect()
    return outcome


@dataclass
class Outcome:
    success: bool
    failure: str
    metadata: list


def rows(path, sql="select * from features.accounts order by account_id"):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def accounts(day: str, n: int = 3, offset: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "snapshot_date": pd.Timestamp(day),
            "monthly_charges": [10.0 + i + offset for i in range(n)],
            "total_charges": [1000.0 + i + offset for i in range(n)],
        }
    )


# --------------------------------------------------------------------------- new column


def test_stock_new_column_fails_after_the_delete_and_empties_the_table(tmp_path):
    db = tmp_path / "stock.duckdb"
    assert store("stock", db, accounts(D1)).success
    result = store("stock", db, accounts(D1, offset=5).assign(segment="x"))
    assert not result.success
    assert rows(db) == []  # the hazard: the delete committed, the insert failed


def test_ours_new_column_is_reported_and_rows_kept(tmp_path):
    db = tmp_path / "ours.duckdb"
    assert store("ours", db, accounts(D1)).success
    before = rows(db)
    result = store("ours", db, accounts(D1, offset=5).assign(segment="x"))
    assert not result.success
    text = result.failure
    assert "columns of features.accounts changed" in text and "new: ['segment']" in text
    assert "drop table features.accounts" in text  # what to do
    assert rows(db) == before and len(before) == 3


@pytest.mark.parametrize("kind", ["stock", "ours"])
def test_new_column_in_one_partition(tmp_path, kind):
    """Partitioned: stock loses the day being rewritten; ours keeps both days."""
    db = tmp_path / f"{kind}.duckdb"
    assert store(kind, db, accounts(D1), D1).success
    assert store(kind, db, accounts(D2), D2).success
    assert not store(kind, db, accounts(D2, offset=5).assign(segment="x"), D2).success
    days = [
        r[0]
        for r in rows(
            db, "select snapshot_date::date::varchar from features.accounts group by 1 order by 1"
        )
    ]
    assert days == ([D1] if kind == "stock" else [D1, D2])


# --------------------------------------------------------------------------- column order


def test_stock_reordered_columns_are_inserted_by_position(tmp_path):
    db = tmp_path / "stock.duckdb"
    assert store("stock", db, accounts(D1)).success
    swapped = accounts(D1, offset=1)[
        ["account_id", "snapshot_date", "total_charges", "monthly_charges"]
    ]
    assert store("stock", db, swapped).success  # it "succeeds" ...
    got = rows(
        db, "select monthly_charges, total_charges from features.accounts order by account_id"
    )
    assert got[0] == (1001.0, 11.0)  # ... with the two charges in each other's column


def test_ours_reordered_columns_are_inserted_by_name(tmp_path):
    db = tmp_path / "ours.duckdb"
    assert store("ours", db, accounts(D1)).success
    frame = accounts(D1, offset=1)
    swapped = frame[["total_charges", "account_id", "monthly_charges", "snapshot_date"]]
    assert store("ours", db, swapped).success
    got = rows(
        db,
        "select account_id, monthly_charges, total_charges from features.accounts "
        "order by account_id",
    )
    expected = list(
        frame[["account_id", "monthly_charges", "total_charges"]].itertuples(index=False, name=None)
    )
    assert got == expected


# --------------------------------------------------------------------------- empty frame


def test_stock_empty_frame_empties_the_table_and_succeeds(tmp_path):
    db = tmp_path / "stock.duckdb"
    assert store("stock", db, accounts(D1)).success
    assert store("stock", db, accounts(D1).iloc[0:0]).success
    assert rows(db) == []


def test_ours_empty_frame_is_refused_and_rows_kept(tmp_path):
    db = tmp_path / "ours.duckdb"
    assert store("ours", db, accounts(D1)).success
    before = rows(db)
    result = store("ours", db, accounts(D1).iloc[0:0])
    assert not result.success
    assert "empty frame" in result.failure and "allow_empty" in result.failure
    assert rows(db) == before


def test_ours_empty_partition_is_refused(tmp_path):
    db = tmp_path / "ours.duckdb"
    assert store("ours", db, accounts(D1), D1).success
    assert store("ours", db, accounts(D2), D2).success
    assert not store("ours", db, accounts(D2).iloc[0:0], D2).success
    assert len(rows(db)) == 6


def test_ours_empty_frame_allowed_by_metadata(tmp_path):
    db = tmp_path / "ours.duckdb"
    assert store("ours", db, accounts(D1)).success
    result = store("ours", db, accounts(D1).iloc[0:0], metadata={"allow_empty": True})
    assert result.success
    assert rows(db) == []


# --------------------------------------------------------------------------- one transaction


def test_ours_failing_insert_leaves_the_partition_as_it_was(tmp_path):
    """A value that cannot be stored fails inside the transaction: the delete is undone."""
    db = tmp_path / "ours.duckdb"
    assert store("ours", db, accounts(D1), D1).success
    before = rows(db)
    bad = accounts(D1, offset=9).astype({"total_charges": object})
    bad.loc[1, "total_charges"] = "not a number"
    assert not store("ours", db, bad, D1).success
    assert rows(db) == before


def test_ours_reports_row_count_and_table(tmp_path):
    db = tmp_path / "ours.duckdb"
    result = store("ours", db, accounts(D1, n=4), D1)
    [meta] = result.metadata
    assert meta["dagster/row_count"].value == 4
    assert meta["dagster/table_name"].value == "features.accounts"
    assert dt.date(2025, 1, 1) == rows(db, "select min(snapshot_date) from features.accounts")[0][0]
