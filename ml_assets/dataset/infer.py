"""Inferring a dataset spec from a table, for `ml-assets init`.

Like TFX's SchemaGen, this reads one table and proposes a schema for a person to review:
a type per column, closed value sets for low-cardinality text, bounds for numbers,
nullability, the likely id and date columns, and warnings for columns that are constant or
that leak the target. Nothing here is trusted blindly: every guess is written to the spec
with a comment, and :func:`review_lines` says what to look at.

Choices, stated once:

- **Bounds are widened.** A spec's ``min``/``max`` refuse a whole landing day when one row
  breaks them, so the observed range would turn every future drift into a failed ingest
  instead of a drift report. The written bounds are sanity bounds: ``min: 0`` when no value
  was negative (a sign rule), otherwise the observed minimum minus the observed span; ``max``
  is the observed maximum plus the observed span; both rounded outwards to two significant
  digits. The observed range is written beside them as a comment.
- **Categories are closed sets** when a text column has at most :data:`MAX_CATEGORIES`
  distinct values and they repeat (on average at least :data:`MIN_ROWS_PER_CATEGORY` rows a
  value); other text columns are ``string`` and not used as features.
- **Leaks**: a column whose value alone ranks the target with a ROC AUC of at least
  :data:`LEAK_AUC` (sklearn's ``roc_auc_score``; missing values ranked first and last, the
  stronger kept; categories encoded by their target rate) is moved to ``exclude`` with a
  warning: such a column is usually known only after the outcome. From :data:`STRONG_AUC`
  on, a column is kept but gets a warning to check when it is known.
- **Constant** columns carry no information: excluded, with a warning.
- **Whole numbers with gaps are floats**: the served model's signature cannot hold a missing
  integer, and pandas reads such a column as float anyway.
- **Id**: the given ``--id``, else a column unique per row (or per date), names with ``id``
  first; with none, ``ml-assets land`` adds ``row_id`` (the row's number in the table).
- **Date**: the given ``--date``, else a column of dates (most rows per date first); with
  none, ``ml-assets land --days N --start DATE`` adds ``landing_date``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

LEAK_AUC = 0.95
STRONG_AUC = 0.85
MAX_CATEGORIES = 200
MIN_ROWS_PER_CATEGORY = 5
ADDED_ID_COLUMN = "row_id"
ADDED_DATE_COLUMN = "landing_date"
# The drift rule's default minimum of rows a day (drift.DriftRules.min_rows; a test keeps the
# two equal, and this module stays free of the pipeline's imports).
DRIFT_MIN_ROWS = 100
GATE_MIN_TEST_ROWS = 200  # gate.GateRules.min_test_rows (kept equal by a test)
GATE_MIN_TEST_EVENTS = 20  # gate.GateRules.min_test_positives
LIVE_DAYS = 7  # the days `make run` (ml-assets demo --live-days) leaves to the sensors
_POSITIVE_WORDS = ("1", "true", "t", "yes", "y", "positive", "pos")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")
_TRUE_FALSE = {"true": True, "false": False}


class TableError(ValueError):
    """A table that cannot be read or described; the message says what, where and what to do."""


@dataclass
class ColumnGuess:
    """What was inferred about one column (``rules`` is the spec's mapping for it)."""

    name: str
    type: str
    rules: dict
    comment: str = ""
    role: str = "feature"  # feature | id | date | target | excluded
    added: bool = False  # True for the id/date columns `ml-assets land` adds
    timestamp: bool = False  # text holding date and time (landed as its day when the date)


@dataclass
class InferredSpec:
    """A proposed spec: the mapping to write plus what the user should review."""

    source: Path
    rows: int
    name: str
    columns: list[ColumnGuess]
    id_column: str
    date_column: str
    target: str
    positive: object
    positive_share: float
    numeric: list[str]
    categorical: list[str]
    exclude: list[str]
    segments: list[str]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    leak_auc: dict[str, float] = field(default_factory=dict)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet table; a :class:`TableError` names the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: no such file. Give the path of a .csv or .parquet table.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".txt"):
            frame = pd.read_csv(path, low_memory=False)
        else:
            raise TableError(
                f"{path}: the extension {suffix or '(none)'} is not .csv or .parquet. "
                "Export the table as CSV (with a header row) or Parquet."
            )
    except TableError:
        raise
    except Exception as exc:  # pandas and pyarrow raise many types for a broken file
        raise TableError(
            f"{path}: not a readable {suffix.lstrip('.')} table ({type(exc).__name__}: {exc}). "
            "Export it again as CSV with a header row, or as Parquet."
        ) from exc
    if frame.empty or frame.shape[1] == 0:
        raise TableError(f"{path}: the table has no rows. Give a table with a header and rows.")
    keys = [column_key(c) for c in frame.columns]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise TableError(
            f"{path}: column name(s) {', '.join(duplicated)} appear more than once (after "
            "writing the names in lower-case snake case). Rename them so that each column has "
            "its own name."
        )
    renamed = {str(c): k for c, k in zip(frame.columns, keys, strict=True) if str(c) != k}
    frame = frame.set_axis(keys, axis=1)
    frame.attrs["renamed"] = renamed
    return frame


@functools.cache
def _reserved_words() -> frozenset[str]:
    """DuckDB's reserved keywords: a column named so would break the warehouse's SQL."""
    import duckdb

    rows = duckdb.sql(
        "select keyword_name from duckdb_keywords() where keyword_category = 'reserved'"
    ).fetchall()
    return frozenset(r[0] for r in rows)


def column_key(name: str) -> str:
    """A column name as a spec writes it: lower-case snake case of letters, digits and
    underscores (``Sepal.Length`` -> ``sepal_length``, ``personSearch`` -> ``person_search``;
    a SQL reserved word such as ``order`` gets a trailing ``_``), which is what the warehouse
    accepts. `ml-assets land` renames the table's columns the same way."""
    key = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    key = re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_").lower() or "column"
    if key[0].isdigit():
        key = f"c_{key}"
    return f"{key}_" if key in _reserved_words() else key


def spec_name(path: Path) -> str:
    """A dataset name from a file name: lower case letters, digits and underscores."""
    name = re.sub(r"[^0-9a-z]+", "_", path.stem.lower()).strip("_")
    if not name:
        return "dataset"
    return name if name[0].isalpha() else f"d_{name}"


# --- types ---------------------------------------------------------------------------------


def _distinct(series: pd.Series) -> pd.Series:
    """The distinct non-null values (type checks run on these, not on every row)."""
    return pd.Series(pd.unique(series.dropna()), dtype=object)


def _as_dates(series: pd.Series) -> tuple[pd.Series | None, bool]:
    """(parsed datetimes, has_time) when every non-null value is a date or timestamp."""
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = pd.to_datetime(series)
    else:
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            return None, False
        distinct = _distinct(series)
        if distinct.empty:
            return None, False
        if distinct.map(lambda v: isinstance(v, dt.date)).all():
            parsed = pd.to_datetime(series)
        else:
            text = distinct.astype(str).str.strip()
            if not (text.str.match(_ISO_DATE).all() or text.str.match(_ISO_TIMESTAMP).all()):
                return None, False
            lookup = pd.Series(pd.to_datetime(text, errors="coerce").to_numpy(), index=distinct)
            if lookup.isna().any():
                return None, False
            parsed = pd.to_datetime(series.map(lookup))
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_localize(None)
    present = pd.Series(pd.unique(parsed.dropna()))
    has_time = bool((present != present.dt.normalize()).any())
    return parsed, has_time


def _bool_values(series: pd.Series) -> pd.Series | None:
    if pd.api.types.is_bool_dtype(series):
        return series
    if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return None
    distinct = _distinct(series)
    if distinct.empty or len(distinct) > 4:
        return None
    if distinct.map(lambda v: isinstance(v, bool | np.bool_)).all():
        return series
    text = distinct.astype(str).str.strip().str.lower()
    if not text.isin(list(_TRUE_FALSE)).all():
        return None
    return series.map(dict(zip(distinct, text.map(_TRUE_FALSE), strict=True)))


def _is_integral(values: pd.Series) -> bool:
    numbers = values.dropna().astype("float64")
    return bool(np.isfinite(numbers).all() and (numbers == np.round(numbers)).all())


def _round_out(value: float, up: bool) -> float:
    """Round outwards to two significant digits (so a bound never cuts an observed value)."""
    if value == 0 or not math.isfinite(value):
        return 0.0
    step = 10.0 ** (math.floor(math.log10(abs(value))) - 1)
    scaled = value / step
    rounded = math.ceil(scaled - 1e-9) if up else math.floor(scaled + 1e-9)
    digits = max(0, -math.floor(math.log10(step)))
    return round(rounded * step, digits)


def widened_bounds(low: float, high: float, integer: bool) -> tuple[float, float]:
    """The spec's ``min``/``max`` for an observed range (see the module docstring)."""
    span = high - low
    if span == 0:
        span = max(abs(high), 1.0)
    lower = 0.0 if low >= 0 else _round_out(low - span, up=False)
    upper = _round_out(high + span, up=True)
    if integer:
        return float(math.floor(lower)), float(math.ceil(upper))
    return lower, upper


def _number(value: float, integer: bool):
    if integer:
        return int(value)
    return int(value) if float(value).is_integer() else float(value)


def _observed(value: float, integer: bool) -> str:
    if integer:
        return str(int(value))
    return f"{value:.6g}"


def _guess_column(name: str, series: pd.Series) -> ColumnGuess:
    """Type, rules and a review comment for one (non-target) column."""
    rules: dict = {}
    nulls = int(series.isna().sum())
    rows = len(series)
    notes: list[str] = []
    if nulls:
        rules["nullable"] = True
        notes.append(f"{nulls} of {rows} empty")
    present = series.dropna()
    booleans = _bool_values(series)
    if booleans is not None:
        return ColumnGuess(name, "bool", {"type": "bool", **rules}, "; ".join(notes))
    if pd.api.types.is_numeric_dtype(series):
        integer = pd.api.types.is_integer_dtype(series) or _is_integral(present)
        low, high = float(present.min()), float(present.max())
        lower, upper = widened_bounds(low, high, integer)
        notes.insert(0, f"observed {_observed(low, integer)} .. {_observed(high, integer)}")
        if integer and nulls:
            # The served model's signature (MLflow) holds no missing integers: whole numbers
            # with gaps are floats, as pandas reads them anyway.
            integer = False
            notes.insert(1, "whole numbers with gaps: float")
        kind = "int" if integer else "float"
        rules.update({"min": _number(lower, integer), "max": _number(upper, integer)})
        return ColumnGuess(name, kind, {"type": kind, **rules}, "; ".join(notes))
    parsed, has_time = _as_dates(series)
    if parsed is not None:
        if has_time:
            notes.insert(0, "timestamps: kept as text, not a feature (derive features from it)")
            return ColumnGuess(
                name, "string", {"type": "string", **rules}, "; ".join(notes), timestamp=True
            )
        first, last = parsed.min().date(), parsed.max().date()
        notes.insert(0, f"dates {first} .. {last}")
        return ColumnGuess(name, "date", {"type": "date", **rules}, "; ".join(notes))
    distinct = sorted({str(v) for v in pd.unique(present)})
    if len(distinct) <= MAX_CATEGORIES and len(distinct) * MIN_ROWS_PER_CATEGORY <= len(present):
        rules["values"] = distinct
        notes.insert(0, f"{len(distinct)} values seen; another value fails the day's ingest")
        return ColumnGuess(name, "category", {"type": "category", **rules}, "; ".join(notes))
    notes.insert(0, f"{len(distinct)} distinct values: free text, not a feature")
    return ColumnGuess(name, "string", {"type": "string", **rules}, "; ".join(notes))


# --- target, id, date ------------------------------------------------------------------------


def _target_guess(frame: pd.DataFrame, target: str, source: Path) -> tuple[ColumnGuess, object]:
    if target not in frame.columns:
        raise TableError(
            f"{source}: --target {target!r} is not a column of the table (columns: "
            f"{', '.join(frame.columns)}). Give the name of the column that holds the outcome."
        )
    series = frame[target]
    present = series.dropna()
    if present.empty:
        raise TableError(
            f"{source}: target column {target} is empty in all {len(series)} rows. "
            "Give a table in which at least some rows have a known outcome."
        )
    booleans = _bool_values(series)
    if booleans is not None:
        values = pd.Series(booleans).dropna().astype(bool)
        kind = "bool"
    else:
        values = present
        kind = None
    distinct = list(pd.unique(values))
    if len(distinct) != 2:
        shown = ", ".join(map(repr, sorted(map(str, distinct))[:8]))
        extra = "" if len(distinct) <= 8 else f" and {len(distinct) - 8} more"
        what = "only one value" if len(distinct) == 1 else f"{len(distinct)} distinct values"
        raise TableError(
            f"{source}: target column {target} has {what} ({shown}{extra}); a target has "
            "exactly two (the event and the other). Derive a two-valued column first "
            "(e.g. late = delay >= 15) and name it with --target."
        )
    counts = values.value_counts()
    if kind == "bool":
        positive = True
        rules = {"type": "bool"}
    elif pd.api.types.is_numeric_dtype(series):
        numbers = sorted(float(v) for v in distinct)
        if not _is_integral(present):
            raise TableError(
                f"{source}: target column {target} holds the numbers "
                f"{', '.join(map(str, numbers))}; a numeric target has whole values. "
                "Write it as 0/1 (or as text) and run init again."
            )
        kind = "int"
        positive = 1 if numbers == [0.0, 1.0] else int(counts.idxmin())
        rules = {"type": kind, "values": [int(v) for v in numbers]}
    else:
        kind = "category"
        words = {str(v).strip().lower(): v for v in distinct}
        chosen = [words[w] for w in _POSITIVE_WORDS if w in words]
        positive = str(chosen[0]) if chosen else str(counts.idxmin())
        rules = {"type": "category", "values": sorted(str(v) for v in distinct)}
    rules["nullable"] = True
    if kind == "bool":
        share = float(values.mean())
    elif kind == "int":
        share = float((values.astype("float64") == float(positive)).mean())
    else:
        share = float((values.astype(str) == str(positive)).mean())
    comment = f"target; missing = not known yet; positive {positive!r} in {share:.1%} of rows"
    guess = ColumnGuess(target, kind, rules, comment, role="target")
    return guess, (positive, share)


def _days(series: pd.Series) -> pd.Series:
    """A date or timestamp column as days."""
    parsed, _ = _as_dates(series)
    return series if parsed is None else parsed.dt.normalize()


def _duplicates(frame: pd.DataFrame, column: str, date: str | None) -> pd.Series:
    """Rows whose ``column`` value is not unique (within their day when ``date`` is given)."""
    keys = frame[[column]].copy()
    if date is not None and date in frame.columns:
        keys["_day"] = _days(frame[date])
    return keys.duplicated(keep=False) | frame[column].isna()


def _unique_per(frame: pd.DataFrame, column: str, date: str | None) -> bool:
    return not _duplicates(frame, column, date).any()


def _looks_like_id(name: str) -> bool:
    lowered = name.lower()
    return bool(re.search(r"(^|_)(id|key|uuid)$|^id(_|$)|rownames|identifier", lowered)) or (
        lowered.endswith("id") and len(lowered) > 2
    )


def _choose_date(frame: pd.DataFrame, guesses: dict[str, ColumnGuess], given: str | None):
    if given is not None:
        return given
    # Date columns first; timestamps (landed as their day) only when there is none.
    dates = [n for n, g in guesses.items() if g.type == "date"]
    if not dates:
        dates = [n for n, g in guesses.items() if g.timestamp and not frame[n].isna().any()]
    if not dates:
        return None

    def order(name: str) -> tuple:
        hinted = bool(re.search(r"date|day|snapshot|time|stamp|_at$", name.lower()))
        return (not hinted, _days(frame[name]).nunique(dropna=True))

    return sorted(dates, key=order)[0]


def _choose_id(frame: pd.DataFrame, guesses: dict[str, ColumnGuess], date: str | None):
    candidates = [
        n
        for n, g in guesses.items()
        if g.type in ("string", "int", "category")
        and n != date
        and frame[n].nunique() > 1
        and _unique_per(frame, n, date)
    ]
    candidates.sort(key=lambda n: (not _looks_like_id(n), guesses[n].type != "string"))
    return candidates[0] if candidates else None


# --- leaks ------------------------------------------------------------------------------------


def single_feature_auc(values: pd.Series, event: pd.Series) -> float:
    """How well one column alone ranks the event: max(AUC, 1 - AUC) with sklearn.

    Numbers are ranked as they are, categories by their rate of the event; missing values
    are ranked below and above every value and the stronger of the two is kept (a column
    that is missing exactly when the event happened leaks as much as one that is not).
    """
    from sklearn.metrics import roc_auc_score

    known = event.notna()
    y = event[known].astype(int).to_numpy()
    if len(np.unique(y)) < 2:
        return 0.5
    x = values[known]
    if pd.api.types.is_bool_dtype(x) or not pd.api.types.is_numeric_dtype(x):
        text = x.astype("string")
        rates = pd.Series(y, index=x.index).groupby(text).mean()
        x = text.map(rates).astype("float64")
    x = x.astype("float64")
    missing = x.isna()
    best = 0.5
    fills = [None] if not missing.any() else [x.min() - 1.0, x.max() + 1.0]
    for fill in fills:
        scores = x if fill is None else x.fillna(fill)
        if scores.isna().all():
            continue
        scores = scores.fillna(0.0)
        auc = float(roc_auc_score(y, scores.to_numpy()))
        best = max(best, auc, 1.0 - auc)
    return best


# --- the whole inference -------------------------------------------------------------------


def infer_spec(
    frame: pd.DataFrame,
    source: str | Path,
    target: str,
    id_column: str | None = None,
    date_column: str | None = None,
    name: str | None = None,
) -> InferredSpec:
    """Propose a spec for ``frame`` (read from ``source``); raises :class:`TableError`."""
    source = Path(source)

    def key(column: str | None) -> str | None:
        return column if column is None or column in frame.columns else column_key(column)

    target, id_column, date_column = key(target), key(id_column), key(date_column)
    target_guess, (positive, share) = _target_guess(frame, target, source)
    for flag, column in (("--id", id_column), ("--date", date_column)):
        if column is not None and column not in frame.columns:
            raise TableError(
                f"{source}: {flag} {column!r} is not a column of the table (columns: "
                f"{', '.join(frame.columns)}). Give an existing column or leave {flag} out."
            )
        if column is not None and column == target:
            raise TableError(f"{source}: {flag} {column!r} is the target; choose another column.")
    empty = [c for c in frame.columns if c != target and frame[c].isna().all()]
    if empty:
        raise TableError(
            f"{source}: column(s) {', '.join(empty)} are empty in all {len(frame)} rows, so no "
            "type can be inferred (the all-null rule). Drop them from the table, or fill them, "
            "and run init again."
        )
    guesses = {
        c: (target_guess if c == target else _guess_column(c, frame[c])) for c in frame.columns
    }
    warnings: list[str] = []
    notes: list[str] = []
    renamed = frame.attrs.get("renamed") or {}
    if renamed:
        shown = ", ".join(f"{a} -> {b}" for a, b in list(renamed.items())[:8])
        more = f" and {len(renamed) - 8} more" if len(renamed) > 8 else ""
        notes.append(
            f"columns named as the warehouse accepts them (lower-case snake case): {shown}"
            f"{more}; `ml-assets land` renames the table's columns the same way."
        )

    if date_column is not None:
        parsed, _ = _as_dates(frame[date_column])
        if parsed is None:
            raise TableError(
                f"{source}: --date {date_column}: values are not dates (e.g. "
                f"{frame[date_column].dropna().astype(str).iloc[0]!r}). Give a column of "
                "YYYY-MM-DD dates or timestamps."
            )
        guesses[date_column] = ColumnGuess(
            date_column,
            "date",
            {"type": "date"},
            "one landing file per date",
            role="date",
            timestamp=guesses[date_column].timestamp,
        )
    date = _choose_date(frame, guesses, date_column)
    if date is not None and frame[date].isna().any():
        count = int(frame[date].isna().sum())
        raise TableError(
            f"{source}: date column {date} is empty in {count} rows; every row needs its day. "
            "Fill or drop those rows, or name another column with --date."
        )
    if id_column is not None and not _unique_per(frame, id_column, date):
        dupes = int(_duplicates(frame, id_column, date).sum())
        per = f" per {date}" if date else ""
        raise TableError(
            f"{source}: --id {id_column}: {dupes} rows share a value{per} (or are empty), but "
            f"the id is unique per row{per} (the uniqueness rule). Give another column, or "
            "leave --id out so that `ml-assets land` numbers the rows."
        )
    ident = id_column or _choose_id(frame, guesses, date)

    columns: list[ColumnGuess] = []
    if ident is None:
        ident = ADDED_ID_COLUMN if ADDED_ID_COLUMN not in frame.columns else "ml_assets_row_id"
        columns.append(
            ColumnGuess(
                ident,
                "string",
                {"type": "string", "unique": True},
                "added by `ml-assets land`: the row's number in the table (no column is "
                "unique per row)",
                role="id",
                added=True,
            )
        )
        notes.append(f"id: no column is unique per row; `ml-assets land` adds {ident}.")
    else:
        guess = guesses[ident]
        kind = guess.type if guess.type in ("string", "int") else "string"
        guesses[ident] = ColumnGuess(
            ident,
            kind,
            {"type": kind, "unique": True},
            "id: unique per row" + (f" per {date}" if date else ""),
            role="id",
        )
        if id_column is None:
            notes.append(f"id: guessed {ident} (unique per row); give --id to choose another.")
    added_date: list[ColumnGuess] = []
    if date is None:
        date = (
            ADDED_DATE_COLUMN
            if ADDED_DATE_COLUMN not in frame.columns
            else "ml_assets_landing_date"
        )
        added_date.append(
            ColumnGuess(
                date,
                "date",
                {"type": "date"},
                "added by `ml-assets land --days N --start YYYY-MM-DD` (the table has no dates)",
                role="date",
                added=True,
            )
        )
        notes.append(
            f"date: the table has no date column; `ml-assets land --days N --start YYYY-MM-DD` "
            f"spreads its rows over N days and adds {date}."
        )
    else:
        guess = guesses[date]
        guess.role = "date"
        guess.rules = {"type": "date"}
        days = _days(frame[date])
        per_day = len(frame) / max(1, days.nunique())
        guess.comment = (
            f"one landing file per date, {days.min().date()} .. {days.max().date()} "
            f"({per_day:.0f} rows a day on average)"
        )
        if guess.timestamp:
            guess.comment = "timestamps, landed as their day; " + guess.comment
        if date_column is None:
            notes.append(f"date: guessed {date}; give --date to choose another.")
    for column in frame.columns:
        columns.append(guesses[column])
        if column == ident:  # an added date column goes right after the id
            columns.extend(added_date)
    if added_date and added_date[0] not in columns:
        columns[1:1] = added_date

    event = (frame[target].astype(str) == str(positive)).astype("Int64")
    if target_guess.type == "bool":
        event = _bool_values(frame[target]).astype("boolean").astype("Int64")
    elif target_guess.type == "int":
        event = (frame[target].astype("float64") == float(positive)).astype("Int64")
    event[frame[target].isna()] = pd.NA

    exclude: list[str] = []
    leak_auc: dict[str, float] = {}
    for guess in columns:
        if guess.role in ("id", "date", "target"):
            continue
        if guess.type in ("string", "date"):
            guess.role = "excluded"
            exclude.append(guess.name)
            continue
        series = frame[guess.name]
        if series.nunique(dropna=True) <= 1:
            guess.role = "excluded"
            exclude.append(guess.name)
            guess.comment = "constant: excluded; " + guess.comment
            warnings.append(
                f"{guess.name}: constant (one value, {str(series.dropna().iloc[0])!r}, in all "
                f"{int(series.notna().sum())} non-empty rows); excluded from the features."
            )
            continue
        values = _bool_values(series) if guess.type == "bool" else series
        auc = single_feature_auc(values, event)
        leak_auc[guess.name] = auc
        if auc >= LEAK_AUC:
            guess.role = "excluded"
            exclude.append(guess.name)
            guess.comment = f"LEAK? alone it ranks the target with AUC {auc:.3f}; excluded"
            warnings.append(
                f"{guess.name}: may leak the target (alone it ranks {target} with ROC AUC "
                f"{auc:.3f} >= {LEAK_AUC}); excluded. Is it known before the outcome? If so, "
                "move it from features.exclude to the features."
            )
        elif auc >= STRONG_AUC:
            guess.comment = f"REVIEW: strong alone (AUC {auc:.3f}); known before the outcome?"
            warnings.append(
                f"{guess.name}: strong alone (ranks {target} with ROC AUC {auc:.3f} >= "
                f"{STRONG_AUC}); kept as a feature. Check that it is known when a prediction is "
                "made; if it is measured after the outcome, move it to features.exclude."
            )
    numeric = [g.name for g in columns if g.role == "feature" and g.type in ("int", "float")]
    numeric += [g.name for g in columns if g.role == "feature" and g.type == "bool"]
    categorical = [g.name for g in columns if g.role == "feature" and g.type == "category"]
    if not numeric and not categorical:
        raise TableError(
            f"{source}: no column is left as a feature (ids, dates, text, constant and leaking "
            "columns are excluded). Give a table with at least one column that may predict "
            f"{target}."
        )
    segments = [
        c
        for c in sorted(categorical, key=lambda c: frame[c].nunique())
        if 2 <= frame[c].nunique() <= 8
    ][:2]
    return InferredSpec(
        source=source,
        rows=len(frame),
        name=name or spec_name(source),
        columns=columns,
        id_column=ident,
        date_column=date,
        target=target,
        positive=positive,
        positive_share=share,
        numeric=numeric,
        categorical=categorical,
        exclude=exclude,
        segments=segments,
        warnings=warnings,
        notes=notes,
        leak_auc=leak_auc,
    )


# --- writing --------------------------------------------------------------------------------


def _flow(value) -> str:
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def _line(text: str, comment: str, width: int = 48) -> str:
    if not comment:
        return text
    return f"{text.ljust(width)}  # {comment}"


def _column_lines(guess: ColumnGuess, width: int = 100) -> list[str]:
    """One flow-style line per column; a long value list as a block, wrapped."""
    one = f"  {_flow(guess.name)}: {_flow(guess.rules)}"
    if len(one) <= width or "values" not in guess.rules:
        return [_line(one, guess.comment)]
    lines = [_line(f"  {_flow(guess.name)}:", guess.comment)]
    for key, value in guess.rules.items():
        if key != "values":
            lines.append(f"    {key}: {_flow(value)}")
    return lines + _list_lines("values", guess.rules["values"], indent=4, width=width)


def _list_lines(key: str, values: list, indent: int = 2, width: int = 100) -> list[str]:
    """``key: [a, b]`` on one line, or a flow list wrapped over lines when long."""
    pad = " " * indent
    one = f"{pad}{key}: {_flow(list(values))}"
    if len(one) <= width:
        return [one]
    items = [_flow(v) for v in values]
    rows: list[str] = []
    chunk: list[str] = []
    for item in items:
        if chunk and len(", ".join([*chunk, item])) > width - indent - 4:
            rows.append(", ".join(chunk))
            chunk = []
        chunk.append(item)
    rows.append(", ".join(chunk))
    body = [f"{pad}  {row}," for row in rows[:-1]] + [f"{pad}  {rows[-1]}"]
    return [f"{pad}{key}: [", *body, f"{pad}]"]


def render_spec(spec: InferredSpec) -> str:
    """The spec as commented YAML (what `ml-assets init` writes)."""
    today = dt.date.today().isoformat()
    out = [
        f"# Dataset spec inferred by `ml-assets init` from {spec.source.name} "
        f"({spec.rows} rows) on {today}.",
        "# Review it before landing data: lines marked REVIEW are guesses. Types, value sets,",
        "# bounds and nullability become the landing rules: a day that breaks one is refused.",
        "# Bounds are widened sanity bounds (the observed range is in the comment), so that",
        "# drift is reported as drift rather than refused. Validate with",
        f"#   ml-assets check --spec {spec.name}.spec.yaml",
        _line(f"name: {spec.name}", f'REVIEW: model "{spec.name}_model"'),
        _line(f"entity: {spec.name}", f'REVIEW: tables "{spec.name}_snapshots", "_features"'),
        _line(f"id_column: {_flow(spec.id_column)}", "one row per id per day; split by its hash"),
        _line(f"date_column: {_flow(spec.date_column)}", "one landing file per date"),
        f"landing_pattern: {_flow(spec.name + '_{date}.csv')}",
        'null_values: ["", "NA"]',
        "target:",
        f"  column: {_flow(spec.target)}",
        _line(
            f"  positive: {_flow(spec.positive)}",
            f"REVIEW: the event ({spec.positive_share:.1%} of labelled rows)",
        ),
        "columns:                                          # the landing file's columns, in order",
    ]
    for guess in spec.columns:
        out += _column_lines(guess)
    out += [
        "features:                                         # REVIEW: what the model sees",
        *_list_lines("numeric", spec.numeric),
        *_list_lines("categorical", spec.categorical),
        '  # derive: "your_package.module:derive"          # optional row-wise function adding',
        "  #                                                 derived columns (declare them",
        "  #                                                 under `derived:`)",
        _line(f"  exclude: {_flow(spec.exclude)}", "ids, text, constant and leaking columns"),
    ]
    if spec.segments:
        out.append("segments:                                         # REVIEW: gate slices")
        out += [f"  - {_flow(s)}" for s in spec.segments]
    else:
        out.append("segments: []                                      # REVIEW: gate slices")
    return "\n".join(out) + "\n"


def suggested_days(rows: int, positive_share: float = 0.5) -> int:
    """Days to spread a table without dates over: about 150 rows a day (14 to 60 days), and
    enough that the history `make run` trains on (all but the last :data:`LIVE_DAYS` days)
    gives the gate's test split its minimum evidence (GateRules: 200 rows, 20 events, at a
    test fraction of 0.2), when the table holds that much."""
    days = max(14, min(60, rows // 150))
    need = max(GATE_MIN_TEST_ROWS, GATE_MIN_TEST_EVENTS / max(positive_share, 1e-9)) / 0.2
    if rows > need * 1.1:
        # History = all but the live days; training takes at most its last 30 days.
        days = max(days, min(30 + LIVE_DAYS, math.ceil(LIVE_DAYS * rows / (rows - need * 1.1))))
    return days


def review_lines(spec: InferredSpec, out: Path) -> list[str]:
    """What `ml-assets init` prints after writing the spec."""
    lines = [f"wrote {out} ({len(spec.columns)} columns, {spec.rows} rows read)."]
    lines += [f"warning: {w}" for w in spec.warnings]
    lines += [f"note: {n}" for n in spec.notes]
    lines.append(
        f"review: target {spec.target}, positive {spec.positive!r} "
        f"({spec.positive_share:.1%} of labelled rows); name and entity {spec.name!r}; the "
        "value sets (another value refuses a day), bounds and nullability; features.exclude; "
        "segments."
    )
    land = f"ml-assets land --from {spec.source} --spec {out}"
    if any(g.added and g.role == "date" for g in spec.columns):
        days = suggested_days(spec.rows, spec.positive_share)
        land += f" --days {days} --start 2025-01-01"
        lines.append(
            f"note: {days} days of about {spec.rows // days} rows suggested: `make run` trains "
            f"the first model on all but the last {LIVE_DAYS} days, and the gate wants at "
            f"least {GATE_MIN_TEST_ROWS} test rows and {GATE_MIN_TEST_EVENTS} events from it; "
            f"the drift report decides only on days with at least {DRIFT_MIN_ROWS} rows."
        )
    lines.append(f"next: ml-assets check --spec {out}; then {land}")
    return lines
