"""evaluation/evaluation_report: the challenger (and the champion) on the test split."""

import base64
import json

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MetadataValue, asset

from ml_assets import lineage, plots, registry
from ml_assets.assets.common import (
    CODE_VERSION,
    OWNERS,
    WAREHOUSE_POOL,
    dagster_type,
    materialization_schema,
    table_metadata,
)
from ml_assets.evaluation import headline, metrics_table
from ml_assets.modelling import predict_from_features
from ml_assets.registry import ModelRef
from ml_assets.resampling import reliability_curve
from ml_assets.resources import MlflowResource, WarehouseResource
from ml_assets.schemas import EvaluationReport


@asset(
    key=["evaluation", "evaluation_report"],
    pool=WAREHOUSE_POOL,
    group_name="evaluation",
    ins={"churn_model": AssetIn(key=["training", "churn_model"])},
    dagster_type=dagster_type(EvaluationReport),
    metadata=table_metadata(EvaluationReport),
    kinds={"duckdb", "pandas", "sklearn"},
    owners=OWNERS,
    code_version=CODE_VERSION,
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
    test = warehouse.query("select * from training.training_set where split = 'test'")
    if test.empty:
        raise ValueError(
            "training.training_set has no test rows; materialize training/training_set with a "
            "wider window or a larger test_fraction."
        )
    challenger = registry.load_pipeline(mlflow.tracking_uri, churn_model)
    proba = predict_from_features(challenger, test)
    parts = [
        metrics_table(
            test,
            proba,
            churn_model.threshold,
            churn_model.version,
            churn_model.run_id,
            "challenger",
        )
    ]
    champion = mlflow.champion()
    champion_proba = None
    if champion is not None and champion.version != churn_model.version:
        pipeline = registry.load_pipeline(mlflow.tracking_uri, champion)
        champion_proba = predict_from_features(pipeline, test)
        parts.append(
            metrics_table(
                test,
                champion_proba,
                champion.threshold,
                champion.version,
                champion.run_id,
                "champion",
            )
        )
    report = EvaluationReport.validate(pd.concat(parts, ignore_index=True))
    numbers = headline(report, "challenger")
    curves, calibration = {f"challenger v{churn_model.version}": proba}, {}
    if champion_proba is not None:
        curves[f"champion v{champion.version}"] = champion_proba
    y = test["churned"].astype(int).to_numpy()
    for label, p in curves.items():
        calibration[label] = reliability_curve(y, p)
    images = {
        "roc.png": plots.roc_png(y, curves),
        "precision_recall.png": plots.pr_png(y, curves),
        "calibration.png": plots.calibration_png(calibration),
        "segments_auc.png": plots.segment_png(report),
    }
    # The plots and headline numbers also live on the model's MLflow run.
    registry.log_run_artifacts(
        mlflow.tracking_uri,
        churn_model.run_id,
        {**images, "reliability.json": json.dumps(calibration).encode()},
        folder="evaluation",
    )
    registry.log_run_metrics(
        mlflow.tracking_uri, churn_model.run_id, {f"test_{k}": v for k, v in numbers.items()}
    )
    overall = report[(report["role"] == "challenger") & (report["segment_column"] == "overall")]
    context.add_output_metadata(
        {
            **{name: float(value) for name, value in numbers.items() if value == value},
            **{
                f"{r.metric}_ci_low": float(r.ci_low)
                for r in overall.itertuples()
                if r.metric in ("auc", "pr_auc", "brier") and r.ci_low == r.ci_low
            },
            **{
                f"{r.metric}_ci_high": float(r.ci_high)
                for r in overall.itertuples()
                if r.metric in ("auc", "pr_auc", "brier") and r.ci_high == r.ci_high
            },
            "model_version": churn_model.version,
            "champion_version": champion.version if champion else 0,
            "test_rows": len(test),
            "test_positives": int(y.sum()),
            "overall": MetadataValue.md(_overall_markdown(report)),
            "plots": MetadataValue.md(
                "\n\n".join(
                    f"**{name}**\n\n![{name}](data:image/png;base64,"
                    f"{base64.b64encode(png).decode()})"
                    for name, png in images.items()
                )
            ),
            "mlflow_run_id": churn_model.run_id,
            "mlflow_run": MetadataValue.url(
                lineage.mlflow_run_link(mlflow.tracking_uri, churn_model.run_id)
            ),
            "mlflow_plots": f"runs:/{churn_model.run_id}/evaluation",
            **materialization_schema(EvaluationReport),
        }
    )
    return report


def _overall_markdown(report: pd.DataFrame) -> str:
    overall = report[report["segment_column"] == "overall"]
    wide = overall.pivot_table(index="metric", columns="role", values="value")
    return wide.round(4).to_markdown() if hasattr(wide, "to_markdown") else str(wide)
