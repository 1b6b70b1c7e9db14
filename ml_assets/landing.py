"""Finding, reading and validating landing files.

A landing file is one day: ``customers_YYYY-MM-DD.csv`` (or ``.parquet``). Reading never
modifies or moves the file. Every problem becomes a :class:`LandingFileError` whose message
names the file, the column, the rule and how many rows broke it.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ml_assets.schemas import LANDING_COLUMNS, LandingSnapshot

FILE_PATTERN = re.compile(r"^customers_(\d{4}-\d{2}-\d{2})\.(csv|parquet)$")
_DATE_COLUMNS = ("snapshot_date", "signup_date")
_INT_COLUMNS = ("support_calls_30d", "logins_30d", "days_since_last_login")
_FLOAT_COLUMNS = ("monthly_charges", "total_charges", "avg_session_minutes")
# Counts above this cannot be real and would not survive the conversion to int64.
_MAX_COUNT = 1e12
_BOOL_VALUES = {"true": True, "false": False, "1": True, "0": False, "t": True, "f": False}
# A contract row is about 150 bytes; a line this long is not a row, and reading it whole
# would let one bad file take the worker's memory.
MAX_LINE_BYTES = 64 * 1024
_OTHER_DELIMITERS = (";", "\t", "|")


class LandingFileError(ValueError):
    """A landing file that cannot be ingested; the message says what, where and what to do."""


@dataclass(frozen=True)
class LandingFile:
    path: Path
    day: dt.date

    @property
    def partition_key(self) -> str:
        return self.day.isoformat()


def parse_landing_name(path: Path) -> LandingFile | None:
    """The day a landing file holds, or None when the name is not a landing file name."""
    match = FILE_PATTERN.fullmatch(path.name)
    if not match:
        return None
    try:
        day = dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None
    return LandingFile(path=path, day=day)


def list_landing_files(landing_dir: Path) -> list[LandingFile]:
    """Landing files in a folder, sorted by day; CSV wins when a day has both formats.

    Symlinks that point outside the landing folder are ignored, so a link cannot make the
    pipeline read files it was not given.
    """
    if not landing_dir.is_dir():
        return []
    root = landing_dir.resolve()
    by_day: dict[dt.date, LandingFile] = {}
    for path in sorted(landing_dir.iterdir()):
        parsed = parse_landing_name(path)
        if parsed is None or not path.is_file():
            continue
        if path.is_symlink() and not _inside(root, path):
            continue
        if parsed.day not in by_day or path.suffix == ".csv":
            by_day[parsed.day] = parsed
    return [by_day[d] for d in sorted(by_day)]


def _inside(root: Path, path: Path) -> bool:
    """True when ``path`` (symlinks resolved) is a file inside the folder ``root``."""
    return root.resolve() in path.resolve().parents


def landing_path(landing_dir: Path, name: str) -> Path:
    """The path of a landing file name inside ``landing_dir``, or a clear error.

    The name must match the landing pattern (so it holds no folder part, no ``..`` and no
    control character), and the path, symlinks resolved, must stay inside the folder.
    """
    if not FILE_PATTERN.fullmatch(name) or parse_landing_name(Path(name)) is None:
        raise LandingFileError(
            f"{name!r} is not a landing file name: expected customers_YYYY-MM-DD.csv or "
            f".parquet inside {landing_dir}. Rename the file."
        )
    path = landing_dir / name
    if path.is_symlink() and not _inside(landing_dir, path):
        raise LandingFileError(
            f"{name}: a symlink to {path.resolve()}, outside the landing folder {landing_dir}; "
            "such links are refused. Copy the file into the folder instead."
        )
    return path


def _near_misses(landing_dir: Path, day: dt.date) -> list[str]:
    if not landing_dir.is_dir():
        return []
    stamp = day.isoformat()
    return sorted(
        p.name for p in landing_dir.iterdir() if stamp in p.name and parse_landing_name(p) is None
    )


def find_landing_file(landing_dir: Path, day: dt.date) -> LandingFile:
    """The landing file of one day; a clear error when there is none or it is unsafe."""
    for suffix in (".csv", ".parquet"):
        path = landing_path(landing_dir, f"customers_{day.isoformat()}{suffix}")
        if path.is_file():
            return LandingFile(path=path, day=day)
    misses = _near_misses(landing_dir, day)
    hint = (
        f" Found {', '.join(misses)}, which does not match the pattern "
        "customers_YYYY-MM-DD.csv|.parquet (lower-case extension); rename it."
        if misses
        else ""
    )
    raise LandingFileError(
        f"No landing file for {day.isoformat()}: expected "
        f"{landing_dir / f'customers_{day.isoformat()}.csv'} (or .parquet).{hint} "
        "Land the file, then materialize the partition again."
    )


def _count_phrase(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _row_examples(mask: pd.Series, limit: int = 5) -> str:
    # Row numbers as a user sees them in the file: header is line 1, first record line 2.
    lines = [str(i + 2) for i in mask[mask].index[:limit]]
    return ", ".join(lines)


def _check_text_shape(content: bytes, path: Path) -> None:
    """Refuse binary data, absurdly long lines and a cut-off last line before parsing."""
    nul = content.find(b"\x00")
    if nul >= 0:
        line = content.count(b"\n", 0, nul) + 1
        raise LandingFileError(
            f"{path.name}: binary data, not CSV text (a NUL byte at byte {nul}, line {line}). "
            "Land a UTF-8 CSV or a Parquet file."
        )
    for number, length in enumerate(map(len, content.split(b"\n")), start=1):
        if length > MAX_LINE_BYTES:
            raise LandingFileError(
                f"{path.name}: line {number} is {length} bytes long, more than the "
                f"{MAX_LINE_BYTES} bytes allowed for one row. Check the line endings and "
                "quoting of the file."
            )
    if content and not content.endswith(b"\n"):
        last = content.count(b"\n") + 1
        raise LandingFileError(
            f"{path.name}: the last line (line {last}) does not end with a newline, so the file "
            "looks cut off (still being written, or an interrupted copy). Land the complete "
            "file; write it under another name and rename it when done."
        )


def _check_delimiter(frame: pd.DataFrame, path: Path) -> None:
    if frame.shape[1] != 1:
        return
    header = str(frame.columns[0])
    for delimiter in _OTHER_DELIMITERS:
        if header.count(delimiter) >= len(LANDING_COLUMNS) // 2:
            shown = "a tab" if delimiter == "\t" else repr(delimiter)
            raise LandingFileError(
                f"{path.name}: the header has one column split by {shown}, not by commas "
                f"(the delimiter rule). Save the file as comma-separated CSV."
            )


def _check_row_widths(content: bytes, path: Path) -> None:
    """Every record has as many fields as the header (pandas pads short rows silently)."""
    short: list[int] = []
    if b'"' not in content:
        # No quoting: fields are the commas plus one, counted in C (about 10x the csv module).
        lines = content.split(b"\n")
        width = lines[0].count(b",") + 1
        short = [
            i + 1
            for i, line in enumerate(lines[1:], start=1)
            if line.strip() and line.count(b",") + 1 < width
        ]
    else:
        import csv

        reader = csv.reader(io.StringIO(content.decode("utf-8"), newline=""))
        width = None
        for record in reader:
            if width is None:
                width = len(record)
                continue
            if record and len(record) < width:
                short.append(reader.line_num)
    if short:
        raise LandingFileError(
            f"{path.name}: {_count_phrase(len(short))} have fewer fields than the header's "
            f"{width} (the row-width rule; lines {', '.join(map(str, short[:5]))}). Complete "
            "those rows or land the whole file again."
        )


def _read_raw(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise LandingFileError(
                f"{path.name}: not a readable Parquet file ({exc}). Re-export the file."
            ) from exc
        return frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
    content = path.read_bytes()
    _check_text_shape(content, path)
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise LandingFileError(
            f"{path.name}: not UTF-8 text (line {line}, byte {exc.start} of the file). Save "
            "the file as UTF-8 CSV."
        ) from exc
    try:
        frame = pd.read_csv(
            io.BytesIO(content),
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8",
        )
    except pd.errors.EmptyDataError as exc:
        raise LandingFileError(
            f"{path.name}: the file is empty. Land a file with a header and at least one row."
        ) from exc
    except pd.errors.ParserError as exc:
        raise LandingFileError(
            f"{path.name}: not a well-formed CSV ({exc}). Check the delimiter (a comma) "
            "and that the last line is complete."
        ) from exc
    _check_delimiter(frame, path)
    _check_row_widths(content, path)
    return frame


def _check_columns(frame: pd.DataFrame, path: Path) -> None:
    got = list(frame.columns)
    if got == LANDING_COLUMNS:
        return
    missing = [c for c in LANDING_COLUMNS if c not in got]
    extra = [c for c in got if c not in LANDING_COLUMNS]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected column(s) {', '.join(map(str, extra))}")
        if len(missing) == 1 and len(extra) == 1:
            parts.append(f"was {missing[0]} renamed to {extra[0]}?")
        raise LandingFileError(
            f"{path.name}: {'; '.join(parts)}. The landing schema's columns are, in order: "
            f"{', '.join(LANDING_COLUMNS)}."
        )
    raise LandingFileError(
        f"{path.name}: columns are out of order ({', '.join(got)}). Write them in the "
        f"landing schema's order: {', '.join(LANDING_COLUMNS)}."
    )


def _parse_typed(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Turn text columns into the contract's types, naming the column and rows that fail."""
    out = frame.copy()
    for col in _DATE_COLUMNS:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            continue
        text = out[col].astype("string").str.strip()
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna() & text.notna()
        if bad.any():
            raise LandingFileError(
                f"{path.name}: column {col}: {_count_phrase(int(bad.sum()))} are not dates in "
                f"the form YYYY-MM-DD (lines {_row_examples(bad)}). Fix those values and land "
                "the file again."
            )
        out[col] = parsed
    for col in _FLOAT_COLUMNS + _INT_COLUMNS:
        if pd.api.types.is_numeric_dtype(out[col]):
            numbers = out[col].astype("float64")
        else:
            text = out[col].astype("string").str.strip()
            numbers = pd.to_numeric(text, errors="coerce")
            bad = numbers.isna() & text.notna()
            if bad.any():
                raise LandingFileError(
                    f"{path.name}: column {col}: {_count_phrase(int(bad.sum()))} are not "
                    f"numbers (lines {_row_examples(bad)}). Fix those values and land the file "
                    "again."
                )
        infinite = numbers.notna() & ~np.isfinite(numbers.astype("float64"))
        if infinite.any():
            raise LandingFileError(
                f"{path.name}: column {col}: {_count_phrase(int(infinite.sum()))} are infinite "
                f"(lines {_row_examples(infinite)}). Write a finite number or leave it empty."
            )
        if col in _INT_COLUMNS:
            huge = numbers.notna() & (numbers.abs() > _MAX_COUNT)
            if huge.any():
                raise LandingFileError(
                    f"{path.name}: column {col}: {_count_phrase(int(huge.sum()))} are beyond "
                    f"{_MAX_COUNT:.0e} (lines {_row_examples(huge)}); a count cannot be that large."
                )
            fractional = numbers.notna() & (numbers != numbers.round())
            if fractional.any():
                raise LandingFileError(
                    f"{path.name}: column {col}: {_count_phrase(int(fractional.sum()))} are "
                    f"not whole numbers (lines {_row_examples(fractional)})."
                )
        out[col] = numbers.astype("Int64") if col in _INT_COLUMNS else numbers
    if not pd.api.types.is_bool_dtype(out["auto_renew"]):
        text = out["auto_renew"].astype("string").str.strip().str.lower()
        mapped = text.map(_BOOL_VALUES)
        bad = mapped.isna()
        if bad.any():
            raise LandingFileError(
                f"{path.name}: column auto_renew: {_count_phrase(int(bad.sum()))} are not "
                f"true/false (lines {_row_examples(bad)})."
            )
        out["auto_renew"] = mapped.astype(bool)
    churned = out["churned"]
    if not pd.api.types.is_numeric_dtype(churned):
        text = churned.astype("string").str.strip()
        churned = pd.to_numeric(text, errors="coerce")
        bad = churned.isna() & text.notna()
        if bad.any():
            raise LandingFileError(
                f"{path.name}: column churned: {_count_phrase(int(bad.sum()))} are not 0, 1 "
                f"or empty (lines {_row_examples(bad)})."
            )
    not_label = churned.notna() & ~churned.isin([0, 1])
    if not_label.any():
        raise LandingFileError(
            f"{path.name}: column churned: {_count_phrase(int(not_label.sum()))} are not 0, 1 or "
            f"empty (lines {_row_examples(not_label)})."
        )
    out["churned"] = churned
    for col in ("customer_id", "plan", "contract", "payment_method", "region"):
        out[col] = out[col].astype("string").str.strip()
    return out


def _describe_failures(exc: pa.errors.SchemaErrors, path: Path) -> str:
    cases = exc.failure_cases
    lines = []
    # Row-level checks (over several columns) list every column of a failing row: count
    # rows once per check, not once per column.
    row_checks = cases[cases["schema_context"] == "DataFrameSchema"]
    for check, group in row_checks.groupby("check", sort=False):
        rows = sorted({int(i) for i in group["index"].dropna()})
        where = ", ".join(str(i + 2) for i in rows[:5])
        lines.append(f"rule '{check}' is broken in {_count_phrase(len(rows))} (lines {where})")
    column_cases = cases[cases["schema_context"] != "DataFrameSchema"]
    for (column, check), group in column_cases.groupby(
        ["column", "check"], dropna=False, sort=False
    ):
        where = "the file" if pd.isna(column) else f"column {column}"
        examples = ", ".join(map(str, group["failure_case"].astype(str).head(3)))
        rows = [int(i) + 2 for i in group["index"].dropna().head(5)]
        at = f"; lines {', '.join(map(str, rows))}" if rows else ""
        lines.append(
            f"{where} breaks rule '{check}' in {_count_phrase(len(group))} (e.g. {examples}{at})"
        )
    return (
        f"{path.name}: "
        + "; ".join(lines)
        + ". Fix the file and land it again; nothing was written for this day."
    )


def validate_landing(frame: pd.DataFrame, path: Path, day: dt.date) -> pd.DataFrame:
    """Validate parsed landing rows against the contract and the file's own date."""
    if frame.empty:
        raise LandingFileError(
            f"{path.name}: the file has a header but no rows. Land a file with at least one row."
        )
    wrong_day = frame["snapshot_date"].dt.date != day
    if wrong_day.any():
        raise LandingFileError(
            f"{path.name}: column snapshot_date: {_count_phrase(int(wrong_day.sum()))} are not "
            f"{day.isoformat()}, the file's date (lines {_row_examples(wrong_day)}). One file "
            "holds one day; split the file by snapshot_date."
        )
    dupes = frame["customer_id"].duplicated(keep=False)
    if dupes.any():
        raise LandingFileError(
            f"{path.name}: column customer_id: {_count_phrase(int(dupes.sum()))} share a "
            f"customer_id that must be unique within the file (lines {_row_examples(dupes)})."
        )
    try:
        return LandingSnapshot.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        raise LandingFileError(_describe_failures(exc, path)) from exc


def load_landing_file(landing_file: LandingFile) -> pd.DataFrame:
    """Read, type and validate one landing file; return rows in the landing schema."""
    path = landing_file.path
    if path.stat().st_size == 0:
        raise LandingFileError(f"{path.name}: the file is empty (0 bytes). Land it again.")
    frame = _read_raw(path)
    _check_columns(frame, path)
    typed = _parse_typed(frame, path)
    return validate_landing(typed, path, landing_file.day)


def check_partition_day(day: dt.date, start: dt.date, today: dt.date | None = None) -> None:
    """Refuse days outside the partition range with a message that says which bound."""
    today = today or dt.date.today()
    if day < start:
        raise LandingFileError(
            f"{day.isoformat()} is before the first partition {start.isoformat()} "
            "(ML_ASSETS_PARTITIONS_START); move the start date or drop the file."
        )
    if day > today:
        raise LandingFileError(
            f"{day.isoformat()} is in the future (today is {today.isoformat()}); a landing file "
            "must hold a day that has happened."
        )
