"""The one feature function, shared by training, batch scoring and the served model.

:func:`build_features` turns typed landing rows into the dataset's feature table: the
landing columns the spec lists as features, plus what the spec's derive function adds
(named by import path), bools as 0/1, the target as the event (0/1, missing: not known yet),
in the spec's ``feature_table_columns`` order. Row-wise and stateless: a row's features
depend only on that row, so the same function runs on a whole day in the warehouse or on
a single request, with identical results. :func:`model_inputs` is what the served model
runs first: it checks request rows against the spec's landing rules, then derives.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import pandas as pd

from ml_assets.dataset import DatasetSpec, active_spec
from ml_assets.dataset.spec import spec_from_dict

# Attributes a derive module may define beside its derive function: ``restore_landing``
# (features -> the landing columns the feature table does not carry, for model examples).
RESTORE_LANDING = "restore_landing"


class FeatureError(ValueError):
    """The derive function failed or returned the wrong columns; the message says where."""


class ServingInputError(ValueError):
    """Request rows that break the spec's landing rules; one clause per row, column and rule."""


def _spec(spec: DatasetSpec | dict | None) -> DatasetSpec:
    if spec is None:
        return active_spec()
    if isinstance(spec, dict):
        return _spec_from_json(json.dumps(spec, sort_keys=True))
    return spec


@functools.lru_cache(maxsize=8)
def _spec_from_json(text: str) -> DatasetSpec:
    return spec_from_dict(json.loads(text))


def derived_columns(rows: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """What the spec's derive function adds to typed landing rows (empty without one)."""
    derive = spec.derive_function()
    if derive is None:
        return pd.DataFrame(index=rows.index)
    try:
        out = derive(rows)
    except Exception as exc:
        raise FeatureError(
            f"{spec.path}: features.derive: {spec.derive} raised {type(exc).__name__}: {exc} "
            f"on {len(rows)} rows; fix the function (it gets the typed landing columns "
            f"{', '.join(spec.landing_columns)}). Nothing was written."
        ) from exc
    if not isinstance(out, pd.DataFrame) or not out.index.equals(rows.index):
        raise FeatureError(
            f"{spec.path}: features.derive: {spec.derive} must return a DataFrame on the "
            "index of its input, one row per input row."
        )
    missing = [c for c in spec.derived_columns if c not in out.columns]
    if missing:
        raise FeatureError(
            f"{spec.path}: features.derive: {spec.derive} did not return the derived "
            f"column(s) {', '.join(missing)} the spec declares under derived; return them or "
            "remove them from the spec."
        )
    return out


def _typed(values: pd.Series, spec: DatasetSpec, name: str) -> pd.Series:
    col = spec.column(name)
    if name == spec.id_column or col.type in ("string", "category"):
        if not col.nullable:
            return values.astype(str)
        # Missing as None, as DuckDB returns it: sklearn's encoders take None or NaN as a
        # category of its own but fail on pandas' NA.
        return values.astype(object).where(values.notna(), None)
    if col.type == "date":
        return pd.to_datetime(values)
    if col.type == "bool":
        if col.nullable:
            return values.astype("boolean").astype("Int64")
        return values.astype(bool).astype("int64")
    if col.type == "int":
        return values.astype("Int64") if col.nullable else values.astype("int64")
    return values.astype("float64")


def build_features(rows: pd.DataFrame, spec: DatasetSpec | dict | None = None) -> pd.DataFrame:
    """The feature table of typed landing rows (the target may be absent, as in a request).

    Returns the columns of ``spec.feature_table_columns`` in order, on the rows' index.
    """
    spec = _spec(spec)
    derived = derived_columns(rows, spec)
    target = spec.target.column
    columns: dict[str, pd.Series] = {}
    for name in spec.feature_table_columns:
        if name == target:
            columns[name] = (
                rows[name].astype("Int64")
                if name in rows
                else pd.Series(pd.NA, index=rows.index, dtype="Int64")
            )
            continue
        source = derived[name] if name in derived.columns else rows[name]
        columns[name] = _typed(source, spec, name)
    return pd.DataFrame(columns, index=rows.index)


def model_inputs(rows: pd.DataFrame, spec: DatasetSpec | dict | None = None) -> pd.DataFrame:
    """The columns the estimator sees, from request rows (the served model's first step).

    Rows are checked against the spec's landing rules first; a row that breaks one raises
    :class:`ServingInputError` naming the row, the column and the rule (the scoring server
    answers HTTP 400 with that message).
    """
    spec = _spec(spec)
    checked = validate_serving_rows(rows, spec)
    return build_features(checked, spec)[spec.model_features]


def validate_serving_rows(rows: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """Request rows typed and checked by the spec's landing rules (without the target)."""
    import pandera.pandas as pa

    from ml_assets.dataset.schemas import serving_model

    missing = [c for c in spec.serving_columns if c not in rows.columns]
    if missing:
        _refuse(f"missing column(s) {', '.join(missing)}; send the columns {spec.serving_columns}")
    frame = rows[spec.serving_columns].reset_index(drop=True)
    try:
        checked = serving_model(spec).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        _refuse(_describe_cases(exc.failure_cases))
    checked.index = rows.index
    return checked


def _describe_cases(cases: pd.DataFrame, limit: int = 10) -> str:
    clauses = []
    for case in cases.head(limit).itertuples(index=False):
        row = "the request" if pd.isna(case.index) else f"row {int(case.index)}"
        column = "" if pd.isna(case.column) else f", column {case.column}"
        clauses.append(f"{row}{column}: value {case.failure_case!r} breaks rule '{case.check}'")
    more = f" (and {len(cases) - limit} more)" if len(cases) > limit else ""
    return "; ".join(clauses) + more


@functools.cache
def _refusal_type() -> type[Exception]:
    """ServingInputError that is also an MlflowException with a 400 code, so that the
    scoring server answers HTTP 400 with the message (MLflow is imported only here)."""
    from mlflow.exceptions import MlflowException

    return type("ServingRowsRefused", (MlflowException, ServingInputError), {})


def _refuse(text: str) -> None:
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    message = (
        f"Rows refused by the dataset spec's landing rules (rows counted from 0): {text}. "
        "Fix those rows and send them again; no row of this request was scored."
    )
    raise _refusal_type()(message, error_code=INVALID_PARAMETER_VALUE)


def features_to_landing_rows(
    features: pd.DataFrame, spec: DatasetSpec | dict | None = None
) -> pd.DataFrame:
    """Landing rows that :func:`build_features` maps back to ``features`` (model examples).

    Landing columns the feature table carries are copied (0/1 back to bool); the others come
    from the derive module's optional ``restore_landing(features)``.
    """
    spec = _spec(spec)
    restored = pd.DataFrame(index=features.index)
    missing = [c for c in spec.landing_columns if c not in features.columns]
    if missing and spec.derive:
        import importlib

        module = importlib.import_module(spec.derive.split(":")[0])
        restore = getattr(module, RESTORE_LANDING, None)
        if restore is not None:
            restored = restore(features)
    rows: dict[str, Any] = {}
    for name in spec.landing_columns:
        col = spec.column(name)
        if name in restored.columns:
            values = restored[name]
        elif name in features.columns:
            values = features[name]
        elif col.nullable or name == spec.target.column:
            values = pd.Series(np.nan, index=features.index)
        else:
            raise FeatureError(
                f"{spec.path}: landing column {name} cannot be rebuilt from the feature table; "
                f"define {RESTORE_LANDING}(features) beside {spec.derive or 'a derive function'}."
            )
        if name == spec.target.column:
            values = values.astype("Int64")
        elif col.type == "bool":
            values = values.astype("boolean") if col.nullable else values.astype(bool)
        elif col.type == "date":
            values = pd.to_datetime(values)
        elif name == spec.id_column:
            values = values.astype(str)
        rows[name] = values
    return pd.DataFrame(rows, index=features.index)[spec.landing_columns]


# Names for the active spec, kept for the modules and tests that import them.
_ACTIVE = active_spec()
ID_COLUMNS = [_ACTIVE.id_column, _ACTIVE.date_column]
LABEL = _ACTIVE.target.column
CATEGORICAL_FEATURES = list(_ACTIVE.categorical_features)
NUMERIC_FEATURES = list(_ACTIVE.numeric_features)
MODEL_FEATURES = _ACTIVE.model_features
FEATURE_COLUMNS = _ACTIVE.feature_table_columns
SERVING_COLUMNS = _ACTIVE.serving_columns
build_customer_features = build_features
