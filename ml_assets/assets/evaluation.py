"""evaluation/evaluation_report: the challenger (and the champion) on the test split."""

import sys

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, asset

from ml_assets import evaluation, modelling, plots, resampling, steps
from ml_assets.assets.common import (
    OWNERS,
    WAREHOUSE_POOL,
    Wiring,
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


def build_evaluation_asset(w: Wiring) -> AssetsDefinition:
    segments = ", ".join(w.spec.segment_names) or "no segments"

    @asset(
        key=w.key("evaluation"),
        pool=WAREHOUSE_POOL,
        group_name=w.group("evaluation"),
        ins={"model": AssetIn(key=w.key("model"))},
        dagster_type=dagster_type(EvaluationReport),
        metadata=table_metadata(EvaluationReport),
        kinds={"duckdb", "pandas", "sklearn"},
        owners=OWNERS,
        code_version=code_version(EVALUATION_CODE_VERSION, w.spec.path.read_text()),
        description=(
            "AUC, PR-AUC, log loss, Brier, accuracy, precision/recall/F1 at the model's "
            "operating threshold (the F1-optimal cut on out-of-fold train predictions), "
            "expected calibration error and top-decile capture/lift, overall and per segment "
            f"({segments}), on the test split, each with a bootstrap 95 % interval. The current "
            "champion is scored on the same rows, side by side. ROC, PR, calibration and "
            "per-segment plots are shown here and logged to the model's MLflow run."
        ),
    )
    def evaluation_report(
        context: AssetExecutionContext,
        model: ModelRef,
        warehouse: WarehouseResource,
        mlflow: MlflowResource,
    ) -> pd.DataFrame:
        test = steps.read_test_split(warehouse.database, w.spec)
        result = steps.evaluate(test, model, mlflow.champion(), mlflow.tracking_uri, w.spec)
        context.add_output_metadata(
            {**dagster_metadata(result.metadata), **materialization_schema(EvaluationReport)}
        )
        return result.value

    return evaluation_report
