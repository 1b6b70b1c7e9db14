"""Pandera models of a dataset's tables, built from its spec.

``landing_model`` (one landing file), ``raw_model`` (plus ``source_file``),
``features_model`` (id, date, model features, target), ``training_model`` (plus ``split``,
target known) and ``predictions_model``. All are ordered, strict and coercing, and unique on
(id column, date column). Types and rules come from the spec's columns: int, float and date
columns keep their bounds, category columns their allowed values, nullable columns may be
null; a bool is a bool in the landing tables and 0/1 in the feature tables; the target is
the event as 0/1 (missing: not known yet). Built once per spec (cached).
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from ml_assets.dataset.spec import ColumnSpec, DatasetSpec

SPLIT_VALUES = ["train", "test"]


def _annotation(col: ColumnSpec, in_features: bool) -> Any:
    if col.type == "date":
        return Series[pa.DateTime]
    if col.type in ("string", "category"):
        return Series[str]
    if col.type == "float":
        return Series[float]
    if col.type == "bool":
        if in_features:
            return Series[pd.Int64Dtype] if col.nullable else Series[int]
        return Series[pd.BooleanDtype] if col.nullable else Series[bool]
    # int: nullable ints keep pandas' nullable integer type.
    return Series[pd.Int64Dtype] if col.nullable else Series[int]


def _field(col: ColumnSpec, in_features: bool) -> Any:
    kwargs: dict[str, Any] = {}
    if col.nullable:
        kwargs["nullable"] = True
    if col.min is not None:
        kwargs["ge"] = col.min
    if col.max is not None:
        kwargs["le"] = col.max
    if col.values is not None:
        # A one-value tuple would reach pandera's isin as its single string argument (so
        # "EU" allowed only "E" and "U"); one value goes as a list.
        text = col.type in ("string", "category") and len(col.values) > 1
        kwargs["isin"] = tuple(col.values) if text else list(col.values)
    if col.type == "bool" and in_features:
        kwargs["isin"] = [0, 1]
    return pa.Field(**kwargs)


def _not_after_check(column: str, other: str):
    def check(cls, df: pd.DataFrame) -> Series[bool]:
        return df[column] <= df[other]

    check.__name__ = f"{column}_not_after_{other}"
    return pa.dataframe_check(error=f"{column} must not be after {other}")(classmethod(check))


def _model(
    class_name: str,
    table_name: str,
    fields: list[tuple[str, Any, Any]],
    unique: list[str],
    checks: dict[str, Any] | None = None,
    doc: str = "",
) -> type[pa.DataFrameModel]:
    config = type(
        "Config",
        (),
        {
            "strict": True,
            "ordered": True,
            "coerce": True,
            "name": table_name,
            "unique": unique or None,
        },
    )
    namespace: dict[str, Any] = {
        "__annotations__": {name: annotation for name, annotation, _ in fields},
        "__module__": __name__,
        "__doc__": doc,
        "Config": config,
        **{name: field for name, _, field in fields},
        **(checks or {}),
    }
    return type(class_name, (pa.DataFrameModel,), namespace)


def _target_field(spec: DatasetSpec, known: bool) -> tuple[str, Any, Any]:
    if known:
        return (spec.target.column, Series[pd.Int64Dtype], pa.Field(isin=[0, 1], nullable=False))
    return (spec.target.column, Series[pd.Int64Dtype], pa.Field(isin=[0, 1], nullable=True))


def _landing_fields(spec: DatasetSpec) -> list[tuple[str, Any, Any]]:
    fields = []
    for col in spec.columns:
        if col.name == spec.target.column:
            fields.append(_target_field(spec, known=False))
        elif col.name == spec.id_column:
            fields.append(
                (col.name, Series[str], pa.Field(nullable=False, str_length={"min_value": 1}))
            )
        elif col.name == spec.date_column:
            fields.append((col.name, Series[pa.DateTime], pa.Field(nullable=False)))
        else:
            fields.append((col.name, _annotation(col, False), _field(col, False)))
    return fields


def _landing_checks(spec: DatasetSpec) -> dict[str, Any]:
    checks = {}
    for col in spec.columns:
        if col.not_after:
            checks[f"{col.name}_not_after_{col.not_after}"] = _not_after_check(
                col.name, col.not_after
            )
    return checks


def _class_name(text: str) -> str:
    return "".join(part.capitalize() for part in text.split("_"))


@functools.cache
def landing_model(spec: DatasetSpec) -> type[pa.DataFrameModel]:
    """One landing file, typed: the spec's columns in file order."""
    return _model(
        f"{_class_name(spec.name)}Landing",
        "landing_snapshot",
        _landing_fields(spec),
        [spec.id_column, spec.date_column],
        _landing_checks(spec),
        doc=f"One landing file of the {spec.name} dataset.",
    )


@functools.cache
def raw_model(spec: DatasetSpec) -> type[pa.DataFrameModel]:
    """The raw table: validated landing rows plus the file they came from."""
    table = spec.names.raw[-1]
    return _model(
        _class_name(table),
        table,
        [*_landing_fields(spec), ("source_file", Series[str], pa.Field(nullable=False))],
        [spec.id_column, spec.date_column],
        _landing_checks(spec),
        doc=f"``{spec.names.raw_table}``: validated landing rows plus their source file.",
    )


def _feature_fields(spec: DatasetSpec, target_known: bool) -> list[tuple[str, Any, Any]]:
    fields: list[tuple[str, Any, Any]] = [
        (spec.id_column, Series[str], pa.Field(nullable=False)),
        (spec.date_column, Series[pa.DateTime], pa.Field(nullable=False)),
    ]
    for name in spec.model_features:
        col = spec.column(name)
        fields.append((name, _annotation(col, True), _field(col, True)))
    fields.append(_target_field(spec, known=target_known))
    return fields


@functools.cache
def features_model(spec: DatasetSpec) -> type[pa.DataFrameModel]:
    """The feature table: id, date, model features (categorical, then numeric), target."""
    table = spec.names.features[-1]
    return _model(
        _class_name(table),
        table,
        _feature_fields(spec, target_known=False),
        [spec.id_column, spec.date_column],
        doc=f"``{spec.names.features_table}``: model inputs, one row per id per day.",
    )


@functools.cache
def training_model(spec: DatasetSpec) -> type[pa.DataFrameModel]:
    """The training set: labelled feature rows and their train/test split."""
    return _model(
        "TrainingSet",
        "training_set",
        [
            *_feature_fields(spec, target_known=True),
            ("split", Series[str], pa.Field(isin=SPLIT_VALUES)),
        ],
        [spec.id_column, spec.date_column],
        doc=f"``{spec.names.training_table}``: labelled feature rows and their split.",
    )


@functools.cache
def predictions_model(spec: DatasetSpec) -> type[pa.DataFrameModel]:
    """The predictions table: the champion's probability of the event per id per day."""
    names = spec.names
    table = names.predictions[-1]
    return _model(
        _class_name(table),
        table,
        [
            (spec.id_column, Series[str], pa.Field(nullable=False)),
            (spec.date_column, Series[pa.DateTime], pa.Field(nullable=False)),
            (names.probability_column, Series[float], pa.Field(ge=0, le=1)),
            (names.prediction_column, Series[int], pa.Field(isin=[0, 1])),
            ("threshold", Series[float], pa.Field(ge=0, le=1)),
            ("model_version", Series[int], pa.Field(ge=1)),
        ],
        [spec.id_column, spec.date_column],
        doc=f"``{names.predictions_table}``: the champion's probability per id per day.",
    )


@functools.cache
def drift_model(spec: DatasetSpec) -> type[pa.DataFrameModel]:
    """The drift report: per-feature drift of one day against the champion's profile, keyed by
    the dataset's date column."""
    date = spec.date_column
    return _model(
        "DriftReport",
        "drift_report",
        [
            (date, Series[pa.DateTime], pa.Field(nullable=False)),
            ("feature", Series[str], pa.Field()),
            ("kind", Series[str], pa.Field(isin=["numeric", "categorical"])),
            ("reference_model_version", Series[int], pa.Field(ge=1)),
            ("n_reference", Series[int], pa.Field(ge=0)),
            ("n_current", Series[int], pa.Field(ge=0)),
            ("psi", Series[float], pa.Field(ge=0)),
            ("effect_size", Series[float], pa.Field(ge=0, nullable=True)),
            ("test", Series[str], pa.Field(nullable=True)),
            ("statistic", Series[float], pa.Field(nullable=True)),
            ("p_value", Series[float], pa.Field(ge=0, le=1, nullable=True)),
            ("p_value_adjusted", Series[float], pa.Field(ge=0, le=1, nullable=True)),
            ("null_rate_reference", Series[float], pa.Field(ge=0, le=1)),
            ("null_rate_current", Series[float], pa.Field(ge=0, le=1)),
            ("unseen_share", Series[float], pa.Field(ge=0, le=1)),
            ("drifted", Series[bool], pa.Field()),
            ("reason", Series[str], pa.Field()),
        ],
        [date, "feature"],
        doc=f"``{spec.names.drift_table}``: per-feature drift of one day.",
    )


@functools.cache
def serving_model(spec: DatasetSpec) -> type[pa.DataFrameModel]:
    """Rows sent to the served model: the landing columns and rules without the target, and
    without uniqueness (a request may score the same id twice)."""
    fields = [f for f in _landing_fields(spec) if f[0] != spec.target.column]
    return _model(
        f"{_class_name(spec.name)}ServingRows",
        "serving_rows",
        fields,
        [],
        _landing_checks(spec),
        doc=f"Rows the served {spec.names.model_name} scores.",
    )
