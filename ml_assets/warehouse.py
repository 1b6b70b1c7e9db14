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
from collections.abc import Callable, Iterator
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


LAKE_PREFIX = "ducklake:"
LAKE_ALIAS = "lake"
# Errors of the lake's servers, by what they mean for the user (matched in the message).
_PG_DOWN = (
    "Connection refused",
    "could not connect",
    "server closed the connection",
    "terminating connection",
    "no connection to the server",
    "connection to server",
)
_PG_AUTH = ("password authentication failed", "no password supplied")
_PG_LOCKED = ("lock timeout", "canceling statement due to lock timeout")
_S3_DOWN = ("HTTP", "Could not establish connection", "Connection refused", "Unable to connect")
_CONFLICT = ("Transaction conflict", "conflict", "Catalog write-write conflict")
# How long a statement may wait for a lock in the lake's catalog before the step fails
# (a writer holding it longer is stuck, or someone locked the catalog by hand).
CATALOG_LOCK_TIMEOUT_MS = 60_000


def is_lake(target: str | Path) -> bool:
    """True when ``target`` names a DuckLake lake (``ducklake:...``) rather than a file."""
    return str(target).startswith(LAKE_PREFIX)


def describe(target: str | Path) -> str:
    """The warehouse for messages: the file's path, or the lake's catalog server."""
    if not is_lake(target):
        return str(target)
    return f"the DuckLake lake (catalog {_catalog_server(str(target))})"


def _catalog_server(uri: str) -> str:
    fields = dict(part.split("=", 1) for part in uri.split(":", 2)[-1].split() if "=" in part)
    host, port = fields.get("host", "localhost"), fields.get("port", "5432")
    return f"PostgreSQL {host}:{port}, database {fields.get('dbname', '?')}"


def _extension_file(name: str) -> Path:
    import importlib

    module = importlib.import_module(f"duckdb_extension_{name}")
    return (
        Path(module.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / (f"{name}.duckdb_extension")
    )


def _lake_catalog(uri: str) -> str:
    # Bound lock waits in the catalog so a stuck writer cannot hang every step.
    if "lock_timeout" in uri or not uri.startswith(LAKE_PREFIX + "postgres:"):
        return uri
    return f"{uri} options=--lock_timeout={CATALOG_LOCK_TIMEOUT_MS}"


# One DuckDB instance per process and lake (extensions loaded, catalog attached); each
# connect() takes a cursor of it (its own transaction). Loading the extensions and attaching
# costs about 0.7 s, paid once per process; an instance that saw a server error is dropped.
_LAKES: dict[tuple[str, str, bool], duckdb.DuckDBPyConnection] = {}


def _open_lake(uri: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    from ml_assets import settings

    data_path = settings.lake_data_path()
    key = (uri, data_path, read_only)
    base = _LAKES.get(key)
    if base is None:
        base = duckdb.connect()
        try:
            # The extensions come from registry wheels (the team extra); never download.
            base.execute("set autoinstall_known_extensions = false")
            base.execute("set autoload_known_extensions = false")
            base.execute("set enable_progress_bar = false")
            names = ["postgres_scanner", "ducklake"]
            if data_path.startswith("s3://"):
                names.append("httpfs")
            for name in names:
                try:
                    path = _extension_file(name)
                except ImportError as exc:
                    raise WarehouseError(
                        f"ML_ASSETS_WAREHOUSE names a DuckLake lake but the DuckDB extension "
                        f"{name} is not installed; install the team extra "
                        '(pip install -e ".[team]") and retry.'
                    ) from exc
                base.execute(f"load '{path}'")
            if data_path.startswith("s3://"):
                s3 = settings.s3_settings()
                base.execute(
                    "create secret lake_s3 (type s3, key_id ?, secret ?, region ?, endpoint ?, "
                    "url_style 'path', use_ssl ?)",
                    [s3["key_id"], s3["secret"], s3["region"], s3["endpoint"], s3["use_ssl"]],
                )
            options = "data_path '{}'".format(data_path.replace("'", "''")) + (
                ", read_only" if read_only else ""
            )
            catalog = _lake_catalog(uri).replace("'", "''")
            for attempt in range(5):
                try:
                    base.execute(f"attach '{catalog}' as {LAKE_ALIAS} ({options})")
                    break
                except duckdb.Error as exc:
                    # Two processes attaching a new catalog both create its tables; the
                    # loser finds them on the next attempt.
                    if attempt == 4 or "Failed to initialize DuckLake" not in str(exc):
                        raise
                    time.sleep(0.2 * (attempt + 1))
        except BaseException:
            base.close()
            raise
        _LAKES[key] = base
    cursor = base.cursor()
    cursor.execute(f"use {LAKE_ALIAS}")
    return cursor


def _forget_lake(uri: str) -> None:
    for key in [k for k in _LAKES if k[0] == uri]:
        with suppress(duckdb.Error):
            _LAKES.pop(key).close()


def _lake_error(uri: str, exc: BaseException) -> WarehouseError | None:
    """A one-sentence error for a failure of the lake's servers, or None if it is not one."""
    from ml_assets import settings

    text = str(exc)
    brief = " ".join(text.split())[:240]
    catalog = _catalog_server(uri)
    if any(m in text for m in _PG_AUTH):
        return WarehouseError(
            f"The lake catalog server ({catalog}) refused the login: {brief}. "
            "Check the user in ML_ASSETS_WAREHOUSE and the password in PGPASSWORD, then run "
            "the step again; nothing was written."
        )
    if any(m in text for m in _PG_LOCKED):
        return WarehouseError(
            f"The lake catalog ({catalog}) stayed locked by another session for more than "
            f"{CATALOG_LOCK_TIMEOUT_MS // 1000} s; this step's transaction was rolled back and "
            "the earlier rows are unchanged. Find the session holding the lock "
            "(pg_stat_activity), end it, and run the step again."
        )
    if any(m in text for m in _PG_DOWN):
        return WarehouseError(
            f"The lake catalog server ({catalog}) is unreachable: {brief}. "
            "Start it (make team-up locally) or fix ML_ASSETS_WAREHOUSE, then run the step "
            "again; the transaction was rolled back and earlier rows are unchanged."
        )
    data_path = settings.lake_data_path()
    if data_path.startswith("s3://") and any(m in text for m in _S3_DOWN):
        endpoint = settings.s3_settings()["endpoint"] or "AWS S3"
        return WarehouseError(
            f"The lake's object store ({endpoint}, {data_path}) failed: {brief}. "
            "Check that it is running and that ML_ASSETS_S3_ENDPOINT and the AWS_* keys are "
            "right, then run the step again; the catalog was not changed, so earlier rows are "
            "unchanged."
        )
    return None


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
    path: Path | str, read_only: bool = False, lock_timeout_s: float = 120.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse: the DuckDB file (waiting with backoff while another process holds
    its lock), or the DuckLake lake when ``path`` is a ``ducklake:`` URI (then unqualified
    table names resolve in the lake)."""
    if is_lake(path):
        uri = str(path)
        try:
            con = _open_lake(uri, read_only)
        except duckdb.Error as exc:
            _forget_lake(uri)
            raise (_lake_error(uri, exc) or exc) from exc
        try:
            yield con
        except duckdb.Error as exc:
            error = _lake_error(uri, exc)
            if error is not None:
                _forget_lake(uri)
                raise error from exc
            raise
        finally:
            with suppress(duckdb.Error):
                con.close()
        return
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
        "select count(*) from information_schema.tables where table_catalog = current_database() "
        "and table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
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

    def write() -> None:
        with _incoming(con, schema, table, frame) as view:
            if not table_exists(con, schema, table):
                con.execute(f"create table {target} as select {_date_casts(frame)} from {view}")
                return
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
                    f"delete from {target} where {check_identifier(partition_column)} "
                    "between ? and ?",
                    [partition_range[0], partition_range[1]],
                )
            else:
                con.execute(f"delete from {target}")
            _pause_for_test("after_delete", target)
            con.execute(f"insert into {target} by name select * from {view}")
        _pause_for_test("after_commit", target)

    _retry_conflicts(write, target)
    return len(frame)


CONFLICT_RETRIES = 8


def _retry_conflicts(write: Callable[[], None], target: str) -> None:
    """Run a write transaction, again when the lake reports a conflict with a concurrent
    writer (both created the table, say). The file profile has one writer: never retried."""
    delay = 0.1
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            write()
            return
        except duckdb.TransactionException as exc:
            if attempt == CONFLICT_RETRIES or not any(m in str(exc) for m in _CONFLICT):
                if any(m in str(exc) for m in _CONFLICT):
                    raise WarehouseError(
                        f"Writing {target} conflicted with other writers {attempt + 1} times "
                        f"({exc}); the earlier rows are unchanged. Run the step again, or lower "
                        "the warehouse pool's limit."
                    ) from exc
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def append_rows(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame
) -> int:
    """Append rows by column name in one transaction, creating the table on first use."""
    target = qualified(schema, table)

    def write() -> None:
        with _incoming(con, schema, table, frame) as view:
            if table_exists(con, schema, table):
                con.execute(f"insert into {target} by name select * from {view}")
            else:
                con.execute(f"create table {target} as select {_date_casts(frame)} from {view}")

    _retry_conflicts(write, target)
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
