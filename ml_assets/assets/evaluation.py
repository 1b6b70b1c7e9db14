"""evaluation/evaluation_report: the challenger (and the champion) on the test split."""

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MetadataValue, asset

from ml_assets import registry
from ml_assets.assets.common import CODE_VERSION, OWNERS, dagster_type, table_metadata
from ml_assets.evaluation import headline, metrics_table
from ml_assets.modelling import predict_from_features
from ml_assets.registry import ModelRef
from ml_assets.resources import MlflowResource, WarehouseResource
from ml_assets.schemas import EvaluationReport


@asset(
    key=["evaluation", "evaluation_report"],
    group_name="evaluation",
    ins={"churn_model": AssetIn(key=["training", "churn_model"])},
    dagster_type=dagster_type(EvaluationReport),
    metadata=table_metadata(EvaluationReport),
    kinds={"duckdb", "pandas", "sklearn"},
    owners=OWNERS,
    code_version=CODE_VERSION,
    description=(
        "AUC, PR-AUC, log loss, Brier score and precision/recall/F1 at the model's operating "
        "threshold (the F1-optimal cut on out-of-fold train predictions), overall and per "
        "plan, contract, region and tenure band, on the test split. The current champion is "
        "scored on the same rows, side by side."
    ),
)
def evaluation_report(
    context: AssetExecutionContext,
    churn_model: ModelRef,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
) -> pd.DataFrame:
    test = warehouse.query("select * from training.training_set where split = 'test'")
    if test.empty:
        raise ValueError(
            "training.training_set has no test rows; materialize training/training_set with a "
            "wider window or a larger test_fraction."
        )
    challenger = registry.load_pipeline(mlflow.tracking_uri, churn_model)
    parts = [
        metrics_table(test, predict_from_features(challenger, test), churn_model.threshold,
                      churn_model.version, churn_model.run_id, "challenger")
    ]
    champion = mlflow.champion()
    if champion is not None and champion.version != churn_model.version:
        pipeline = registry.load_pipeline(mlflow.tracking_uri, champion)
        parts.append(
            metrics_table(test, predict_from_features(pipeline, test), champion.threshold,
                          champion.version, champion.run_id, "champion")
        )
    report = EvaluationReport.validate(pd.concat(parts, ignore_index=True))
    numbers = headline(report, "challenger")
    context.add_output_metadata({
        **{name: float(value) for name, value in numbers.items() if value == value},
        "model_version": churn_model.version,
        "champion_version": champion.version if champion else 0,
        "test_rows": len(test),
        "test_positives": int(test["churned"].sum()),
        "overall": MetadataValue.md(_overall_markdown(report)),
    })
    return report


def _overall_markdown(report: pd.DataFrame) -> str:
    overall = report[report["segment_column"] == "overall"]
    wide = overall.pivot_table(index="metric", columns="role", values="value")
    return wide.round(4).to_markdown() if hasattr(wide, "to_markdown") else str(wide)
