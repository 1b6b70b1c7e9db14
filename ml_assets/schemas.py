"""Pandera models for every stored table, and their Dagster column schemas.

One place for the shape of the data: the landing schema, each warehouse table, and
the ``dagster/column_schema`` shown in the UI are all derived from these models (the
dataset's own tables from its spec, see :mod:`ml_assets.dataset.schemas`).
Columns are ordered (``Config.ordered``) so a frame always reaches the warehouse in the
same column order.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from ml_assets.dataset.schemas import (
    drift_model,
    features_model,
    landing_model,
    predictions_model,
    raw_model,
    training_model,
)
from ml_assets.dataset.spec import active_spec

# The dataset's own tables (landing, raw, features, training set, predictions) are built
# from the active dataset spec (ml_assets.dataset.schemas); these names keep the modules that
# import them working. The tables below them are the same for every dataset.
_SPEC = active_spec()
LandingSnapshot = landing_model(_SPEC)
LANDING_COLUMNS: list[str] = list(LandingSnapshot.to_schema().columns)
CustomerSnapshot = raw_model(_SPEC)
CustomerFeatures = features_model(_SPEC)
TrainingSet = training_model(_SPEC)
ChurnPredictions = predictions_model(_SPEC)
DriftReport = drift_model(_SPEC)


# Each Config states strict/ordered/coerce itself: pandera reads a Config's own attributes.


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
