"""scoring/churn_predictions: the champion's probability per customer per day."""

from collections.abc import Iterator

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    Output,
    asset,
)

from ml_assets import lineage, registry
from ml_assets.assets.common import (
    CODE_VERSION,
    DAILY_BACKFILL_POLICY,
    OWNERS,
    WAREHOUSE_POOL,
    dagster_type,
    daily_partitions,
    materialization_schema,
    table_metadata,
)
from ml_assets.performance import PerformanceRules, performance_drift
from ml_assets.registry import ModelRef
from ml_assets.resources import MlflowResource
from ml_assets.schemas import ChurnPredictions
from ml_assets.scoring import score_features


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
    code_version=CODE_VERSION,
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
    pipeline = registry.load_pipeline(mlflow.tracking_uri, champion_model)
    predictions = ChurnPredictions.validate(
        score_features(pipeline, customer_features, champion_model)
    )
    # Where a day already carries labels, the champion's realised AUC is checked against the
    # AUC it had on its test split: this is how concept drift shows up. Day by day, and on
    # each day's own materialization, so a range run never blends a drifted day with calm ones.
    baseline = registry.run_metric(mlflow.tracking_uri, champion_model.run_id, "test_auc")
    labels = customer_features["churned"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    probabilities = predictions["churn_probability"].to_numpy()
    days = pd.to_datetime(customer_features["snapshot_date"]).dt.date.to_numpy()
    for day in sorted(set(days)):
        rows = days == day
        performance = performance_drift(
            labels[rows], probabilities[rows], baseline, PerformanceRules()
        )
        context.add_asset_metadata(
            {
                "performance_drift": bool(performance["drifted"]),
                "performance_reason": performance["reason"],
                **{
                    k: float(performance[k])
                    for k in ("realised_auc", "baseline_auc", "auc_ci_low", "auc_ci_high")
                    if performance[k] == performance[k]
                },
                "labelled_rows": performance["labelled_rows"],
            },
            partition_key=day.isoformat(),
        )
    yield Output(
        predictions,
        metadata={
            "model_version": champion_model.version,
            "mlflow_run_id": champion_model.run_id,
            "mlflow_run": MetadataValue.url(
                lineage.mlflow_run_link(mlflow.tracking_uri, champion_model.run_id)
            ),
            "mean_probability": float(predictions["churn_probability"].mean()),
            "predicted_churn_rate": float(predictions["predicted_churn"].mean()),
            **materialization_schema(ChurnPredictions),
        },
    )
