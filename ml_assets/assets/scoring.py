"""scoring/<name>_predictions: the champion's probability per id per day."""

import sys
from collections.abc import Iterator

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, Output, asset

from ml_assets import performance, scoring, settings, steps
from ml_assets.assets.common import (
    DAILY_BACKFILL_POLICY,
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
from ml_assets.resources import MlflowResource

SCORING_CODE_VERSION = code_version(sys.modules[__name__], steps.score_days, scoring, performance)


def build_predictions_asset(w: Wiring) -> AssetsDefinition:
    model = w.models.predictions

    @asset(
        key=w.key("predictions"),
        group_name=w.group("predictions"),
        ins={
            "features": AssetIn(key=w.key("features")),
            "champion_model": AssetIn(key=w.key("champion")),
        },
        partitions_def=w.partitions,
        backfill_policy=DAILY_BACKFILL_POLICY,
        pool=WAREHOUSE_POOL,
        output_required=False,
        dagster_type=dagster_type(model),
        metadata=table_metadata(model, partition_expr=w.spec.date_column),
        kinds={"duckdb", "pandas", "sklearn"},
        owners=OWNERS,
        code_version=code_version(SCORING_CODE_VERSION, w.spec.path.read_text()),
        description=(
            f"The probability of {w.spec.target.column} for every {w.spec.entity} of the day "
            "from the current champion (MLflow alias `champion`), with the model version and "
            "the operating threshold. Where the day carries labels, the realised AUC is "
            "compared with the champion's test AUC; a significant drop (metadata "
            "performance_drift) is a drift event for drift_sensor. Skipped, with a log line, "
            "while no champion exists."
        ),
    )
    def predictions(
        context: AssetExecutionContext,
        features: pd.DataFrame,
        champion_model: ModelRef | None,
        mlflow: MlflowResource,
    ) -> Iterator[Output[pd.DataFrame]]:
        if champion_model is None:
            context.log.warning(
                "No champion model yet: predictions skipped. Run retrain_job to train and "
                "promote the first model, then materialize this partition again."
            )
            return
        result = steps.score_days(
            features,
            champion_model,
            mlflow.tracking_uri,
            settings.performance_rules(),
            spec=w.spec,
        )
        # Where a day already carries labels, the champion's realised AUC is checked against
        # its test AUC (concept drift), on each day's own materialization.
        for day, metadata in result.per_day.items():
            context.add_asset_metadata(dagster_metadata(metadata), partition_key=day)
        yield Output(
            result.value,
            metadata={**dagster_metadata(result.metadata), **materialization_schema(model)},
        )

    return predictions
