"""features/<entity>_features: model inputs from the one feature function."""

import importlib
import sys

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    TableColumnDep,
    TableColumnLineage,
    asset,
)

from ml_assets import features, steps
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
from ml_assets.dataset import DatasetSpec

FEATURES_CODE_VERSION = code_version(sys.modules[__name__], steps.build_features, features)


def feature_sources(spec: DatasetSpec) -> dict[str, list[str]]:
    """Which landing columns each feature-table column is computed from.

    A landing column comes from itself. A derived column's sources are declared beside the
    derive function, as a ``SOURCES`` dict in its module (derived column -> landing
    columns); a derived column it does not list depends on every landing column but the
    target (a test perturbs each landing column and checks which features move).
    """
    declared: dict[str, list[str]] = {}
    if spec.derive:
        module = importlib.import_module(spec.derive.split(":", 1)[0])
        declared = dict(getattr(module, "SOURCES", {}))
    inputs = [c for c in spec.landing_columns if c != spec.target.column]
    return {
        column: [column] if column in spec.landing_columns else list(declared.get(column, inputs))
        for column in spec.feature_table_columns
    }


def column_lineage(w: Wiring) -> TableColumnLineage:
    """``dagster/column_lineage``: each feature column with the raw columns it comes from."""
    raw = w.key("raw")
    return TableColumnLineage(
        deps_by_column={
            feature: [TableColumnDep(asset_key=raw, column_name=c) for c in sources]
            for feature, sources in feature_sources(w.spec).items()
        }
    )


def build_features_asset(w: Wiring) -> AssetsDefinition:
    model = w.models.features

    @asset(
        key=w.key("features"),
        group_name=w.group("features"),
        ins={"raw": AssetIn(key=w.key("raw"))},
        partitions_def=w.partitions,
        backfill_policy=DAILY_BACKFILL_POLICY,
        pool=WAREHOUSE_POOL,
        dagster_type=dagster_type(model),
        metadata=table_metadata(
            model,
            partition_expr=w.spec.date_column,
            **{"dagster/column_lineage": column_lineage(w)},
        ),
        kinds={"duckdb", "pandas"},
        owners=OWNERS,
        code_version=code_version(FEATURES_CODE_VERSION, w.spec.path.read_text()),
        description=(
            f"Model features, one row per {w.spec.entity} per day: the landing columns the "
            "spec names and the columns its derive function adds; the same function the "
            "registered model runs on raw rows, so training and serving cannot diverge."
        ),
    )
    def features_asset(context: AssetExecutionContext, raw: pd.DataFrame) -> pd.DataFrame:
        result = steps.build_features(raw, w.spec)
        context.add_output_metadata(
            {
                **dagster_metadata(result.metadata),
                "dagster/column_lineage": column_lineage(w),
                **materialization_schema(model),
            }
        )
        return result.value

    return features_asset
