"""Bad landing files through the real asset graph: one test per kind of bad file.

Each case lands one bad file for DAY next to a warehouse that already holds GOOD_DAY, runs
the ingest selection for DAY, and checks the promises of the landing contract:

- the run fails for that partition, with a message naming the file, the column, the rule
  and the count (the Dagster instance records the run as failed and the partition as
  FAILED, which is what the UI shows);
- the landing file is byte-identical afterwards;
- no stored table changes (GOOD_DAY's rows, features, everything), except one audit row in
  ``raw.quarantine`` that names the file, its hash and the reason;
- no asset is materialized for DAY (downstream assets do not run).

The unit tests of the parsing rules are in test_landing.py; this module checks the whole
path a file takes through Dagster.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
    build_sensor_context,
    materialize,
)
from dagster._core.storage.partition_status_cache import AssetPartitionStatus

from ml_assets.assets.common import daily_partitions
from ml_assets.assets.raw import LandingResource
from ml_assets.definitions import ALL_ASSETS, defs, ingest_job
from ml_assets.landing import LandingFile, LandingFileError, load_landing_file
from ml_assets.resources import (
    DuckDBWarehouseIOManager,
    MlflowResource,
    ModelRegistryIOManager,
    WarehouseResource,
)
from ml_assets.schemas import LANDING_COLUMNS
from ml_assets.sensors import build_landing_sensor
from ml_assets_examples.churn.generator import GeneratorConfig, generate_day, write_landing_file

GOOD_DAY = dt.date(2025, 1, 9)
DAY = dt.date(2025, 1, 10)
CSV = f"customers_{DAY.isoformat()}.csv"
PARQUET = f"customers_{DAY.isoformat()}.parquet"
ROWS = 60
DAILY_KEYS = [
    AssetKey(["raw", "customer_snapshots"]),
    AssetKey(["features", "customer_features"]),
    AssetKey(["monitoring", "drift_report"]),
    AssetKey(["scoring", "churn_predictions"]),
]


def resources(folder: Path) -> dict:
    database = str(folder / "warehouse.duckdb")
    # MLflow is never reached: the steps that use it are skipped when raw fails.
    mlflow = MlflowResource(
        tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        artifact_root=(folder / "artifacts").as_uri(),
    )
    return {
        "io_manager": DuckDBWarehouseIOManager(database=database, lock_timeout_s=10),
        "warehouse": WarehouseResource(database=database, lock_timeout_s=10),
        "mlflow": mlflow,
        "model_io_manager": ModelRegistryIOManager(mlflow=mlflow),
        "landing": LandingResource(directory=str(folder / "landing")),
    }


def ingest(folder: Path, day: dt.date, instance, selection=None):
    selection = selection or ingest_job.selection
    return materialize(
        ALL_ASSETS,
        selection=selection,
        resources=resources(folder),
        instance=instance,
        partition_key=day.isoformat(),
        raise_on_error=False,
    )


def rows_of(day: dt.date) -> pd.DataFrame:
    frame, _ = generate_day(GeneratorConfig(rows_per_day=ROWS, seed=5), day)
    return frame


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """A warehouse holding GOOD_DAY's raw rows and features, built once."""
    folder = tmp_path_factory.mktemp("baseline")
    write_landing_file(rows_of(GOOD_DAY), folder / "landing", GOOD_DAY)
    with DagsterInstance.ephemeral() as instance:
        result = ingest(folder, GOOD_DAY, instance, selection=[DAILY_KEYS[0], DAILY_KEYS[1]])
        assert result.success
    return folder


@pytest.fixture(scope="module")
def shared_instance():
    """One Dagster instance for the bad-file cases (each checks its own run by id)."""
    with DagsterInstance.ephemeral() as instance:
        yield instance


def table_digests(database: Path) -> dict[str, str]:
    """A content hash of every table (order-independent), read with a plain connection."""
    with duckdb.connect(str(database), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables order by 1, 2"
        ).fetchall()
        out = {}
        for schema, table in tables:
            frame = con.execute(f'select * from "{schema}"."{table}"').df()
            rows = sorted(map(repr, frame.astype(str).itertuples(index=False)))
            out[f"{schema}.{table}"] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


# --------------------------------------------------------------------------- the bad files


def csv_text(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    out = frame.copy()
    for col in ("snapshot_date", "signup_date"):
        out[col] = out[col].map(lambda v: v.strftime("%Y-%m-%d") if hasattr(v, "strftime") else v)
    out["auto_renew"] = out["auto_renew"].map({True: "true", False: "false"})
    out.to_csv(buffer, index=False, lineterminator="\n", float_format="%.2f")
    return buffer.getvalue()


def set_cells(frame: pd.DataFrame, column: str, rows: list[int], value) -> pd.DataFrame:
    out = frame.astype({column: object})
    out.loc[out.index[rows], column] = value
    return out


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def as_csv(frame: pd.DataFrame) -> dict[str, bytes]:
    return {CSV: csv_text(frame).encode()}


def truncated(frame: pd.DataFrame) -> dict[str, bytes]:
    data = csv_text(frame).encode()
    return {CSV: data[: len(data) - 9]}  # the copy stopped inside the last row


def non_utf8(frame: pd.DataFrame) -> dict[str, bytes]:
    return {CSV: csv_text(set_cells(frame, "customer_id", [3], "Jörg")).encode("latin-1")}


def binary_garbage(frame: pd.DataFrame) -> dict[str, bytes]:
    return {CSV: np.random.default_rng(0).bytes(4096)}


def huge_line(frame: pd.DataFrame) -> dict[str, bytes]:
    return as_csv(set_cells(frame, "customer_id", [7], "C" * 200_000))


def wrong_delimiter(frame: pd.DataFrame) -> dict[str, bytes]:
    return {CSV: csv_text(frame).replace(",", ";").encode()}


def short_row(frame: pd.DataFrame) -> dict[str, bytes]:
    lines = csv_text(frame).splitlines()
    lines[5] = ",".join(lines[5].split(",")[:9])
    return {CSV: ("\n".join(lines) + "\n").encode()}


@dataclass(frozen=True)
class BadFile:
    kind: str
    build: Callable[[pd.DataFrame], dict[str, bytes]]
    fragments: tuple[str, ...]  # what the message must name: file, column, rule, count
    names_file: str = CSV


CASES = [
    BadFile(
        "missing column",
        lambda f: as_csv(f.drop(columns="region")),
        ("missing column(s) region", "landing schema's columns"),
    ),
    BadFile(
        "extra column",
        lambda f: as_csv(f.assign(loyalty_score=1.0)),
        ("unexpected column(s) loyalty_score", "landing schema's columns"),
    ),
    BadFile(
        "renamed column",
        lambda f: as_csv(f.rename(columns={"region": "area"})),
        ("missing column(s) region", "unexpected column(s) area", "was region renamed to area?"),
    ),
    BadFile(
        "columns out of order",
        lambda f: as_csv(f[[LANDING_COLUMNS[1], LANDING_COLUMNS[0], *LANDING_COLUMNS[2:]]]),
        ("out of order", "landing schema's order"),
    ),
    BadFile(
        "wrong type (text in a count)",
        lambda f: as_csv(set_cells(f, "logins_30d", [0, 1, 2, 3], "many")),
        ("column logins_30d", "4 rows", "not numbers", "lines 2, 3, 4, 5"),
    ),
    BadFile(
        "wrong type (text in a flag)",
        lambda f: as_csv(set_cells(f, "auto_renew", [4, 9], "maybe")),
        ("column auto_renew", "2 rows", "true/false"),
    ),
    BadFile(
        "unparseable date",
        lambda f: as_csv(set_cells(f, "signup_date", [1, 2, 3], "2024-02-30")),
        ("column signup_date", "3 rows", "YYYY-MM-DD"),
    ),
    BadFile(
        "snapshot_date not the file's day",
        lambda f: as_csv(set_cells(f, "snapshot_date", [0, 7], "2025-01-09")),
        ("column snapshot_date", "2 rows", "the file's date", "lines 2, 9"),
    ),
    BadFile(
        "negative amounts",
        lambda f: as_csv(set_cells(f, "monthly_charges", [2, 5, 9], -3.5)),
        ("column monthly_charges", "greater_than_or_equal_to(0)", "3 rows", "-3.5"),
    ),
    BadFile(
        "unknown category",
        lambda f: as_csv(set_cells(f, "plan", [4], "platinum")),
        ("column plan", "isin", "1 row", "platinum"),
    ),
    BadFile(
        "duplicate customer ids",
        lambda f: as_csv(set_cells(f, "customer_id", [3], f["customer_id"].iloc[0])),
        ("column customer_id", "2 rows", "unique", "lines 2, 5"),
    ),
    BadFile(
        "all-null column",
        lambda f: as_csv(set_cells(f, "region", list(range(ROWS)), None)),
        ("column region", "not_nullable", f"{ROWS} rows"),
    ),
    BadFile(
        "signup after snapshot",
        lambda f: as_csv(set_cells(f, "signup_date", [3, 4], "2025-01-11")),
        ("signup_date must not be after snapshot_date", "2 rows"),
    ),
    BadFile("empty file", lambda f: {CSV: b""}, ("empty (0 bytes)",)),
    BadFile(
        "header only",
        lambda f: {CSV: (",".join(LANDING_COLUMNS) + "\n").encode()},
        ("header but no rows",),
    ),
    BadFile(
        "truncated last line",
        truncated,
        (f"line {ROWS + 1}", "does not end with a newline", "cut off"),
    ),
    BadFile(
        "row with missing fields",
        short_row,
        ("1 row", "fewer fields than the header", "row-width rule", "lines 6"),
    ),
    BadFile("wrong delimiter", wrong_delimiter, ("';'", "delimiter rule", "comma")),
    BadFile("non-UTF-8 bytes", non_utf8, ("not UTF-8", "line 5")),
    BadFile("binary garbage", binary_garbage, ("binary data", "NUL byte")),
    BadFile("one huge line", huge_line, ("line 9", "bytes long", "65536")),
    BadFile(
        "name outside the pattern",
        lambda f: {f"customers_{DAY.isoformat()}.CSV": csv_text(f).encode()},
        (
            "No landing file for 2025-01-10",
            f"customers_{DAY.isoformat()}.CSV",
            "does not match the pattern",
        ),
        names_file=f"customers_{DAY.isoformat()}.CSV",
    ),
    BadFile(
        "parquet with the wrong schema",
        lambda f: {
            PARQUET: parquet_bytes(
                f.rename(columns={"plan": "tier"}).assign(
                    monthly_charges=f["monthly_charges"].astype(str)
                )
            )
        },
        ("missing column(s) plan", "unexpected column(s) tier"),
        names_file=PARQUET,
    ),
    BadFile(
        "parquet with text in a number column",
        lambda f: {PARQUET: parquet_bytes(f.assign(monthly_charges="n/a"))},
        ("column monthly_charges", f"{ROWS} rows", "not numbers"),
        names_file=PARQUET,
    ),
    BadFile(
        "zero-byte parquet", lambda f: {PARQUET: b""}, ("empty (0 bytes)",), names_file=PARQUET
    ),
    BadFile(
        "broken parquet",
        lambda f: {PARQUET: b"PAR1" + b"\x00" * 64 + b"PAR1"},
        ("not a readable Parquet file",),
        names_file=PARQUET,
    ),
]


def failure_message(instance, run_id: str) -> str:
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE).records
    assert len(records) == 1, "exactly one step (raw) fails"
    event = records[0].event_log_entry.dagster_event
    assert event.step_key.startswith("raw__customer_snapshots")
    return event.step_failure_data.user_failure_data.description or ""


@pytest.mark.parametrize("case", CASES, ids=[c.kind.replace(" ", "_") for c in CASES])
def test_bad_file_fails_its_partition_and_changes_nothing(
    case, baseline, tmp_path, shared_instance
):
    folder = tmp_path / "project"
    shutil.copytree(baseline, folder)
    landed = {}
    for name, data in case.build(rows_of(DAY)).items():
        (folder / "landing" / name).write_bytes(data)
        landed[name] = hashlib.sha256(data).hexdigest()
    before = table_digests(folder / "warehouse.duckdb")

    instance = shared_instance
    result = ingest(folder, DAY, instance)
    assert not result.success
    message = failure_message(instance, result.run_id)
    assert case.names_file in message
    for fragment in case.fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"

    # The instance records the failure on that partition: the run, and the asset status.
    runs = instance.get_run_records(
        RunsFilter(run_ids=[result.run_id], tags={"dagster/partition": DAY.isoformat()})
    )
    assert [r.dagster_run.status for r in runs] == [DagsterRunStatus.FAILURE]
    status = instance.get_status_by_partition(DAILY_KEYS[0], [DAY.isoformat()], daily_partitions)
    assert status == {DAY.isoformat(): AssetPartitionStatus.FAILED}
    # Nothing downstream ran for that day.
    for key in DAILY_KEYS:
        assert DAY.isoformat() not in instance.get_materialized_partitions(key)
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert started == {"raw__customer_snapshots"}, started

    # The landing file is byte-identical, and no table of any day changed ...
    for name, digest in landed.items():
        assert hashlib.sha256((folder / "landing" / name).read_bytes()).hexdigest() == digest
    after = table_digests(folder / "warehouse.duckdb")
    assert {k: v for k, v in after.items() if k != "raw.quarantine"} == before
    # ... except the audit row of the refusal.
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        quarantine = con.execute("select * from raw.quarantine").df()
    assert len(quarantine) == 1
    row = quarantine.iloc[0]
    assert row["partition_date"].date() == DAY and row["run_id"] == result.run_id
    assert row["reason"] == message
    if (
        case.names_file in landed
        and case.names_file.startswith("customers_")
        and case.kind != "name outside the pattern"
    ):
        assert row["source_file"] == case.names_file
        assert row["sha256"] == landed[case.names_file]


def test_symlink_out_of_the_landing_folder_is_refused(baseline, tmp_path):
    """A valid-looking file that lives outside the landing folder, linked in by name."""
    folder = tmp_path / "project"
    shutil.copytree(baseline, folder)
    outside = tmp_path / "elsewhere" / "customers.csv"
    outside.parent.mkdir()
    outside.write_text(csv_text(rows_of(DAY)))
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    (folder / "landing" / CSV).symlink_to(outside)
    before = table_digests(folder / "warehouse.duckdb")
    with DagsterInstance.ephemeral() as instance:
        result = ingest(folder, DAY, instance)
        assert not result.success
        message = failure_message(instance, result.run_id)
        assert CSV in message and "outside the landing folder" in message
        assert DAY.isoformat() not in instance.get_materialized_partitions(DAILY_KEYS[0])
    assert hashlib.sha256(outside.read_bytes()).hexdigest() == digest
    after = table_digests(folder / "warehouse.duckdb")
    assert {k: v for k, v in after.items() if k != "raw.quarantine"} == before


def test_a_good_file_after_a_refusal_ingests(baseline, tmp_path):
    """Fixing the file and running the partition again works; the refusal stays logged."""
    folder = tmp_path / "project"
    shutil.copytree(baseline, folder)
    path = folder / "landing" / CSV
    path.write_bytes(as_csv(set_cells(rows_of(DAY), "plan", [1], "gold"))[CSV])
    with DagsterInstance.ephemeral() as instance:
        assert not ingest(folder, DAY, instance).success
        path.write_bytes(as_csv(rows_of(DAY))[CSV])
        result = ingest(folder, DAY, instance, selection=DAILY_KEYS[:2])
        assert result.success
        status = instance.get_status_by_partition(
            DAILY_KEYS[0], [DAY.isoformat()], daily_partitions
        )
        assert status == {DAY.isoformat(): AssetPartitionStatus.MATERIALIZED}
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        counts = dict(
            con.execute(
                "select snapshot_date, count(*) from raw.customer_snapshots group by 1"
            ).fetchall()
        )
        assert con.execute("select count(*) from raw.quarantine").fetchone() == (1,)
    assert counts == {GOOD_DAY: ROWS, DAY: ROWS}


# --------------------------------------------------------------------------- still being written

WRITER = textwrap.dedent("""
    import sys, time
    data = open(sys.argv[1], "rb").read()
    chunk = len(data) // 8 + 1
    with open(sys.argv[2], "wb") as out:
        for i in range(0, len(data), chunk):
            out.write(data[i:i + chunk])
            out.flush()
            print(i, flush=True)
            time.sleep(float(sys.argv[3]))
    print("done", flush=True)
""")


@pytest.mark.slow  # the writer is a separate process
def test_file_still_being_written_is_not_requested(tmp_path, monkeypatch):
    """A writer appends a file in chunks; no sensor tick asks for it until it has settled.

    The sensor waits until the file's mtime is ML_ASSETS_LANDING_SETTLE_SECONDS old; while
    a writer is appending, every write moves the mtime. Loading the half-written file is
    refused by the loader too (its last line is cut off), the backstop for a stalled writer.
    """
    monkeypatch.setenv("ML_ASSETS_LANDING_SETTLE_SECONDS", "1.5")
    landing = tmp_path / "landing"
    landing.mkdir()
    source = tmp_path / "complete.csv"
    source.write_text(csv_text(rows_of(DAY)))
    target = landing / CSV
    sensor_def = build_landing_sensor(ingest_job, landing)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(source), str(target), "0.6"],
        stdout=subprocess.PIPE,
        text=True,
    )
    cursor, requested, ticks_while_writing, refused_partial = None, [], 0, False
    with DagsterInstance.ephemeral() as instance:
        try:
            assert writer.stdout.readline().strip() == "0"  # the first chunk is on disk
            while writer.poll() is None:
                context = build_sensor_context(instance=instance, cursor=cursor)
                data = sensor_def.evaluate_tick(context)
                cursor = data.cursor
                requested += data.run_requests or []
                ticks_while_writing += 1
                size = target.stat().st_size
                if 0 < size < source.stat().st_size and not refused_partial:
                    with pytest.raises(LandingFileError, match=r"cut off|fewer fields"):
                        load_landing_file(LandingFile(path=target, day=DAY))
                    refused_partial = True
                time.sleep(0.25)
        finally:
            writer.wait(timeout=30)
        # At least one tick saw the file while it grew (on a loaded machine a tick can take
        # longer than the writer's pauses, so the count is not fixed) and requested nothing.
        assert ticks_while_writing >= 1 and refused_partial
        assert requested == []
        assert target.read_bytes() == source.read_bytes()
        # Once the file has been still for the settle time, exactly one run is requested.
        time.sleep(1.6)
        data = sensor_def.evaluate_tick(
            build_sensor_context(
                instance=instance, cursor=cursor, repository_def=defs.get_repository_def()
            )
        )
        assert [r.partition_key for r in data.run_requests] == [DAY.isoformat()]
        again = sensor_def.evaluate_tick(
            build_sensor_context(
                instance=instance, cursor=data.cursor, repository_def=defs.get_repository_def()
            )
        )
        assert again.run_requests == []
    assert os.path.getsize(target) == source.stat().st_size


def test_a_bad_day_inside_a_range_run_writes_nothing_for_the_range(baseline, tmp_path):
    """A backfill range is all or nothing: one bad day keeps every day of it as it was."""
    folder = tmp_path / "project"
    shutil.copytree(baseline, folder)
    (folder / "landing" / CSV).write_bytes(
        as_csv(set_cells(rows_of(DAY), "monthly_charges", [0], -1.0))[CSV]
    )
    before = table_digests(folder / "warehouse.duckdb")
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            ALL_ASSETS,
            selection=DAILY_KEYS[:2],
            resources=resources(folder),
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": GOOD_DAY.isoformat(),
                "dagster/asset_partition_range_end": DAY.isoformat(),
            },
            raise_on_error=False,
        )
        assert not result.success
        message = failure_message(instance, result.run_id)
        assert CSV in message and "column monthly_charges" in message and "1 row" in message
        status = instance.get_status_by_partition(
            DAILY_KEYS[0], [GOOD_DAY.isoformat(), DAY.isoformat()], daily_partitions
        )
        assert status[DAY.isoformat()] == AssetPartitionStatus.FAILED
    after = table_digests(folder / "warehouse.duckdb")
    assert {k: v for k, v in after.items() if k != "raw.quarantine"} == before
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        logged = con.execute("select partition_date, source_file from raw.quarantine").fetchall()
    assert logged == [(DAY, CSV)]  # the bad day, not the first
