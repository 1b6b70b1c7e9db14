"""The DuckDB warehouse: atomic, by-name writes and bounded waits for the file lock.

Plain functions (no Dagster) so the IO manager, the CLI and benchmarks share them.
A write replaces a whole table or a range of days inside one transaction and inserts by
column name, so a failure leaves the previous rows in place and a frame's column order
can never shift values into the wrong column.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb
import pandas as pd

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")
# Test hook only (crash tests): "<phase>:<schema.table>:<marker file>" makes a write to that
# table stop at that phase, create the marker file and wait, so a test can kill the process
# there. Phases: "after_delete" (inside the transaction, old rows deleted, new ones not yet
# inserted) and "after_commit". Unset in normal use: the check is one dictionary lookup.
TEST_PAUSE_ENV = "ML_ASSETS_TEST_PAUSE_WRITE"
_DISK_FULL_MARKERS = ("No space left on device", "disk is full")


class WarehouseError(RuntimeError):
    """A warehouse operation that cannot go ahead; the message says why and what to do."""


def _pause_for_test(phase: str, target: str) -> None:
    spec = os.environ.get(TEST_PAUSE_ENV)
    if not spec:
        return
    want_phase, want_target, marker = spec.split(":", 2)
    if (want_phase, want_target) != (phase, target):
        return
    Path(marker).write_text(str(os.getpid()))
    # Wait to be killed; carry on if the test removes the marker (or after two minutes).
    deadline = time.monotonic() + 120
    while Path(marker).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def check_identifier(name: str) -> str:
    """Return ``name`` if it is a safe lower-case SQL identifier, else raise."""
    if not _IDENTIFIER.fullmatch(name):
        raise WarehouseError(
            f"{name!r} is not a valid table or column name (lower-case letters, digits, _)."
        )
    return name


def qualified(schema: str, table: str) -> str:
    return f"{check_identifier(schema)}.{check_identifier(table)}"


def qualified_name(dotted: str) -> str:
    """``schema.table`` (as the dataset names give it), each part checked."""
    schema, _, table = dotted.partition(".")
    return qualified(schema, table)


_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quoted(column: str) -> str:
    """A dataset column name as a quoted SQL identifier: letters, digits and ``_`` only (a
    spec's column names may have capitals, which plain identifiers would fold)."""
    if not _COLUMN_NAME.fullmatch(column):
        raise WarehouseError(f"{column!r} is not a valid column name (letters, digits and _ only).")
    return f'"{column}"'


@contextmanager
def connect(
    path: Path, read_only: bool = False, lock_timeout_s: float = 120.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, waiting with backoff while another process holds its lock."""
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(
            f"The warehouse {path} does not exist yet; materialize the upstream assets first."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if not any(m in str(exc) for m in _LOCK_MARKERS):
                raise
            if time.monotonic() > deadline:
                raise WarehouseError(
                    f"The warehouse {path} stayed locked by another process for "
                    f"{lock_timeout_s:g} s ({exc}). Close notebooks or DB browsers holding "
                    "it, or wait for the running Dagster run to finish, then retry."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    try:
        yield con
    except duckdb.Error as exc:
        if any(m in str(exc) for m in _DISK_FULL_MARKERS):
            raise WarehouseError(
                f"The disk holding the warehouse {path} is full ({exc}). Nothing was written "
                "by this step and the earlier rows are unchanged; free space there (or move "
                "the warehouse with ML_ASSETS_DUCKDB_PATH) and run the step again."
            ) from exc
        raise
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [r[0] for r in rows]


def _date_casts(frame: pd.DataFrame) -> str:
    # Day columns arrive as pandas timestamps; store them as DATE, as DESIGN.md says.
    cols = [
        c
        for c in frame.columns
        if c.endswith("_date") and pd.api.types.is_datetime64_any_dtype(frame[c])
    ]
    if not cols:
        return "*"
    casts = ", ".join(f"cast({check_identifier(c)} as date) as {check_identifier(c)}" for c in cols)
    return f"* replace ({casts})"


@contextmanager
def _incoming(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame
) -> Iterator[str]:
    """Register ``frame`` as a view and open a transaction; commit on success, else roll back.

    Creates the schema, and yields the view's name. Column names are validated first.
    """
    for col in frame.columns:
        check_identifier(str(col))
    view = f"incoming_{check_identifier(table)}"
    con.register(view, frame)
    try:
        con.execute("begin transaction")
        try:
            con.execute(f"create schema if not exists {check_identifier(schema)}")
            yield view
            con.execute("commit")
        except BaseException:
            # A commit that failed (disk full, say) has already ended the transaction; its
            # error is the one to report, not "no transaction is active".
            with suppress(duckdb.Error):
                con.execute("rollback")
            raise
    finally:
        con.unregister(view)


def replace_rows(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    frame: pd.DataFrame,
    partition_column: str | None = None,
    partition_range: tuple[dt.date, dt.date] | None = None,
    allow_empty: bool = False,
) -> int:
    """Replace a table, or the rows of a range of days, with ``frame`` in one transaction.

    Parameters
    ----------
    partition_column, partition_range
        When given, only rows whose ``partition_column`` falls in the inclusive range are
        replaced; every row of ``frame`` must fall in it.
    allow_empty
        An empty frame deletes the old rows only when this is True; otherwise it is refused,
        because an empty result is far more often a bug than a fact.

    Returns
    -------
    int
        The number of rows written.
    """
    target = qualified(schema, table)
    if partition_column is not None:
        check_identifier(partition_column)
        if partition_column not in frame.columns:
            raise WarehouseError(
                f"The partition column {partition_column} is not a column of the frame for "
                f"{target}; set the asset's partition_expr metadata to its day column."
            )
    if frame.empty and not allow_empty:
        raise WarehouseError(
            f"Refusing to replace {target}"
            + (f" for {partition_range[0]}..{partition_range[1]}" if partition_range else "")
            + " with an empty frame: the existing rows are kept. If empty output is expected, "
            "mark the asset with metadata allow_empty=True."
        )
    if partition_column is not None and partition_range is not None and not frame.empty:
        days = pd.to_datetime(frame[partition_column]).dt.date
        outside = (days < partition_range[0]) | (days > partition_range[1])
        if outside.any():
            raise WarehouseError(
                f"{int(outside.sum())} rows for {target} have {partition_column} outside the "
                f"partition {partition_range[0]}..{partition_range[1]}; nothing was written."
            )
    with _incoming(con, schema, table, frame) as view:
        if not table_exists(con, schema, table):
            con.execute(f"create table {target} as select {_date_casts(frame)} from {view}")
            return len(frame)
        existing = table_columns(con, schema, table)
        if set(existing) != set(frame.columns):
            added = [c for c in frame.columns if c not in existing]
            dropped = [c for c in existing if c not in frame.columns]
            raise WarehouseError(
                f"The columns of {target} changed (new: {added or 'none'}; gone: "
                f"{dropped or 'none'}); the existing rows are kept. Migrate the table "
                f"deliberately, or drop it (drop table {target}) and rematerialize "
                "every partition."
            )
        if partition_column is not None and partition_range is not None:
            con.execute(
                f"delete from {target} where {check_identifier(partition_column)} between ? and ?",
                [partition_range[0], partition_range[1]],
            )
        else:
            con.execute(f"delete from {target}")
        _pause_for_test("after_delete", target)
        con.execute(f"insert into {target} by name select * from {view}")
    _pause_for_test("after_commit", target)
    return len(frame)


def append_rows(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame
) -> int:
    """Append rows by column name in one transaction, creating the table on first use."""
    target = qualified(schema, table)
    with _incoming(con, schema, table, frame) as view:
        if table_exists(con, schema, table):
            con.execute(f"insert into {target} by name select * from {view}")
        else:
            con.execute(f"create table {target} as select {_date_casts(frame)} from {view}")
    return len(frame)


def read_rows(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    columns: list[str] | None = None,
    partition_column: str | None = None,
    partition_range: tuple[dt.date, dt.date] | None = None,
) -> pd.DataFrame:
    """Read a table, or the rows of a range of days, as a DataFrame."""
    target = qualified(schema, table)
    if not table_exists(con, schema, table):
        raise WarehouseError(
            f"The table {target} does not exist yet; materialize that asset first."
        )
    select = ", ".join(check_identifier(c) for c in columns) if columns else "*"
    sql = f"select {select} from {target}"
    params: list[object] = []
    if partition_column is not None and partition_range is not None:
        sql += f" where {check_identifier(partition_column)} between ? and ?"
        params = [partition_range[0], partition_range[1]]
    return con.execute(sql, params).df()
