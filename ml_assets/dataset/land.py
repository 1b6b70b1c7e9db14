"""Writing a table as daily landing files, for `ml-assets land`.

A table with the spec's date column is grouped by that date: one file a day. A table
without it is spread over ``days`` days from ``start``: by a hash of each row's id (default;
the same table always lands the same way, and a table sorted by some column does not turn
into a drift along the days) or by row order (``spread="order"``: contiguous blocks, for a
table whose rows are already in time order). The date column is then added, and so is the
id column when the table has none (the row's number in the table, from 1).

Landing files are never overwritten: a day whose file (CSV or Parquet) already exists is
skipped with a line saying so. Each file is written under a hidden temporary name and
linked into place, so no reader sees half a file and a file that appeared meanwhile wins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ml_assets.dataset.infer import column_key

SPREADS = ("hash", "order")
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


class LandError(ValueError):
    """A table that cannot be landed with a spec; the message says what, where and what to do."""


@dataclass
class LandSummary:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    rows_written: int = 0
    rows_skipped: int = 0
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def days(self) -> int:
        return len(self.written) + len(self.skipped)


def _stable_bucket(ids: pd.Series, days: int) -> np.ndarray:
    """A day number per id from a hash that does not change between runs or machines."""

    def bucket(value: str) -> int:
        digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % days

    return np.fromiter((bucket(v) for v in ids.astype(str)), dtype=np.int64, count=len(ids))


def _bool_text(series: pd.Series, column: str, source: Path) -> pd.Series:
    def to_text(value):
        if pd.isna(value):
            return pd.NA
        if isinstance(value, bool | np.bool_):
            return "true" if value else "false"
        text = str(value).strip().lower()
        if text in _TRUE:
            return "true"
        if text in _FALSE:
            return "false"
        return None

    out = series.map(to_text)
    bad = out.map(lambda v: v is None)
    if bad.any():
        examples = ", ".join(map(repr, series[bad].astype(str).unique()[:3]))
        raise LandError(
            f"{source}: column {column}: {int(bad.sum())} rows are not true/false (e.g. "
            f"{examples}), but the spec types it bool. Fix the values or type the column "
            "category in the spec."
        )
    return out.astype("string")


def _typed_for_landing(frame: pd.DataFrame, spec, source: Path) -> pd.DataFrame:
    """The table's values written as the landing parser reads them, column by column."""
    out = {}
    for col in spec.columns:
        series = frame[col.name]
        if col.type == "date":
            parsed = pd.to_datetime(series, errors="coerce")
            bad = parsed.isna() & series.notna()
            if bad.any():
                raise LandError(
                    f"{source}: column {col.name}: {int(bad.sum())} rows are not dates (e.g. "
                    f"{series[bad].astype(str).iloc[0]!r}). Fix them or type the column "
                    "string in the spec."
                )
            out[col.name] = parsed.dt.strftime("%Y-%m-%d").astype("string")
        elif col.type == "bool":
            out[col.name] = _bool_text(series, col.name, source)
        elif col.type == "int":
            numbers = pd.to_numeric(series, errors="coerce")
            bad = (numbers.isna() & series.notna()) | (numbers.notna() & (numbers % 1 != 0))
            if bad.any():
                raise LandError(
                    f"{source}: column {col.name}: {int(bad.sum())} rows are not whole numbers "
                    f"(e.g. {series[bad].astype(str).iloc[0]!r}), but the spec types it int. "
                    "Fix the values or type the column float in the spec."
                )
            out[col.name] = numbers.astype("Int64")
        elif col.type == "float":
            numbers = pd.to_numeric(series, errors="coerce")
            bad = numbers.isna() & series.notna()
            if bad.any():
                raise LandError(
                    f"{source}: column {col.name}: {int(bad.sum())} rows are not numbers (e.g. "
                    f"{series[bad].astype(str).iloc[0]!r}), but the spec types it float. Fix "
                    "the values or type the column string in the spec."
                )
            out[col.name] = numbers.astype("float64")
        else:
            out[col.name] = series.map(lambda v: v if pd.isna(v) else str(v)).astype("string")
    return pd.DataFrame(out, index=frame.index)


def prepare_landing_rows(
    frame: pd.DataFrame,
    spec,
    source: str | Path,
    days: int | None = None,
    start: dt.date | None = None,
    spread: str = "hash",
) -> tuple[pd.DataFrame, list[str]]:
    """The table's rows in the spec's landing columns and order, each with its day.

    Returns the rows (the date column as YYYY-MM-DD text) and notes for the user; raises
    :class:`LandError` for a table or option that does not fit the spec.
    """
    source = Path(source)
    notes: list[str] = []
    # read_table already names columns as specs do; a frame given directly is renamed here.
    renamed = {c: column_key(c) for c in frame.columns if c not in spec.landing_columns}
    renamed = {c: k for c, k in renamed.items() if k in spec.landing_columns and k != c}
    frame = frame.rename(columns=renamed)
    renamed = {**(frame.attrs.get("renamed") or {}), **renamed}
    renamed = {c: k for c, k in renamed.items() if k in spec.landing_columns}
    if renamed:
        shown = ", ".join(f"{a} -> {b}" for a, b in list(renamed.items())[:8])
        more = f" and {len(renamed) - 8} more" if len(renamed) > 8 else ""
        notes.append(f"renamed to the spec's column names: {shown}{more}")
    landing = spec.landing_columns
    missing = [c for c in landing if c not in frame.columns]
    added = [c for c in missing if c in (spec.id_column, spec.date_column)]
    missing = [c for c in missing if c not in added]
    if missing:
        raise LandError(
            f"{source}: the spec {spec.path.name} declares column(s) {', '.join(missing)} that "
            "the table does not have. Add them to the table, or remove them from the spec's "
            "columns (and features)."
        )
    extra = [c for c in frame.columns if c not in landing]
    if extra:
        notes.append(f"not landed (not in the spec's columns): {', '.join(map(str, extra))}")
    frame = frame.reset_index(drop=True)
    if spec.id_column in added:
        frame[spec.id_column] = [str(i) for i in range(1, len(frame) + 1)]
        notes.append(f"added {spec.id_column}: the row's number in the table (1..{len(frame)})")
    if spec.date_column in added:
        if days is None or start is None:
            raise LandError(
                f"{source}: the table has no column {spec.date_column} (the spec's date "
                "column); give --days N and --start YYYY-MM-DD to spread its rows over N days."
            )
        if days < 1:
            raise LandError(f"--days {days}: give a number of days of at least 1.")
        if spread == "hash":
            bucket = _stable_bucket(frame[spec.id_column], days)
        elif spread == "order":
            bucket = (np.arange(len(frame)) * days) // max(1, len(frame))
        else:
            raise LandError(f"--spread {spread!r}: use one of {', '.join(SPREADS)}.")
        first = pd.Timestamp(start)
        frame[spec.date_column] = first + pd.to_timedelta(bucket, unit="D")
        how = "a hash of " + spec.id_column if spread == "hash" else "row order"
        notes.append(
            f"added {spec.date_column}: rows spread over {days} days from {start} by {how}"
        )
    elif days is not None or start is not None:
        raise LandError(
            f"{source}: the table has the date column {spec.date_column}, so its rows land on "
            "their own dates; leave out --days and --start."
        )
    empty_dates = frame[spec.date_column].isna()
    if empty_dates.any():
        raise LandError(
            f"{source}: column {spec.date_column}: {int(empty_dates.sum())} rows have no date, "
            "and every row lands in its day's file. Fill or drop those rows."
        )
    rows = _typed_for_landing(frame, spec, source)
    return rows, notes


def _exists(landing_dir: Path, spec, day: str) -> Path | None:
    for suffix in (".csv", ".parquet"):
        path = landing_dir / spec.landing_file_name(day, suffix)
        if path.exists() or path.is_symlink():
            return path
    return None


def _write_new(path: Path, rows: pd.DataFrame) -> bool:
    """Write ``rows`` to ``path`` unless it exists (then False); never replaces a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    rows.to_csv(temporary, index=False, na_rep="", lineterminator="\n")
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: check, then rename
        if path.exists():
            return False
        os.replace(temporary, path)
        return True
    finally:
        if temporary.exists():
            temporary.unlink()
    return True


def land_rows(
    rows: pd.DataFrame,
    spec,
    landing_dir: Path,
    say: Callable[[str], None] = print,
    progress_seconds: float = 2.0,
) -> LandSummary:
    """Write one landing file per day of ``rows`` (from :func:`prepare_landing_rows`)."""
    landing_dir.mkdir(parents=True, exist_ok=True)
    summary = LandSummary()
    groups = rows.groupby(spec.date_column, sort=True)
    total = groups.ngroups
    last_report = time.monotonic()
    for number, (day, day_rows) in enumerate(groups, start=1):
        existing = _exists(landing_dir, spec, day)
        path = landing_dir / spec.landing_file_name(day, ".csv")
        if existing is None and _write_new(path, day_rows):
            summary.written.append(path)
            summary.rows_written += len(day_rows)
        else:
            shown = existing or path
            say(f"skipped {shown.name}: a landing file for {day} exists; it is never overwritten")
            summary.skipped.append(shown)
            summary.rows_skipped += len(day_rows)
        day_date = dt.date.fromisoformat(day)
        summary.first_day = summary.first_day or day_date
        summary.last_day = day_date
        if time.monotonic() - last_report >= progress_seconds and number < total:
            say(
                f"... {number}/{total} days, {summary.rows_written + summary.rows_skipped} rows "
                f"(up to {day})"
            )
            last_report = time.monotonic()
    return summary


def summary_lines(summary: LandSummary, landing_dir: Path) -> list[str]:
    """The closing lines of `ml-assets land`."""
    lines = [
        f"landed {len(summary.written)} files ({summary.rows_written} rows) in {landing_dir}"
        + (
            f", days {summary.first_day} .. {summary.last_day} ({summary.days} days)"
            if summary.first_day
            else ""
        )
        + (
            f"; skipped {len(summary.skipped)} existing files ({summary.rows_skipped} rows)"
            if summary.skipped
            else ""
        )
        + "."
    ]
    return lines
