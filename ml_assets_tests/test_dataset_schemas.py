"""The pandera models built from the churn spec equal the hand-written models they replace,
column for column: names, order, dtypes, nullability, checks and uniqueness.

The reference classes below are the models as they were written before the dataset spec
(copied on purpose: they are the definition the generated models must keep)."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from ml_assets import schemas
from ml_assets.dataset import load_spec
from ml_assets.dataset.schemas import (
    drift_model,
    features_model,
    landing_model,
    predictions_model,
    raw_model,
    training_model,
)
from ml_assets.settings import PROJECT_ROOT

CHURN = load_spec(PROJECT_ROOT / "ml_assets_examples" / "churn" / "spec.yaml")

PLANS = ("basic", "standard", "premium")
CONTRACTS = ("monthly", "annual", "two_year")
PAYMENT_METHODS = ("card", "bank_transfer", "paypal", "invoice")
REGIONS = ("north", "south", "east", "west")


class LandingSnapshot(pa.DataFrameModel):
    """One landing file: a day's snapshot of the customer base (the public landing schema)."""

    customer_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    snapshot_date: Series[pa.DateTime] = pa.Field(nullable=False)
    signup_date: Series[pa.DateTime] = pa.Field(nullable=False)
    plan: Series[str] = pa.Field(isin=PLANS)
    contract: Series[str] = pa.Field(isin=CONTRACTS)
    payment_method: Series[str] = pa.Field(isin=PAYMENT_METHODS)
    region: Series[str] = pa.Field(isin=REGIONS)
    monthly_charges: Series[float] = pa.Field(ge=0)
    total_charges: Series[float] = pa.Field(ge=0, nullable=True)
    support_calls_30d: Series[int] = pa.Field(ge=0)
    logins_30d: Series[int] = pa.Field(ge=0)
    avg_session_minutes: Series[float] = pa.Field(ge=0, nullable=True)
    days_since_last_login: Series[int] = pa.Field(ge=0)
    auto_renew: Series[bool] = pa.Field()
    churned: Series[pd.Int64Dtype] = pa.Field(isin=[0, 1], nullable=True)

    class Config:
        strict = True
        ordered = True
        coerce = True
        name = "landing_snapshot"
        unique = ["customer_id", "snapshot_date"]

    @pa.dataframe_check(error="signup_date must not be after snapshot_date")
    @classmethod
    def signup_not_after_snapshot(cls, df: pd.DataFrame) -> Series[bool]:
        return df["signup_date"] <= df["snapshot_date"]


class CustomerSnapshot(LandingSnapshot):
    """``raw.customer_snapshots``: validated landing rows plus the file they came from."""

    source_file: Series[str] = pa.Field(nullable=False)

    class Config:
        strict = True
        ordered = True
        coerce = True
        name = "customer_snapshots"
        unique = ["customer_id", "snapshot_date"]


class CustomerFeatures(pa.DataFrameModel):
    """``features.customer_features``: model inputs, one row per customer per day."""

    customer_id: Series[str] = pa.Field(nullable=False)
    snapshot_date: Series[pa.DateTime] = pa.Field(nullable=False)
    plan: Series[str] = pa.Field(isin=PLANS)
    contract: Series[str] = pa.Field(isin=CONTRACTS)
    payment_method: Series[str] = pa.Field(isin=PAYMENT_METHODS)
    region: Series[str] = pa.Field(isin=REGIONS)
    tenure_days: Series[int] = pa.Field(ge=0)
    monthly_charges: Series[float] = pa.Field(ge=0)
    total_charges: Series[float] = pa.Field(ge=0, nullable=True)
    charges_per_tenure_month: Series[float] = pa.Field(ge=0, nullable=True)
    support_calls_30d: Series[int] = pa.Field(ge=0)
    logins_30d: Series[int] = pa.Field(ge=0)
    avg_session_minutes: Series[float] = pa.Field(ge=0, nullable=True)
    engagement_minutes_30d: Series[float] = pa.Field(ge=0, nullable=True)
    days_since_last_login: Series[int] = pa.Field(ge=0)
    auto_renew: Series[int] = pa.Field(isin=[0, 1])
    is_new_customer: Series[int] = pa.Field(isin=[0, 1])
    churned: Series[pd.Int64Dtype] = pa.Field(isin=[0, 1], nullable=True)

    class Config:
        strict = True
        ordered = True
        coerce = True
        name = "customer_features"
        unique = ["customer_id", "snapshot_date"]


class TrainingSet(CustomerFeatures):
    """``training.training_set``: labelled feature rows and their train/test split."""

    churned: Series[pd.Int64Dtype] = pa.Field(isin=[0, 1], nullable=False)
    split: Series[str] = pa.Field(isin=["train", "test"])

    class Config:
        strict = True
        ordered = True
        coerce = True
        name = "training_set"
        unique = ["customer_id", "snapshot_date"]


class ChurnPredictions(pa.DataFrameModel):
    """``scoring.churn_predictions``: the champion's churn probability per customer per day."""

    customer_id: Series[str] = pa.Field(nullable=False)
    snapshot_date: Series[pa.DateTime] = pa.Field(nullable=False)
    churn_probability: Series[float] = pa.Field(ge=0, le=1)
    predicted_churn: Series[int] = pa.Field(isin=[0, 1])
    threshold: Series[float] = pa.Field(ge=0, le=1)
    model_version: Series[int] = pa.Field(ge=1)

    class Config:
        strict = True
        ordered = True
        coerce = True
        name = "churn_predictions"
        unique = ["customer_id", "snapshot_date"]


class DriftReport(pa.DataFrameModel):
    """``monitoring.drift_report``: per-feature drift of one day against the champion's profile."""

    snapshot_date: Series[pa.DateTime] = pa.Field(nullable=False)
    feature: Series[str] = pa.Field()
    kind: Series[str] = pa.Field(isin=["numeric", "categorical"])
    reference_model_version: Series[int] = pa.Field(ge=1)
    n_reference: Series[int] = pa.Field(ge=0)
    n_current: Series[int] = pa.Field(ge=0)
    psi: Series[float] = pa.Field(ge=0)
    effect_size: Series[float] = pa.Field(ge=0, nullable=True)
    test: Series[str] = pa.Field(nullable=True)
    statistic: Series[float] = pa.Field(nullable=True)
    p_value: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    p_value_adjusted: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    null_rate_reference: Series[float] = pa.Field(ge=0, le=1)
    null_rate_current: Series[float] = pa.Field(ge=0, le=1)
    unseen_share: Series[float] = pa.Field(ge=0, le=1)
    drifted: Series[bool] = pa.Field()
    reason: Series[str] = pa.Field()

    class Config:
        strict = True
        ordered = True
        coerce = True
        name = "drift_report"
        unique = ["snapshot_date", "feature"]


def _column_facts(column) -> tuple:
    checks = sorted((c.name, repr(c.statistics), c.error) for c in column.checks)
    return (str(column.dtype), column.nullable, column.unique, column.coerce, checks)


def _frame_facts(schema) -> tuple:
    return (
        schema.name,
        schema.strict,
        schema.ordered,
        schema.coerce,
        list(schema.unique or []),
        # Dataframe-wide checks: the rule a user reads is the error text.
        sorted(c.error for c in schema.checks),
    )


@pytest.mark.parametrize(
    "build,reference",
    [
        (landing_model, LandingSnapshot),
        (raw_model, CustomerSnapshot),
        (features_model, CustomerFeatures),
        (training_model, TrainingSet),
        (predictions_model, ChurnPredictions),
        (drift_model, DriftReport),
    ],
    ids=["landing", "raw", "features", "training", "predictions", "drift"],
)
def test_generated_model_equals_the_hand_written_one(build, reference):
    got, want = build(CHURN).to_schema(), reference.to_schema()
    assert list(got.columns) == list(want.columns)
    for name in want.columns:
        assert _column_facts(got.columns[name]) == _column_facts(want.columns[name]), name
    assert _frame_facts(got) == _frame_facts(want)


def test_module_level_names_are_the_active_specs_models():
    assert CHURN.landing_columns == schemas.LANDING_COLUMNS
    assert list(schemas.CustomerFeatures.to_schema().columns) == CHURN.feature_table_columns
    assert schemas.ChurnPredictions is predictions_model(schemas._SPEC)


def test_generated_models_validate_like_the_reference():
    rows = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "snapshot_date": pd.to_datetime(["2025-02-01", "2025-02-01"]),
            "signup_date": pd.to_datetime(["2024-01-01", "2025-02-02"]),
            "plan": ["basic", "gold"],
            "contract": ["monthly", "annual"],
            "payment_method": ["card", "paypal"],
            "region": ["north", "west"],
            "monthly_charges": [10.0, -71.5],
            "total_charges": [None, 5.0],
            "support_calls_30d": [0, 1],
            "logins_30d": [3, 4],
            "avg_session_minutes": [1.5, None],
            "days_since_last_login": [2, 0],
            "auto_renew": [True, False],
            "churned": pd.array([None, 1], dtype="Int64"),
        }
    )

    def failures(model) -> set:
        with pytest.raises(pa.errors.SchemaErrors) as info:
            model.validate(rows, lazy=True)
        cases = info.value.failure_cases
        return {
            (str(c), str(k), str(v))
            for c, k, v in zip(cases["column"], cases["check"], cases["failure_case"], strict=True)
        }

    assert failures(landing_model(CHURN)) == failures(LandingSnapshot)
    assert ("plan", "isin(('basic', 'standard', 'premium'))", "gold") in failures(LandingSnapshot)
