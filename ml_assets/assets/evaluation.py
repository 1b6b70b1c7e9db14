"""evaluation/evaluation_report: the challenger (and the champion) on the test split."""

import sys

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, asset

from ml_assets import evaluation, modelling, plots, resampling, steps
from ml_assets.assets.common import (
    OWNERS,
    WAREHOUSE_POOL,
    code_version,
    dagster_metadata,
    dagster_type,
    materialization_schema,
    table_metadata,
)
from ml_assets.registry import ModelRef
from ml_assets.resources import MlflowResource, WarehouseResource
from ml_assets.schemas import EvaluationReport

EVALUATION_CODE_VERSION = code_version(
    sys.modules[__name__],
    steps.evaluate,
    evaluation,
    modelling.predict_from_features,
    plots,
    resampling,
)


@asset(
    key=["evaluation", "evaluation_report"],
    pool=WAREHOUSE_POOL,
    group_name="evaluation",
    ins={"churn_model": AssetIn(key=["training", "churn_model"])},
    dagster_type=dagster_type(EvaluationReport),
    metadata=table_metadata(EvaluationReport),
    kinds={"duckdb", "pandas", "sklearn"},
    owners=OWNERS,
    code_version=EVALUATION_CODE_VERSION,
    description=(
        "AUC, PR-AUC, log loss, Brier, precision/recall/F1 at the model's operating threshold "
        "(the F1-optimal cut on out-of-fold train predictions), expected calibration error and "
        "top-decile capture/lift, overall and per plan, contract, region and tenure band, on "
        "the test split, each with a bootstrap 95 % interval. The current champion is scored "
        "on the same rows, side by side. ROC, PR, calibration and per-segment plots are shown "
        "here and logged to the model's MLflow run."
    ),
)
def evaluation_report(
    context: AssetExecutionContext,
    churn_model: ModelRef,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
) -> pd.DataFrame:
    test = steps.read_test_split(warehouse.database)
    result = steps.evaluate(test, churn_model, mlflow.champion(), mlflow.tracking_uri)
    context.add_output_metadata(
        {**dagster_metadata(result.metadata), **materialization_schema(EvaluationReport)}
    )
    return result.value
