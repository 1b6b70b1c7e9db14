"""The dataset spec: one YAML file that declares a dataset to the generic pipeline.

The spec names the landing columns (types and rules), the target and its event value, the
model's features, an optional row-wise derive function (by import path), the evaluation
segments and the landing file pattern. Everything generic reads these from here.
``ML_ASSETS_DATASET`` chooses the file; the default is the bundled churn example.

Pure module: no Dagster, no sklearn or MLflow.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ml_assets.dataset.names import DatasetNames, dataset_names

TYPES = ("string", "category", "int", "float", "bool", "date")
NUMERIC_TYPES = ("int", "float", "bool")
TEXT_TYPES = ("string", "category")
TOP_KEYS = (
    "name",
    "entity",
    "id_column",
    "date_column",
    "landing_pattern",
    "null_values",
    "target",
    "columns",
    "features",
    "derived",
    "segments",
    "split",
    "drift",
    "retrain",
    "description",
)
REQUIRED_KEYS = (
    "name",
    "entity",
    "id_column",
    "date_column",
    "landing_pattern",
    "target",
    "columns",
    "features",
)
COLUMN_KEYS = ("type", "nullable", "unique", "min", "max", "values", "not_after", "description")
TARGET_KEYS = ("column", "positive")
FEATURE_KEYS = ("numeric", "categorical", "derive", "exclude")
SEGMENT_KEYS = ("name", "column", "bins", "labels")
SPLIT_KEYS = ("by", "test_days")
SPLIT_BY = ("id", "date")
DRIFT_KEYS = ("day_effects",)
RETRAIN_KEYS = ("min_days",)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]*\{date\}[A-Za-z0-9_\-]*$")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_TRUE_TEXT = {"true", "t", "1", "yes", "y"}
_FALSE_TEXT = {"false", "f", "0", "no", "n"}


class SpecError(ValueError):
    """A dataset spec that cannot be used; ``str()`` is one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class TargetValueError(ValueError):
    """Target values outside the two the spec declares; ``mask`` marks the offending rows."""

    def __init__(self, message: str, mask: pd.Series, values: list[Any]):
        self.mask = mask
        self.values = values
        super().__init__(message)


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its type and rules (``nullable``, ``unique``, ``min``, ``max``, ``values``,
    and ``not_after``: a date column that must not be after another date column)."""

    name: str
    type: str
    nullable: bool = False
    unique: bool = False
    min: float | None = None
    max: float | None = None
    values: tuple | None = None
    not_after: str | None = None


@dataclass(frozen=True)
class TargetSpec:
    column: str
    positive: Any


@dataclass(frozen=True)
class SplitSpec:
    """The training set's test split: ``id`` (a stable hash of the id: the default) or
    ``date`` (the window's latest days; ``test_days`` of them, or the test fraction of the
    window's days when None)."""

    by: str = "id"
    test_days: int | None = None


@dataclass(frozen=True)
class SegmentSpec:
    """An evaluation slice: a column's values, or a numeric column cut at ``bins`` (the last
    band is open-ended) with optional ``labels``, one per band."""

    name: str
    column: str
    bins: tuple[float, ...] | None = None
    labels: tuple[str, ...] | None = None

    def band_labels(self) -> tuple[str, ...]:
        if not self.bins:
            return ()
        if self.labels:
            return self.labels
        edges = [_short_number(b) for b in self.bins]
        return (*tuple(f"{a}-{b}" for a, b in itertools.pairwise(edges)), f"{edges[-1]}+")

    def values_of(self, frame: pd.DataFrame) -> pd.Series:
        """The segment label of every row of ``frame`` (``unknown`` outside the bins)."""
        column = frame[self.column]
        if not self.bins:
            return column.astype(str)
        numbers = pd.to_numeric(column, errors="coerce")
        out = pd.Series("unknown", index=frame.index, dtype=object)
        uppers = [*list(self.bins[1:]), math.inf]
        for low, high, label in zip(self.bins, uppers, self.band_labels(), strict=False):
            out[(numbers >= low) & (numbers < high)] = label
        return out


def _short_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True)
class DatasetSpec:
    """A loaded, checked dataset spec (see :func:`load_spec`)."""

    name: str
    entity: str
    id_column: str
    date_column: str
    landing_pattern: str
    null_values: tuple[str, ...]
    target: TargetSpec
    columns: tuple[ColumnSpec, ...]
    numeric_features: tuple[str, ...]
    categorical_features: tuple[str, ...]
    derive: str | None
    exclude: tuple[str, ...]
    segments: tuple[SegmentSpec, ...]
    derived: tuple[ColumnSpec, ...] = ()
    path: Path = field(default=Path("spec.yaml"), compare=False)
    prefix: str | None = None
    # Opt-in keys for data whose rows share a day's conditions (see docs/dataset-spec.md);
    # the defaults are the behaviour of a spec without them.
    split: SplitSpec = field(default_factory=SplitSpec)
    drift_day_effects: bool = False
    retrain_min_days: int = 0

    @property
    def names(self) -> DatasetNames:
        return dataset_names(self.name, self.entity, self.prefix)

    def column(self, name: str) -> ColumnSpec:
        """A landing or derived column by name; KeyError naming the spec when unknown."""
        for col in self.columns + self.derived:
            if col.name == name:
                return col
        raise KeyError(f"{self.path}: no column {name!r} in columns or derived")

    @property
    def landing_columns(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def derived_columns(self) -> list[str]:
        return [c.name for c in self.derived]

    @property
    def model_features(self) -> list[str]:
        return list(self.categorical_features) + list(self.numeric_features)

    @property
    def feature_table_columns(self) -> list[str]:
        return [self.id_column, self.date_column, *self.model_features, self.target.column]

    @property
    def serving_columns(self) -> list[str]:
        return [c for c in self.landing_columns if c != self.target.column]

    @property
    def segment_names(self) -> list[str]:
        return [s.name for s in self.segments]

    @property
    def landing_regex(self) -> re.Pattern[str]:
        """Full-match pattern of a landing file name; group 1 is the date, group 2 the format."""
        stem = _pattern_stem(self.landing_pattern)
        before, after = stem.split("{date}", 1)
        return re.compile(
            "^"
            + re.escape(before)
            + r"(\d{4}-\d{2}-\d{2})"
            + re.escape(after)
            + r"\.(csv|parquet)$"
        )

    def landing_file_name(self, day, suffix: str = ".csv") -> str:
        """The landing file name of ``day`` (a date or ISO string) with ``suffix``."""
        stamp = day if isinstance(day, str) else day.isoformat()
        return _pattern_stem(self.landing_pattern).replace("{date}", stamp) + suffix

    @property
    def landing_pattern_text(self) -> str:
        """The pattern as users read it, e.g. ``customers_YYYY-MM-DD.csv|.parquet``."""
        return _pattern_stem(self.landing_pattern).replace("{date}", "YYYY-MM-DD") + ".csv|.parquet"

    def derive_function(self) -> Callable[[pd.DataFrame], pd.DataFrame] | None:
        """The derive function named by ``features.derive``, imported; None when there is none."""
        if not self.derive:
            return None
        function, problem = _import_derive(self.derive, self.path)
        if problem:
            raise SpecError([f"{self.path}: features.derive: {problem}"])
        return function


def _pattern_stem(pattern: str) -> str:
    for suffix in (".csv", ".parquet"):
        if pattern.endswith(suffix):
            return pattern[: -len(suffix)]
    return pattern


def _import_derive(path: str, spec_path: Path) -> tuple[Callable | None, str | None]:
    """Import ``module:function``; also looks beside the spec file. (function, problem)."""
    if not isinstance(path, str) or not _IMPORT_PATH.match(path):
        return None, (
            f"{path!r} is not an import path of the form 'package.module:function'; write it so."
        )
    module_name, function_name = path.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        folder = str(Path(spec_path).resolve().parent)
        if exc.name != module_name.split(".")[0] or folder in sys.path:
            return None, _import_problem(module_name, exc)
        sys.path.append(folder)
        try:
            module = importlib.import_module(module_name)
        except Exception as exc2:
            sys.path.remove(folder)
            return None, _import_problem(module_name, exc2)
    except Exception as exc:
        return None, _import_problem(module_name, exc)
    function = getattr(module, function_name, None)
    if not callable(function):
        return None, (
            f"module {module_name} has no function {function_name}; define it or fix the path."
        )
    return function, None


def _import_problem(module_name: str, exc: BaseException) -> str:
    return (
        f"cannot import module {module_name} ({type(exc).__name__}: {exc}); install the "
        "package that holds it, or put the module beside the spec file."
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Checker:
    """Collects problems as ``<file>: <key path>: <rule>; <what to do>`` lines."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []

    def add(self, key: str, text: str) -> None:
        self.problems.append(f"{self.path}: {key}: {text}")

    def unknown_keys(self, mapping: dict, allowed: tuple[str, ...], where: str) -> None:
        for key in mapping:
            if key not in allowed:
                self.add(
                    f"{where}{key}" if where else str(key),
                    f"unknown key; the keys allowed here are {', '.join(allowed)}. "
                    "Remove it or fix its spelling.",
                )


def _read_yaml(path: Path) -> tuple[Any, list[str]]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [
            f"{path}: the spec file does not exist; set ML_ASSETS_DATASET to a spec file "
            "(or run `ml-assets init` to write one)."
        ]
    except OSError as exc:
        return None, [f"{path}: cannot read the spec file ({exc})."]
    try:
        # libyaml's loader when PyYAML has it (about 10x faster), the same safe subset.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(text, Loader=loader), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        detail = " ".join(str(exc).split())  # one line per problem
        return None, [f"{path}: not valid YAML{where} ({detail}); fix the syntax."]


def _parse_column(ck: _Checker, name: str, raw: Any, where: str) -> ColumnSpec | None:
    key = f"{where}.{name}"
    if not isinstance(name, str) or not _COLUMN_NAME.match(name):
        ck.add(key, "a column name must be letters, digits and underscores; rename it.")
        return None
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict):
        ck.add(key, "expected a mapping like {type: float, min: 0}; write it so.")
        return None
    ck.unknown_keys(raw, COLUMN_KEYS, f"{key}.")
    col_type = raw.get("type")
    if col_type not in TYPES:
        ck.add(
            f"{key}.type",
            f"{col_type!r} is not a type; use one of {', '.join(TYPES)}.",
        )
        # Kept under its name so that later checks do not report it missing as well.
        return ColumnSpec(name=name, type=str(col_type))
    for flag in ("nullable", "unique"):
        if flag in raw and not isinstance(raw[flag], bool):
            ck.add(f"{key}.{flag}", f"{raw[flag]!r} is not true or false; write true or false.")
    bounds = {}
    for bound in ("min", "max"):
        if raw.get(bound) is None:
            continue
        if col_type not in ("int", "float"):
            ck.add(f"{key}.{bound}", f"a {bound} needs an int or float column, not {col_type}.")
        elif not _is_number(raw[bound]):
            ck.add(f"{key}.{bound}", f"{raw[bound]!r} is not a number; write a number.")
        else:
            bounds[bound] = raw[bound]
    if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
        ck.add(f"{key}.min", f"min {bounds['min']} is above max {bounds['max']}; swap them.")
    values = raw.get("values")
    if values is not None:
        if not isinstance(values, list) or not values:
            ck.add(f"{key}.values", "expected a non-empty list of allowed values.")
            values = None
        elif col_type in TEXT_TYPES and any(isinstance(v, bool) for v in values):
            ck.add(
                f"{key}.values",
                "YAML read an unquoted yes/no/true/false as a boolean in a text column; "
                'quote the values (e.g. ["No", "Yes"]).',
            )
            values = None
        elif col_type in TEXT_TYPES:
            values = [str(v) for v in values]
        elif col_type == "int" and not all(_is_number(v) and float(v).is_integer() for v in values):
            ck.add(f"{key}.values", "an int column's values must be whole numbers.")
            values = None
        elif col_type in ("float", "date", "bool"):
            ck.add(
                f"{key}.values", f"values are for category, string and int columns, not {col_type}."
            )
            values = None
    not_after = raw.get("not_after")
    if not_after is not None and col_type != "date":
        ck.add(f"{key}.not_after", "not_after compares dates; use it on a date column.")
    return ColumnSpec(
        name=name,
        type=col_type,
        nullable=bool(raw.get("nullable", False)),
        unique=bool(raw.get("unique", False)),
        min=bounds.get("min"),
        max=bounds.get("max"),
        values=tuple(values) if values is not None else None,
        not_after=not_after,
    )


def _parse_columns(ck: _Checker, raw: Any, where: str, required: bool) -> tuple[ColumnSpec, ...]:
    if raw is None and not required:
        return ()
    if not isinstance(raw, dict) or not raw:
        ck.add(where, "expected a mapping of column name to {type: ..., rules}, in file order.")
        return ()
    parsed = [_parse_column(ck, name, value, where) for name, value in raw.items()]
    return tuple(c for c in parsed if c is not None)


def _name_list(ck: _Checker, raw: Any, where: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        ck.add(where, "expected a list of column names, e.g. [a, b].")
        return []
    return list(raw)


def _parse_segments(ck: _Checker, raw: Any) -> list[SegmentSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        ck.add("segments", "expected a list of columns or {name, column, bins} mappings.")
        return []
    out = []
    for i, item in enumerate(raw):
        key = f"segments[{i}]"
        if isinstance(item, str):
            out.append(SegmentSpec(name=item, column=item))
            continue
        if not isinstance(item, dict):
            ck.add(key, "expected a column name or {name, column, bins, labels}.")
            continue
        ck.unknown_keys(item, SEGMENT_KEYS, f"{key}.")
        column = item.get("column")
        if not isinstance(column, str):
            ck.add(f"{key}.column", "missing; name the column the segment slices.")
            continue
        name = item.get("name", column)
        bins = item.get("bins")
        if bins is not None and (
            not isinstance(bins, list)
            or len(bins) < 1
            or not all(_is_number(b) for b in bins)
            or any(b >= c for b, c in itertools.pairwise(bins))
        ):
            ck.add(f"{key}.bins", "expected increasing numbers, e.g. [0, 90, 365].")
            bins = None
        labels = item.get("labels")
        if labels is not None and (
            bins is None or not isinstance(labels, list) or len(labels) != len(bins)
        ):
            ck.add(
                f"{key}.labels",
                "expected one label per band: as many labels as bins (the last band is "
                "open-ended).",
            )
            labels = None
        out.append(
            SegmentSpec(
                name=str(name),
                column=column,
                bins=tuple(bins) if bins else None,
                labels=tuple(str(x) for x in labels) if labels else None,
            )
        )
    return out


def _parse_split(ck: _Checker, raw: Any) -> SplitSpec:
    if raw is None:
        return SplitSpec()
    if not isinstance(raw, dict):
        ck.add("split", "expected {by: id} or {by: date, test_days: N}.")
        return SplitSpec()
    ck.unknown_keys(raw, SPLIT_KEYS, "split.")
    by = raw.get("by", "id")
    if by not in SPLIT_BY:
        ck.add("split.by", f"{by!r} is not a split; use id (hash of the id) or date (latest days).")
        by = "id"
    test_days = raw.get("test_days")
    if test_days is not None and (
        isinstance(test_days, bool) or not isinstance(test_days, int) or test_days < 1
    ):
        ck.add("split.test_days", f"{test_days!r} must be a whole number of days, at least 1.")
        test_days = None
    if test_days is not None and by != "date":
        ck.add("split.test_days", "applies to a split by date only; add by: date or remove it.")
        test_days = None
    return SplitSpec(by=str(by), test_days=test_days)


def _parse_option(
    ck: _Checker, raw: Any, key: str, allowed: tuple[str, ...], kind: type, default: Any
) -> Any:
    """The single option of a small mapping key (``drift``, ``retrain``), type-checked."""
    if raw is None:
        return default
    if not isinstance(raw, dict):
        ck.add(key, f"expected a mapping with the key {allowed[0]}.")
        return default
    ck.unknown_keys(raw, allowed, f"{key}.")
    value = raw.get(allowed[0], default)
    if kind is bool and not isinstance(value, bool):
        ck.add(f"{key}.{allowed[0]}", f"{value!r} must be true or false.")
        return default
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        ck.add(f"{key}.{allowed[0]}", f"{value!r} must be a whole number of days, 0 or more.")
        return default
    return value


def _check_references(ck: _Checker, spec: DatasetSpec) -> None:
    landing = {c.name: c for c in spec.columns}
    derived = {c.name: c for c in spec.derived}
    known = {**landing, **derived}
    for clash in sorted(set(landing) & set(derived)):
        ck.add(f"derived.{clash}", "is also a landing column; rename the derived column.")
    for key in ("id_column", "date_column"):
        value = getattr(spec, key)
        if value not in landing:
            ck.add(key, f"{value!r} is not one of the columns; add it to columns or fix the name.")
    if spec.date_column in landing and landing[spec.date_column].type != "date":
        ck.add("date_column", f"{spec.date_column} must have type date.")
    target = spec.target.column
    if target not in landing:
        ck.add(
            "target.column",
            f"{target!r} is not one of the columns; add the label column to columns or fix the "
            "name.",
        )
    elif landing[target].type in TYPES:
        _check_target(ck, spec, landing[target])
    seen: dict[str, str] = {}
    for group, names in (
        ("categorical", spec.categorical_features),
        ("numeric", spec.numeric_features),
    ):
        for i, feature in enumerate(names):
            key = f"features.{group}[{i}]"
            if feature not in known:
                ck.add(
                    key,
                    f"{feature!r} is neither a column nor a derived column; add it to columns "
                    "(or to derived, made by the derive function) or remove it.",
                )
                continue
            if feature in seen:
                ck.add(key, f"{feature!r} is listed twice (also in {seen[feature]}); keep one.")
            seen[feature] = key
            if feature in (target, spec.id_column, spec.date_column):
                ck.add(
                    key, f"{feature!r} is the id, date or target column; it cannot be a feature."
                )
            elif feature in spec.exclude:
                ck.add(key, f"{feature!r} is also in features.exclude; remove it from one.")
            kind = known[feature].type
            if kind not in TYPES:
                continue
            if group == "categorical" and kind not in TEXT_TYPES:
                ck.add(
                    key,
                    f"{feature!r} has type {kind}; a categorical feature is string or category.",
                )
            if group == "numeric" and kind not in NUMERIC_TYPES:
                ck.add(
                    key, f"{feature!r} has type {kind}; a numeric feature is int, float or bool."
                )
    if not spec.model_features:
        ck.add("features", "no features; list columns under features.numeric or categorical.")
    for i, name in enumerate(spec.exclude):
        if name not in landing:
            ck.add(f"features.exclude[{i}]", f"{name!r} is not one of the columns.")
    if spec.derived and not spec.derive:
        ck.add("features.derive", "derived columns are declared but no derive function makes them.")
    for col in spec.columns + spec.derived:
        if col.not_after is not None and (
            col.not_after not in known or known[col.not_after].type != "date"
        ):
            ck.add(f"columns.{col.name}.not_after", f"{col.not_after!r} is not a date column.")
    for i, seg in enumerate(spec.segments):
        if seg.column not in known:
            ck.add(f"segments[{i}]", f"{seg.column!r} is neither a column nor a derived column.")
        elif seg.bins and known[seg.column].type not in ("int", "float"):
            ck.add(f"segments[{i}].bins", f"bins need a numeric column; {seg.column} is not.")
    names = [s.name for s in spec.segments]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        ck.add("segments", f"segment name {dup!r} is used twice; rename one.")


def _check_target(ck: _Checker, spec: DatasetSpec, column: ColumnSpec) -> None:
    positive = spec.target.positive
    if column.type in TEXT_TYPES and isinstance(positive, bool):
        ck.add(
            "target.positive",
            "YAML read an unquoted yes/no/true/false as a boolean for a text column; quote it "
            '(e.g. positive: "Yes").',
        )
        return
    if column.type in ("float", "date"):
        ck.add(
            "target.column", f"a target must be int, bool, string or category, not {column.type}."
        )
        return
    if column.type == "bool" and not isinstance(positive, bool):
        ck.add("target.positive", "the target column is bool; write positive: true or false.")
    if column.type == "int" and not (_is_number(positive) and float(positive).is_integer()):
        ck.add(
            "target.positive", f"{positive!r} is not a whole number, as the int target column is."
        )
    allowed = _target_values(spec, column)
    if allowed is not None:
        if len(allowed) != 2:
            ck.add(
                f"columns.{column.name}.values",
                f"a target has exactly two values (the event and the other); found {len(allowed)}.",
            )
        elif _normal(positive, column.type) not in [_normal(v, column.type) for v in allowed]:
            ck.add(
                "target.positive",
                f"{positive!r} is not one of the target's values "
                f"{', '.join(map(str, allowed))}; use one of them.",
            )


def _target_values(spec: DatasetSpec, column: ColumnSpec) -> list | None:
    """The two declared target values (the column's values, or 0/1 and false/true)."""
    if column.values is not None:
        return list(column.values)
    if column.type == "bool":
        return [False, True]
    if column.type == "int":
        return [0, 1]
    return None


def _normal(value: Any, col_type: str) -> Any:
    if col_type == "int":
        return int(value) if _is_number(value) else value
    if col_type == "bool":
        return value
    return str(value)


def _build(ck: _Checker, data: Any, path: Path) -> DatasetSpec | None:
    if not isinstance(data, dict):
        ck.add("(top)", "the spec must be a YAML mapping with the keys " + ", ".join(REQUIRED_KEYS))
        return None
    ck.unknown_keys(data, TOP_KEYS, "")
    for key in REQUIRED_KEYS:
        if key not in data:
            ck.add(key, "missing; every spec declares it (see DESIGN.md, Dataset specification).")
    for key in ("name", "entity"):
        value = data.get(key)
        if key in data and (not isinstance(value, str) or not _NAME.match(value)):
            ck.add(
                key,
                f"{value!r} must be lower-case letters, digits and underscores (it names tables "
                "and the model); rename it.",
            )
    pattern = data.get("landing_pattern", "")
    if "landing_pattern" in data:
        if not isinstance(pattern, str) or pattern.count("{date}") != 1:
            ck.add(
                "landing_pattern",
                f"{pattern!r} has no single {{date}} placeholder; write e.g. "
                '"orders_{date}.csv" ({date} is YYYY-MM-DD).',
            )
            pattern = ""
        elif not _PATTERN.match(_pattern_stem(pattern)):
            ck.add(
                "landing_pattern",
                f"{pattern!r} may hold only letters, digits, '-', '_', '.' and {{date}}, and "
                "end with .csv, .parquet or nothing (no folder part); rename it.",
            )
            pattern = ""
    null_values = data.get("null_values", [""])
    if not isinstance(null_values, list) or not all(isinstance(v, str) for v in null_values):
        ck.add("null_values", 'expected a list of strings read as missing, e.g. ["", "NA"].')
        null_values = [""]
    target = data.get("target")
    target_spec = TargetSpec(column="", positive=None)
    if isinstance(target, dict):
        ck.unknown_keys(target, TARGET_KEYS, "target.")
        if not isinstance(target.get("column"), str):
            ck.add("target.column", "missing; name the label column.")
        if "positive" not in target:
            ck.add("target.positive", "missing; write the value that marks the event (e.g. 1).")
        target_spec = TargetSpec(
            column=str(target.get("column", "")), positive=target.get("positive")
        )
    elif "target" in data:
        ck.add("target", "expected {column: ..., positive: ...}.")
    columns = _parse_columns(ck, data.get("columns"), "columns", required=True)
    derived = _parse_columns(ck, data.get("derived"), "derived", required=False)
    features = data.get("features")
    if not isinstance(features, dict):
        if "features" in data:
            ck.add("features", "expected {numeric: [...], categorical: [...], derive: ...}.")
        features = {}
    ck.unknown_keys(features, FEATURE_KEYS, "features.")
    derive = features.get("derive")
    if derive is not None:
        _, problem = _import_derive(derive, path)
        if problem:
            ck.add("features.derive", problem)
    segments = _parse_segments(ck, data.get("segments"))
    split = _parse_split(ck, data.get("split"))
    day_effects = _parse_option(ck, data.get("drift"), "drift", DRIFT_KEYS, bool, False)
    min_days = _parse_option(ck, data.get("retrain"), "retrain", RETRAIN_KEYS, int, 0)
    if ck.problems and not columns:
        return None
    spec = DatasetSpec(
        name=str(data.get("name", "")),
        entity=str(data.get("entity", "")),
        id_column=str(data.get("id_column", "")),
        date_column=str(data.get("date_column", "")),
        landing_pattern=str(pattern),
        null_values=tuple(null_values),
        target=target_spec,
        columns=columns,
        numeric_features=tuple(_name_list(ck, features.get("numeric"), "features.numeric")),
        categorical_features=tuple(
            _name_list(ck, features.get("categorical"), "features.categorical")
        ),
        derive=derive,
        exclude=tuple(_name_list(ck, features.get("exclude"), "features.exclude")),
        segments=tuple(segments),
        derived=derived,
        path=path,
        split=split,
        drift_day_effects=day_effects,
        retrain_min_days=min_days,
    )
    _check_references(ck, spec)
    return spec


def _resolve(path: str | Path | None) -> Path:
    if path is None:
        from ml_assets import settings

        return settings.dataset_spec_path()
    return Path(path).expanduser().resolve()


def spec_problems(path: str | Path | None = None) -> list[str]:
    """Every problem of a spec file, one line each (what ``ml-assets check`` prints)."""
    resolved = _resolve(path)
    data, problems = _read_yaml(resolved)
    if problems:
        return problems
    ck = _Checker(resolved)
    _build(ck, data, resolved)
    return ck.problems


def load_spec(path: str | Path | None = None, prefix: str | None = None) -> DatasetSpec:
    """Load and check a spec (None: ``ML_ASSETS_DATASET``, default the churn example).

    Raises :class:`SpecError` listing all problems. ``prefix`` puts a prefix in front of the
    dataset's asset keys (for a dataset loaded beside another one).
    """
    resolved = _resolve(path)
    data, problems = _read_yaml(resolved)
    if problems:
        raise SpecError(problems)
    ck = _Checker(resolved)
    spec = _build(ck, data, resolved)
    if ck.problems or spec is None:
        raise SpecError(ck.problems)
    if prefix:
        from dataclasses import replace

        spec = replace(spec, prefix=prefix)
    return spec


@functools.cache
def _cached_spec(path: Path) -> DatasetSpec:
    return load_spec(path)


def active_spec() -> DatasetSpec:
    """The spec ``ML_ASSETS_DATASET`` names (default: churn), loaded once per resolved path."""
    return _cached_spec(_resolve(None))


def target_to_event(series: pd.Series, spec: DatasetSpec) -> pd.Series:
    """Labels as events: 1 for ``target.positive``, 0 for the other value, <NA> if missing.

    Text values (as read from CSV) are compared after trimming; ``1``/``1.0`` match an int
    positive, ``true``/``false``/``1``/``0`` a bool one. A value other than the two declared
    ones (for a text target without ``values``: a third distinct value) raises
    :class:`TargetValueError` naming the values found and the ones allowed.
    """
    column = spec.column(spec.target.column)
    positive = spec.target.positive
    null_values = set(spec.null_values)
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        keys = series.astype(object).where(series.notna(), None)
    else:
        text = series.astype("string").str.strip()
        missing = text.isna() | text.isin(null_values)
        keys = text.astype(object).where(~missing, None)
    present = keys.notna()
    if column.type == "int":
        numbers = pd.to_numeric(keys.where(present, None), errors="coerce")
        normal = numbers.where(numbers.notna() & (numbers == numbers.round()), None)
        good = normal.notna() | ~present
        normalized = pd.Series(
            [int(v) if pd.notna(v) else None for v in normal], index=series.index, dtype=object
        )
        allowed = [int(v) for v in (column.values or (0, 1))]
        pos = int(positive)
    elif column.type == "bool":

        def to_bool(v: Any) -> Any:
            if v is None:
                return None
            if isinstance(v, bool):
                return v
            if _is_number(v):
                return {1: True, 0: False}.get(v)
            text_value = str(v).strip().lower()
            if text_value in _TRUE_TEXT:
                return True
            if text_value in _FALSE_TEXT:
                return False
            return None

        normalized = keys.map(to_bool).astype(object)
        good = normalized.notna() | ~present
        allowed = [False, True]
        pos = bool(positive)
    else:
        normalized = keys.map(lambda v: None if v is None else str(v)).astype(object)
        good = pd.Series(True, index=series.index)
        pos = str(positive)
        if column.values is not None:
            allowed = [str(v) for v in column.values]
        else:
            seen = sorted({v for v in normalized.dropna() if v != pos})
            allowed = [pos, *seen[:1]]
    outside = present & (~good | ~normalized.isin(allowed))
    if outside.any():
        found = sorted({str(v) for v in keys[outside]})
        shown = ", ".join(found[:5]) + (" ..." if len(found) > 5 else "")
        raise TargetValueError(
            f"column {spec.target.column}: {outside.sum()} value(s) {shown} are neither of the "
            f"target's two values {', '.join(map(str, allowed))} (positive: {positive}); fix "
            "the labels, or declare the values under columns."
            f"{spec.target.column}.values.",
            mask=outside,
            values=found,
        )
    event = pd.Series(pd.NA, index=series.index, dtype="Int64")
    known = normalized.notna()
    event[known] = (normalized[known] == pos).astype("int64")
    return event


def spec_to_dict(spec: DatasetSpec) -> dict[str, Any]:
    """The spec as plain JSON-able data (stored inside a registered model)."""

    def column(col: ColumnSpec) -> dict[str, Any]:
        out = {k: getattr(col, k) for k in ColumnSpec.__dataclass_fields__}
        out["values"] = list(col.values) if col.values is not None else None
        return out

    return {
        "name": spec.name,
        "entity": spec.entity,
        "id_column": spec.id_column,
        "date_column": spec.date_column,
        "landing_pattern": spec.landing_pattern,
        "null_values": list(spec.null_values),
        "target": {"column": spec.target.column, "positive": spec.target.positive},
        "columns": [column(c) for c in spec.columns],
        "numeric_features": list(spec.numeric_features),
        "categorical_features": list(spec.categorical_features),
        "derive": spec.derive,
        "exclude": list(spec.exclude),
        "segments": [
            {
                "name": s.name,
                "column": s.column,
                "bins": list(s.bins) if s.bins else None,
                "labels": list(s.labels) if s.labels else None,
            }
            for s in spec.segments
        ],
        "derived": [column(c) for c in spec.derived],
        "path": str(spec.path),
        "prefix": spec.prefix,
        "split": {"by": spec.split.by, "test_days": spec.split.test_days},
        "drift_day_effects": spec.drift_day_effects,
        "retrain_min_days": spec.retrain_min_days,
    }


def spec_from_dict(data: dict[str, Any]) -> DatasetSpec:
    """The inverse of :func:`spec_to_dict` (no re-check: the dict came from a checked spec)."""

    def column(raw: dict[str, Any]) -> ColumnSpec:
        values = raw.get("values")
        return ColumnSpec(**{**raw, "values": tuple(values) if values is not None else None})

    path = Path(data["path"])
    derive = data.get("derive")
    if derive:
        # A derive module beside the spec file is found the way load_spec finds it.
        _import_derive(derive, path)
    return DatasetSpec(
        name=data["name"],
        entity=data["entity"],
        id_column=data["id_column"],
        date_column=data["date_column"],
        landing_pattern=data["landing_pattern"],
        null_values=tuple(data["null_values"]),
        target=TargetSpec(**data["target"]),
        columns=tuple(column(c) for c in data["columns"]),
        numeric_features=tuple(data["numeric_features"]),
        categorical_features=tuple(data["categorical_features"]),
        derive=derive,
        exclude=tuple(data["exclude"]),
        segments=tuple(
            SegmentSpec(
                name=s["name"],
                column=s["column"],
                bins=tuple(s["bins"]) if s.get("bins") else None,
                labels=tuple(s["labels"]) if s.get("labels") else None,
            )
            for s in data["segments"]
        ),
        derived=tuple(column(c) for c in data["derived"]),
        path=path,
        prefix=data.get("prefix"),
        # A dict stored before these keys existed decides as such a spec did.
        split=SplitSpec(**data.get("split", {})),
        drift_day_effects=bool(data.get("drift_day_effects", False)),
        retrain_min_days=int(data.get("retrain_min_days", 0)),
    )
