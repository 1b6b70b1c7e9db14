"""Tests of ml_assets.landing: file names, listing, and validation with precise messages."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml_assets import landing
from ml_assets.landing import LandingFile, LandingFileError
from ml_assets.schemas import LANDING_COLUMNS
from ml_assets_examples.churn.generator import GeneratorConfig, generate_day, write_landing_file

DAY = dt.date(2025, 1, 10)
NAME = "customers_2025-01-10.csv"


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "day"),
    [
        ("customers_2025-01-10.csv", dt.date(2025, 1, 10)),
        ("customers_2024-02-29.parquet", dt.date(2024, 2, 29)),
        ("customers_1999-12-31.csv", dt.date(1999, 12, 31)),
    ],
)
def test_parse_valid_names(name, day):
    parsed = landing.parse_landing_name(Path("some/folder") / name)
    assert parsed == LandingFile(path=Path("some/folder") / name, day=day)
    assert parsed.partition_key == day.isoformat()


@pytest.mark.parametrize(
    "name",
    [
        "customers_2025-02-30.csv",  # no such day
        "customers_2025-13-01.csv",
        "customers_2023-02-29.parquet",  # not a leap year
        "customers_2025-1-10.csv",
        "customers_20250110.csv",
        "customers_2025-01-10.CSV",
        "customers_2025-01-10.json",
        "customers_2025-01-10.csv.tmp",
        ".customers_2025-01-10.csv.tmp",
        "old_customers_2025-01-10.csv",
        "customers_2025-01-10_v2.csv",
        "customers_2025-01-10",
        "customers_２０２５-０１-１０.csv",  # full-width digits
        "",
    ],
)
def test_parse_invalid_names(name):
    assert landing.parse_landing_name(Path(name)) is None


def test_parse_uses_only_the_final_path_component():
    assert landing.parse_landing_name(Path("customers_2025-01-10.csv/readme.txt")) is None
    nested = Path("../customers_2025-01-01.csv") / NAME
    parsed = landing.parse_landing_name(nested)
    assert parsed is not None and parsed.day == DAY and parsed.path == nested


def test_parse_rejects_a_trailing_newline():
    assert landing.parse_landing_name(Path(NAME + "\n")) is None


# --------------------------------------------------------------------------- listing


def test_list_landing_files_sorted_and_filtered(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    for name in [
        "customers_2025-01-03.csv",
        "customers_2025-01-01.parquet",
        "customers_2025-01-02.csv",
        "customers_2025-01-02.parquet",
        "notes.txt",
        "customers_2025-02-30.csv",
        ".customers_2025-01-04.csv.tmp",
    ]:
        (folder / name).write_text("x")
    (folder / "customers_2025-01-05.csv").mkdir()  # a folder with a landing name
    files = landing.list_landing_files(folder)
    assert [f.path.name for f in files] == [
        "customers_2025-01-01.parquet",
        "customers_2025-01-02.csv",
        "customers_2025-01-03.csv",
    ]
    assert [f.day for f in files] == [dt.date(2025, 1, d) for d in (1, 2, 3)]


def test_list_ignores_symlinks_pointing_outside(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    outside = tmp_path / "secret.csv"
    outside.write_text("x")
    (folder / "customers_2025-01-01.csv").symlink_to(outside)
    inside = folder / "data.bin"
    inside.write_text("x")
    (folder / "customers_2025-01-02.csv").symlink_to(inside)
    (folder / "customers_2025-01-03.csv").symlink_to(tmp_path / "missing.csv")  # dangling
    assert [f.day for f in landing.list_landing_files(folder)] == [dt.date(2025, 1, 2)]


def test_list_missing_folder_is_empty(tmp_path):
    assert landing.list_landing_files(tmp_path / "nope") == []


def test_find_landing_file(tmp_path):
    (tmp_path / "customers_2025-01-10.parquet").write_text("x")
    assert landing.find_landing_file(tmp_path, DAY).path.suffix == ".parquet"
    (tmp_path / NAME).write_text("x")
    assert landing.find_landing_file(tmp_path, DAY).path.name == NAME
    with pytest.raises(LandingFileError, match="No landing file for 2025-01-11"):
        landing.find_landing_file(tmp_path, dt.date(2025, 1, 11))


# --------------------------------------------------------------------------- loading


@pytest.fixture(scope="module")
def day_rows():
    frame, _ = generate_day(GeneratorConfig(rows_per_day=60, seed=3), DAY)
    return frame


def load(path, day=DAY):
    return landing.load_landing_file(LandingFile(path=path, day=day))


def test_valid_csv_and_parquet_load_to_equal_frames(tmp_path, day_rows):
    from_csv = load(write_landing_file(day_rows, tmp_path / "a", DAY, "csv"))
    from_parquet = load(write_landing_file(day_rows, tmp_path / "b", DAY, "parquet"))
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    assert list(from_csv.columns) == LANDING_COLUMNS
    assert len(from_csv) == len(day_rows)
    # Values survive the round trip (CSV renders floats with 2 decimals, as generated).
    pd.testing.assert_series_equal(from_csv["monthly_charges"], day_rows["monthly_charges"])
    assert (from_csv["customer_id"].to_numpy() == day_rows["customer_id"].to_numpy()).all()
    pd.testing.assert_series_equal(from_csv["churned"], day_rows["churned"])
    assert (from_csv["snapshot_date"] == pd.Timestamp(DAY)).all()


def csv_lines(frame, tmp_path):
    path = write_landing_file(frame, tmp_path / "gen", DAY, "csv")
    return path.read_text().splitlines()


def edit_cells(lines, column, rows, value):
    """Set ``column`` to ``value`` on data rows ``rows`` (0-based) of CSV text lines."""
    header = lines[0].split(",")
    out = list(lines)
    for r in rows:
        cells = out[r + 1].split(",")
        cells[header.index(column)] = value
        out[r + 1] = ",".join(cells)
    return out


def land_bytes(tmp_path, data):
    folder = tmp_path / "landing"
    folder.mkdir(exist_ok=True)
    path = folder / NAME
    path.write_bytes(data)
    return path


def land_lines(tmp_path, lines):
    return land_bytes(tmp_path, ("\n".join(lines) + "\n").encode())


def assert_refused(path, *fragments):
    """Loading fails with a message naming the file and every fragment; the file is untouched."""
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(LandingFileError) as info:
        load(path)
    message = str(info.value)
    assert path.name in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    return message


def test_negative_charges_in_three_rows(tmp_path, day_rows):
    lines = edit_cells(csv_lines(day_rows, tmp_path), "monthly_charges", [2, 5, 9], "-3.50")
    assert_refused(land_lines(tmp_path, lines), "monthly_charges", "3 rows", "-3.5")


def test_unknown_plan(tmp_path, day_rows):
    lines = edit_cells(csv_lines(day_rows, tmp_path), "plan", [4], "platinum")
    assert_refused(land_lines(tmp_path, lines), "column plan", "1 row", "platinum")


def test_snapshot_date_other_than_the_files_day(tmp_path, day_rows):
    lines = edit_cells(csv_lines(day_rows, tmp_path), "snapshot_date", [0, 7], "2025-01-09")
    # Lines as a user sees them: header is line 1, so data rows 0 and 7 are lines 2 and 9.
    assert_refused(
        land_lines(tmp_path, lines), "column snapshot_date", "2 rows", "2025-01-10", "lines 2, 9"
    )


def test_duplicate_customer_id(tmp_path, day_rows):
    lines = csv_lines(day_rows, tmp_path)
    first_id = lines[1].split(",")[0]
    lines = edit_cells(lines, "customer_id", [3], first_id)
    assert_refused(land_lines(tmp_path, lines), "column customer_id", "2 rows", "lines 2, 5")


def test_missing_column(tmp_path, day_rows):
    path = write_landing_file(day_rows.drop(columns="region"), tmp_path / "landing", DAY)
    assert_refused(path, "missing column(s) region")


def test_extra_column(tmp_path, day_rows):
    path = write_landing_file(day_rows.assign(score=1.0), tmp_path / "landing", DAY)
    assert_refused(path, "unexpected column(s) score")


def test_columns_out_of_order(tmp_path, day_rows):
    frame = day_rows[[LANDING_COLUMNS[1], LANDING_COLUMNS[0], *LANDING_COLUMNS[2:]]]
    assert_refused(write_landing_file(frame, tmp_path / "landing", DAY), "out of order")


def test_unparseable_date(tmp_path, day_rows):
    lines = edit_cells(csv_lines(day_rows, tmp_path), "signup_date", [1, 2], "2024-02-30")
    assert_refused(land_lines(tmp_path, lines), "column signup_date", "2 rows", "YYYY-MM-DD")


def test_non_numeric_number(tmp_path, day_rows):
    lines = edit_cells(csv_lines(day_rows, tmp_path), "logins_30d", [0, 1, 2, 3], "many")
    assert_refused(land_lines(tmp_path, lines), "column logins_30d", "4 rows", "not numbers")


def test_fractional_count(tmp_path, day_rows):
    lines = edit_cells(csv_lines(day_rows, tmp_path), "support_calls_30d", [6], "1.5")
    assert_refused(
        land_lines(tmp_path, lines), "column support_calls_30d", "1 row", "whole numbers"
    )


def test_bad_boolean(tmp_path, day_rows):
    lines = edit_cells(csv_lines(day_rows, tmp_path), "auto_renew", [1, 2], "yes")
    assert_refused(land_lines(tmp_path, lines), "column auto_renew", "2 rows")


def test_empty_file(tmp_path):
    assert_refused(land_bytes(tmp_path, b""), "empty (0 bytes)")


def test_header_only_file(tmp_path):
    assert_refused(
        land_bytes(tmp_path, (",".join(LANDING_COLUMNS) + "\n").encode()), "header but no rows"
    )


def test_non_utf8_bytes(tmp_path, day_rows):
    data = (
        ("\n".join(csv_lines(day_rows, tmp_path)) + "\n").encode().replace(b"north", b"n\xf6rth", 1)
    )
    assert_refused(land_bytes(tmp_path, data), "not UTF-8")


def test_non_utf8_message_points_at_the_byte(tmp_path, day_rows):
    good = ("\n".join(csv_lines(day_rows, tmp_path)) + "\n").encode()
    offset = good.index(b"north", 1000) + 1
    data = good[:offset] + b"\xf6" + good[offset + 1 :]
    assert_refused(land_bytes(tmp_path, data), f"byte {offset}")


def test_signup_after_snapshot(tmp_path, day_rows):
    lines = edit_cells(csv_lines(day_rows, tmp_path), "signup_date", [3, 4, 8], "2025-01-11")
    assert_refused(
        land_lines(tmp_path, lines), "signup_date must not be after snapshot_date", "3 rows"
    )


def test_parquet_with_wrong_day_is_refused(tmp_path, day_rows):
    frame = day_rows.copy()
    frame.loc[frame.index[:5], "snapshot_date"] = pd.Timestamp("2025-01-01")
    path = write_landing_file(frame, tmp_path / "landing", DAY, "parquet")
    assert_refused(path, "column snapshot_date", "5 rows")


def test_broken_parquet(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    path = folder / "customers_2025-01-10.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    assert_refused(path, "not a readable Parquet file")


@pytest.mark.parametrize("value", ["0.5", "1.7"])
def test_fractional_label_is_refused(tmp_path, day_rows, value):
    lines = edit_cells(csv_lines(day_rows, tmp_path), "churned", [2], value)
    assert_refused(land_lines(tmp_path, lines), "column churned", "1 row")


def test_infinite_charges_are_refused(tmp_path, day_rows):
    lines = edit_cells(csv_lines(day_rows, tmp_path), "monthly_charges", [2], "inf")
    assert_refused(land_lines(tmp_path, lines), "column monthly_charges", "1 row")


def test_out_of_range_count_is_reported_as_written(tmp_path, day_rows):
    lines = edit_cells(csv_lines(day_rows, tmp_path), "logins_30d", [2], "1e30")
    message = assert_refused(land_lines(tmp_path, lines), "column logins_30d", "1 row")
    assert "-9223372036854775808" not in message


def test_valid_load_leaves_file_unchanged(tmp_path, day_rows):
    path = write_landing_file(day_rows, tmp_path / "landing", DAY)
    before = path.read_bytes()
    stat = path.stat()
    load(path)
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == stat.st_mtime_ns


def test_missing_label_is_allowed(tmp_path, day_rows):
    lines = edit_cells(csv_lines(day_rows, tmp_path), "churned", [0, 1], "")
    loaded = load(land_lines(tmp_path, lines))
    expected_missing = day_rows["churned"].isna().to_numpy()
    expected_missing[:2] = True
    np.testing.assert_array_equal(loaded["churned"].isna().to_numpy(), expected_missing)


# --------------------------------------------------------------------------- partition days


def test_check_partition_day_bounds():
    start, today = dt.date(2025, 1, 1), dt.date(2025, 3, 1)
    landing.check_partition_day(start, start, today)
    landing.check_partition_day(today, start, today)
    with pytest.raises(LandingFileError, match="before the first partition 2025-01-01"):
        landing.check_partition_day(dt.date(2024, 12, 31), start, today)
    with pytest.raises(LandingFileError, match="in the future"):
        landing.check_partition_day(dt.date(2025, 3, 2), start, today)


def test_check_partition_day_defaults_to_real_today():
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    with pytest.raises(LandingFileError, match="in the future"):
        landing.check_partition_day(tomorrow, dt.date(2000, 1, 1))
    landing.check_partition_day(dt.date.today(), dt.date(2000, 1, 1))


# --------------------------------------------------------------------------- file shape


@pytest.mark.parametrize("quoted", [False, True])
def test_short_row_is_refused_with_or_without_quoting(tmp_path, day_rows, quoted):
    lines = csv_lines(day_rows, tmp_path)
    if quoted:  # quoting takes the csv-module path; a quoted comma is not a field separator
        lines = [",".join(f'"{c}"' for c in line.split(",")) for line in lines]
        lines[1] = lines[1].replace('"C', '"C,', 1)
    lines[3] = ",".join(lines[3].split(",")[:10])
    assert_refused(
        land_lines(tmp_path, lines), "1 row", "fewer fields than the header's 15", "lines 4"
    )


def test_fully_quoted_file_loads(tmp_path, day_rows):
    lines = csv_lines(day_rows, tmp_path)
    quoted = [",".join(f'"{c}"' if c else "" for c in line.split(",")) for line in lines]
    plain = tmp_path / "plain"
    plain.mkdir()
    loaded = load(land_lines(tmp_path, quoted))
    pd.testing.assert_frame_equal(loaded, load(land_lines(plain, lines)))


def test_crlf_line_endings_load(tmp_path, day_rows):
    lines = csv_lines(day_rows, tmp_path)
    loaded = load(land_bytes(tmp_path, ("\r\n".join(lines) + "\r\n").encode()))
    assert len(loaded) == len(day_rows)
