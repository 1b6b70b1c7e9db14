"""Finding, reading and validating landing files.

A landing file is one day, named by the dataset spec's ``landing_pattern`` (e.g.
``orders_YYYY-MM-DD.csv``, or ``.parquet`` with the same stem). Columns are typed from the
spec's column types, null markers are the spec's ``null_values``, the target becomes the
event (1/0/missing) through :func:`ml_assets.dataset.target_to_event`, and every row's date
column must equal the file's date. Reading never modifies or moves the file. Every problem
becomes a :class:`LandingFileError` whose message names the file, the column, the rule and
how many rows broke it. Each function takes the spec; None means the active one.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ml_assets.dataset import DatasetSpec, TargetValueError, active_spec, target_to_event
from ml_assets.dataset.schemas import landing_model

# Counts above this cannot be real and would not survive the conversion to int64.
_MAX_COUNT = 1e12
_BOOL_VALUES = {"true": True, "false": False, "1": True, "0": False, "t": True, "f": False}
# A typical landing row is about 150 bytes; a line this long is not a row, and reading it whole
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


def _spec(spec: DatasetSpec | None) -> DatasetSpec:
    return spec if spec is not None else active_spec()


def parse_landing_name(path: Path, spec: DatasetSpec | None = None) -> LandingFile | None:
    """The day a landing file holds, or None when the name is not a landing file name."""
    match = _spec(spec).landing_regex.fullmatch(path.name)
    if not match:
        return None
    try:
        day = dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None
    return LandingFile(path=path, day=day)


def list_landing_files(landing_dir: Path, spec: DatasetSpec | None = None) -> list[LandingFile]:
    """Landing files in a folder, sorted by day; CSV wins when a day has both formats.

    Symlinks that point outside the landing folder are ignored, so a link cannot make the
    pipeline read files it was not given.
    """
    if not landing_dir.is_dir():
        return []
    root = landing_dir.resolve()
    spec = _spec(spec)
    by_day: dict[dt.date, LandingFile] = {}
    for path in sorted(landing_dir.iterdir()):
        parsed = parse_landing_name(path, spec)
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


def landing_path(landing_dir: Path, name: str, spec: DatasetSpec | None = None) -> Path:
    """The path of a landing file name inside ``landing_dir``, or a clear error.

    The name must match the landing pattern (so it holds no folder part, no ``..`` and no
    control character), and the path, symlinks resolved, must stay inside the folder.
    """
    spec = _spec(spec)
    if not spec.landing_regex.fullmatch(name) or parse_landing_name(Path(name), spec) is None:
        raise LandingFileError(
            f"{name!r} is not a landing file name: expected {spec.landing_pattern_text} "
            f"inside {landing_dir}. Rename the file."
        )
    path = landing_dir / name
    if path.is_symlink() and not _inside(landing_dir, path):
        raise LandingFileError(
            f"{name}: a symlink to {path.resolve()}, outside the landing folder {landing_dir}; "
            "such links are refused. Copy the file into the folder instead."
        )
    return path


def _near_misses(landing_dir: Path, day: dt.date, spec: DatasetSpec) -> list[str]:
    if not landing_dir.is_dir():
        return []
    stamp = day.isoformat()
    return sorted(
        p.name
        for p in landing_dir.iterdir()
        if stamp in p.name and parse_landing_name(p, spec) is None
    )


def find_landing_file(
    landing_dir: Path, day: dt.date, spec: DatasetSpec | None = None
) -> LandingFile:
    """The landing file of one day; a clear error when there is none or it is unsafe."""
    spec = _spec(spec)
    for suffix in (".csv", ".parquet"):
        path = landing_path(landing_dir, spec.landing_file_name(day, suffix), spec)
        if path.is_file():
            return LandingFile(path=path, day=day)
    misses = _near_misses(landing_dir, day, spec)
    hint = (
        f" Found {', '.join(misses)}, which does not match the pattern "
        f"{spec.landing_pattern_text} (lower-case extension); rename it."
        if misses
        else ""
    )
    raise LandingFileError(
        f"No landing file for {day.isoformat()}: expected "
        f"{landing_dir / spec.landing_file_name(day)} (or .parquet).{hint} "
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


def _check_delimiter(frame: pd.DataFrame, path: Path, n_columns: int) -> None:
    if frame.shape[1] != 1:
        return
    header = str(frame.columns[0])
    for delimiter in _OTHER_DELIMITERS:
        if header.count(delimiter) >= max(n_columns // 2, 1):
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


def _read_raw(path: Path, spec: DatasetSpec) -> pd.DataFrame:
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
            na_values=list(spec.null_values),
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
    _check_delimiter(frame, path, len(spec.columns))
    _check_row_widths(content, path)
    return frame


def _check_columns(frame: pd.DataFrame, path: Path, spec: DatasetSpec) -> None:
    got = list(frame.columns)
    expected = spec.landing_columns
    if got == expected:
        return
    missing = [c for c in expected if c not in got]
    extra = [c for c in got if c not in expected]
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
            f"{', '.join(expected)}."
        )
    raise LandingFileError(
        f"{path.name}: columns are out of order ({', '.join(got)}). Write them in the "
        f"landing schema's order: {', '.join(expected)}."
    )


def _text(column: pd.Series, null_values: set[str]) -> pd.Series:
    """Trimmed text with the spec's null markers (and empty cells) as missing."""
    text = column.astype("string").str.strip()
    return text.mask(text.isin(null_values) | (text == ""))


def _parse_date(out: pd.DataFrame, col: str, path: Path, nulls: set[str]) -> None:
    if pd.api.types.is_datetime64_any_dtype(out[col]):
        return
    text = _text(out[col], nulls)
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna() & text.notna()
    if bad.any():
        raise LandingFileError(
            f"{path.name}: column {col}: {_count_phrase(int(bad.sum()))} are not dates in "
            f"the form YYYY-MM-DD (lines {_row_examples(bad)}). Fix those values and land "
            "the file again."
        )
    out[col] = parsed


def _parse_number(out: pd.DataFrame, col: str, is_int: bool, path: Path, nulls: set[str]) -> None:
    if pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(out[col]):
        numbers = out[col].astype("float64")
    else:
        text = _text(out[col], nulls)
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
    if is_int:
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
    out[col] = numbers.astype("Int64") if is_int else numbers


def _parse_bool(out: pd.DataFrame, col: str, nullable: bool, path: Path, nulls: set) -> None:
    if pd.api.types.is_bool_dtype(out[col]):
        return
    text = _text(out[col], nulls).str.lower()
    mapped = text.map(_BOOL_VALUES)
    bad = mapped.isna() & (text.notna() | (not nullable))
    if bad.any():
        raise LandingFileError(
            f"{path.name}: column {col}: {_count_phrase(int(bad.sum()))} are not "
            f"true/false (lines {_row_examples(bad)})."
        )
    out[col] = mapped.astype("boolean") if nullable else mapped.astype(bool)


def _parse_typed(frame: pd.DataFrame, path: Path, spec: DatasetSpec) -> pd.DataFrame:
    """Turn text columns into the spec's types, naming the column and rows that fail."""
    out = frame.copy()
    nulls = set(spec.null_values)
    for col in spec.columns:
        name = col.name
        if name == spec.target.column:
            try:
                out[name] = target_to_event(out[name], spec)
            except TargetValueError as exc:
                raise LandingFileError(
                    f"{path.name}: the target rule is broken in "
                    f"{_count_phrase(int(exc.mask.sum()))} (lines {_row_examples(exc.mask)}): "
                    f"{exc}"
                ) from exc
        elif col.type == "date":
            _parse_date(out, name, path, nulls)
        elif col.type in ("int", "float"):
            _parse_number(out, name, col.type == "int", path, nulls)
        elif col.type == "bool":
            _parse_bool(out, name, col.nullable, path, nulls)
        else:
            out[name] = _text(out[name], nulls)
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


def validate_landing(
    frame: pd.DataFrame, path: Path, day: dt.date, spec: DatasetSpec | None = None
) -> pd.DataFrame:
    """Validate parsed landing rows against the spec's rules and the file's own date."""
    spec = _spec(spec)
    date_column = spec.date_column
    if frame.empty:
        raise LandingFileError(
            f"{path.name}: the file has a header but no rows. Land a file with at least one row."
        )
    wrong_day = frame[date_column].dt.date != day
    if wrong_day.any():
        raise LandingFileError(
            f"{path.name}: column {date_column}: {_count_phrase(int(wrong_day.sum()))} are not "
            f"{day.isoformat()}, the file's date (lines {_row_examples(wrong_day)}). One file "
            f"holds one day; split the file by {date_column}."
        )
    unique = [c.name for c in spec.columns if c.unique or c.name == spec.id_column]
    for name in unique:
        dupes = frame[name].notna() & frame[name].duplicated(keep=False)
        if dupes.any():
            raise LandingFileError(
                f"{path.name}: column {name}: {_count_phrase(int(dupes.sum()))} share a "
                f"{name} that must be unique within the file (lines {_row_examples(dupes)})."
            )
    try:
        return landing_model(spec).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        raise LandingFileError(_describe_failures(exc, path)) from exc


def load_landing_file(landing_file: LandingFile, spec: DatasetSpec | None = None) -> pd.DataFrame:
    """Read, type and validate one landing file; return rows in the landing schema."""
    spec = _spec(spec)
    path = landing_file.path
    if path.stat().st_size == 0:
        raise LandingFileError(f"{path.name}: the file is empty (0 bytes). Land it again.")
    frame = _read_raw(path, spec)
    _check_columns(frame, path, spec)
    typed = _parse_typed(frame, path, spec)
    return validate_landing(typed, path, landing_file.day, spec)


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
