"""scoring/churn_predictions: the champion's probability per customer per day."""

import sys
from collections.abc import Iterator

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, Output, asset

from ml_assets import performance, scoring, settings, steps
from ml_assets.assets.common import (
    DAILY_BACKFILL_POLICY,
    OWNERS,
    WAREHOUSE_POOL,
    code_version,
    dagster_metadata,
    dagster_type,
    daily_partitions,
    materialization_schema,
    table_metadata,
)
from ml_assets.registry import ModelRef
from ml_assets.resources import MlflowResource
from ml_assets.schemas import ChurnPredictions

SCORING_CODE_VERSION = code_version(sys.modules[__name__], steps.score_days, scoring, performance)


@asset(
    key=["scoring", "churn_predictions"],
    group_name="scoring",
    ins={
        "customer_features": AssetIn(key=["features", "customer_features"]),
        "champion_model": AssetIn(key=["registry", "champion_model"]),
    },
    partitions_def=daily_partitions,
    backfill_policy=DAILY_BACKFILL_POLICY,
    pool=WAREHOUSE_POOL,
    output_required=False,
    dagster_type=dagster_type(ChurnPredictions),
    metadata=table_metadata(ChurnPredictions, partition_expr="snapshot_date"),
    kinds={"duckdb", "pandas", "sklearn"},
    owners=OWNERS,
    code_version=SCORING_CODE_VERSION,
    description=(
        "Churn probability for every customer of the day from the current champion "
        "(MLflow alias `champion`), with the model version and the operating threshold. "
        "Where the day carries labels, the realised AUC is compared with the champion's test "
        "AUC; a significant drop (metadata performance_drift) is a drift event for "
        "drift_sensor. "
        "Skipped, with a log line, while no champion exists."
    ),
)
def churn_predictions(
    context: AssetExecutionContext,
    customer_features: pd.DataFrame,
    champion_model: ModelRef | None,
    mlflow: MlflowResource,
) -> Iterator[Output[pd.DataFrame]]:
    if champion_model is None:
        context.log.warning(
            "No champion model yet: predictions skipped. Run retrain_job to train and promote "
            "the first model, then materialize this partition again."
        )
        return
    result = steps.score_days(
        customer_features, champion_model, mlflow.tracking_uri, settings.performance_rules()
    )
    # Where a day already carries labels, the champion's realised AUC is checked against the
    # AUC it had on its test split (concept drift), on each day's own materialization.
    for day, metadata in result.per_day.items():
        context.add_asset_metadata(dagster_metadata(metadata), partition_key=day)
    yield Output(
        result.value,
        metadata={**dagster_metadata(result.metadata), **materialization_schema(ChurnPredictions)},
    )
