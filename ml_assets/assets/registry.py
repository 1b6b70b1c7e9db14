"""registry/champion_model: the promotion gate and the MLflow alias `champion`."""

import sys

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, Config, asset
from pydantic import Field

from ml_assets import gate, lineage, promotion, steps
from ml_assets.assets.common import OWNERS, Wiring, code_version, dagster_metadata
from ml_assets.gate import GateRules
from ml_assets.registry import ModelRef
from ml_assets.resources import MlflowResource, WarehouseResource


class GateConfig(Config):
    min_auc: float = Field(default=0.70, description="Absolute AUC floor for any champion.")
    max_brier: float = Field(default=0.20, description="Absolute Brier score ceiling.")
    auc_margin: float = Field(
        default=0.01, ge=0, description="Non-inferiority margin on the AUC difference."
    )
    confidence: float = Field(
        default=0.95, gt=0.5, lt=1, description="One-sided confidence of the non-inferiority test."
    )
    segment_alpha: float = Field(
        default=0.05, gt=0, lt=1, description="Family-wise level for 'a segment got worse' (Holm)."
    )
    min_test_rows: int = Field(default=200, ge=1, description="Fewer test rows: no promotion.")
    min_test_positives: int = Field(default=20, ge=1, description="Fewer positives: no promotion.")
    min_segment_positives: int = Field(
        default=10, ge=1, description="Segments with fewer positives (or negatives) are skipped."
    )
    n_resamples: int = Field(default=1000, ge=100, description="Bootstrap resamples.")
    seed: int = Field(default=0, description="Seed of the bootstrap.")


GATE_CODE_VERSION = code_version(sys.modules[__name__], steps.gate, gate, promotion, lineage)


def build_champion_asset(w: Wiring) -> AssetsDefinition:
    @asset(
        key=w.key("champion"),
        group_name=w.group("champion"),
        ins={"evaluation_report": AssetIn(key=w.key("evaluation"))},
        io_manager_key="model_io_manager",
        metadata={"registry_ref": "champion"},
        kinds={"mlflow"},
        owners=OWNERS,
        code_version=code_version(GATE_CODE_VERSION, w.spec.path.read_text()),
        description=(
            "The promotion gate. The first model becomes champion if it passes the absolute "
            "floors. Later a challenger replaces the champion (MLflow alias `champion`; the "
            "old one keeps `previous_champion`) only if a paired bootstrap on the same test "
            "rows shows its AUC is not worse by more than the margin, no segment is "
            "significantly worse (Holm), and it loads and scores raw rows in a fresh process. "
            "Every decision is logged in registry.promotion_log and as MLflow tags."
        ),
    )
    def champion_model(
        context: AssetExecutionContext,
        config: GateConfig,
        evaluation_report: pd.DataFrame,
        mlflow: MlflowResource,
        warehouse: WarehouseResource,
    ) -> ModelRef | None:
        evaluation_event = context.instance.get_latest_materialization_event(w.key("evaluation"))
        result = steps.gate(
            evaluation_report,
            steps.read_test_split(warehouse.database, w.spec),
            GateRules(**config.model_dump()),
            tracking_uri=mlflow.tracking_uri,
            database=warehouse.database,
            run_id=context.run.run_id,
            tags=context.run.tags,
            evaluation_run_id=evaluation_event.run_id if evaluation_event else None,
            spec=w.spec,
        )
        context.log.info(f"Gate: {result.metadata['decision']}: {result.metadata['reasons']}")
        context.add_output_metadata(dagster_metadata(result.metadata))
        return result.value

    return champion_model
