"""Pandera models for every stored table, and their Dagster column schemas.

One place for the shape of the data: the landing contract, each warehouse table, and
the ``dagster/column_schema`` shown in the UI are all derived from these models.
Columns are ordered (``Config.ordered``) so a frame always reaches the warehouse in the
same column order.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

PLANS = ("basic", "standard", "premium")
CONTRACTS = ("monthly", "annual", "two_year")
PAYMENT_METHODS = ("card", "bank_transfer", "paypal", "invoice")
REGIONS = ("north", "south", "east", "west")


# Each Config states strict/ordered/coerce itself: pandera reads a Config's own attributes.


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


LANDING_COLUMNS: list[str] = list(LandingSnapshot.to_schema().columns)


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


class EvaluationReport(pa.DataFrameModel):
    """``evaluation.evaluation_report``: one row per model, segment and metric."""

    model_version: Series[int] = pa.Field(ge=1)
    model_run_id: Series[str] = pa.Field()
    role: Series[str] = pa.Field(isin=["challenger", "champion"])
    segment_column: Series[str] = pa.Field()
    segment_value: Series[str] = pa.Field()
    metric: Series[str] = pa.Field()
    value: Series[float] = pa.Field(nullable=True)
    ci_low: Series[float] = pa.Field(nullable=True)
    ci_high: Series[float] = pa.Field(nullable=True)
    n_rows: Series[int] = pa.Field(ge=0)
    n_positives: Series[int] = pa.Field(ge=0)
    threshold: Series[float] = pa.Field(ge=0, le=1)

    class Config:
        strict = True
        ordered = True
        coerce = True
        name = "evaluation_report"


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


class PromotionLog(pa.DataFrameModel):
    """``registry.promotion_log``: every gate decision and rollback, with its evidence."""

    decided_at: Series[pa.DateTime] = pa.Field()
    action: Series[str] = pa.Field(isin=["gate", "rollback"])
    challenger_version: Series[int] = pa.Field(ge=1)
    champion_before: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    champion_after: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    promoted: Series[bool] = pa.Field()
    auc_challenger: Series[float] = pa.Field(nullable=True)
    auc_champion: Series[float] = pa.Field(nullable=True)
    auc_difference: Series[float] = pa.Field(nullable=True)
    auc_difference_low: Series[float] = pa.Field(nullable=True)
    auc_difference_high: Series[float] = pa.Field(nullable=True)
    p_value_noninferiority: Series[float] = pa.Field(nullable=True)
    worse_segments: Series[str] = pa.Field()
    smoke_test: Series[str] = pa.Field()
    reasons: Series[str] = pa.Field()
    dagster_run_id: Series[str] = pa.Field(nullable=True)

    class Config:
        strict = True
        ordered = True
        coerce = True
        name = "promotion_log"


class Quarantine(pa.DataFrameModel):
    """``raw.quarantine``: one audit row per refused landing file (the file itself is kept)."""

    refused_at: Series[pa.DateTime] = pa.Field()
    partition_date: Series[pa.DateTime] = pa.Field()
    source_file: Series[str] = pa.Field()
    sha256: Series[str] = pa.Field(str_matches=r"^([0-9a-f]{64})?$")
    size_bytes: Series[int] = pa.Field(ge=-1)  # -1: the file could not be read
    reason: Series[str] = pa.Field(str_length={"min_value": 1})
    run_id: Series[str] = pa.Field()

    class Config:
        strict = True
        ordered = True
        coerce = True
        name = "quarantine"


class RetrainLog(pa.DataFrameModel):
    """``monitoring.retrain_log``: a drift event, its evidence, the retrain and the verdict."""

    decided_at: Series[pa.DateTime] = pa.Field()
    drift_partition: Series[str] = pa.Field()
    drifted_features: Series[str] = pa.Field()
    severity: Series[int] = pa.Field(ge=0)
    drift_event_storage_id: Series[int] = pa.Field(ge=0)
    dagster_run_id: Series[str] = pa.Field()
    model_version: Series[int] = pa.Field(ge=1)
    promoted: Series[bool] = pa.Field()
    champion_after: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    reasons: Series[str] = pa.Field()

    class Config:
        strict = True
        ordered = True
        coerce = True
        name = "retrain_log"


class ReferenceProfileRow(pa.DataFrameModel):
    """``monitoring.reference_profiles``: the drift reference saved with each model version."""

    model_version: Series[int] = pa.Field(ge=1)
    mlflow_run_id: Series[str] = pa.Field(str_length={"min_value": 1})
    created_at: Series[pa.DateTime] = pa.Field()
    n_rows: Series[int] = pa.Field(ge=0)
    profile: Series[str] = pa.Field(str_startswith="{")

    class Config:
        strict = True
        ordered = True
        coerce = True
        name = "reference_profiles"


class ModelLineage(pa.DataFrameModel):
    """``lineage.model_lineage``: where one model version came from, one row per version.

    Written by the promotion gate; joined to every prediction in the view
    ``lineage.prediction_lineage`` (see :mod:`ml_assets.lineage`).
    """

    model_version: Series[int] = pa.Field(ge=1)
    mlflow_run_id: Series[str] = pa.Field(str_length={"min_value": 1})
    mlflow_experiment_id: Series[str] = pa.Field()
    model_uri: Series[str] = pa.Field()
    trained_at: Series[pa.DateTime] = pa.Field(nullable=True)
    training_dagster_run_id: Series[str] = pa.Field(nullable=True)
    training_set_version: Series[str] = pa.Field(nullable=True)
    window_start: Series[pa.DateTime] = pa.Field(nullable=True)
    window_end: Series[pa.DateTime] = pa.Field(nullable=True)
    training_days: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    training_day_list: Series[str] = pa.Field(nullable=True)
    train_rows: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    code_version: Series[str] = pa.Field(nullable=True)
    evaluation_dagster_run_id: Series[str] = pa.Field(nullable=True)
    test_rows: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True)
    test_auc: Series[float] = pa.Field(nullable=True)
    test_brier: Series[float] = pa.Field(nullable=True)
    evaluation_metrics: Series[str] = pa.Field()
    evaluation_artifacts: Series[str] = pa.Field()
    gate_decision: Series[str] = pa.Field(isin=["promoted", "refused"])
    gate_reasons: Series[str] = pa.Field()
    gate_dagster_run_id: Series[str] = pa.Field(nullable=True)
    decided_at: Series[pa.DateTime] = pa.Field()
    trigger: Series[str] = pa.Field()
    drift_partition: Series[str] = pa.Field(nullable=True)
    drifted_features: Series[str] = pa.Field(nullable=True)
    drift_event_storage_id: Series[pd.Int64Dtype] = pa.Field(nullable=True)

    class Config:
        strict = True
        ordered = True
        coerce = True
        name = "model_lineage"
        unique = ["model_version"]
