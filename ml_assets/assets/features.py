"""features/customer_features: model inputs from the one feature function."""

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, asset

from ml_assets.assets.common import (
    CODE_VERSION,
    DAILY_BACKFILL_POLICY,
    OWNERS,
    WAREHOUSE_POOL,
    dagster_type,
    daily_partitions,
    table_metadata,
)
from ml_assets.features import build_customer_features
from ml_assets.schemas import CustomerFeatures


@asset(
    key=["features", "customer_features"],
    group_name="features",
    ins={"customer_snapshots": AssetIn(key=["raw", "customer_snapshots"])},
    partitions_def=daily_partitions,
    backfill_policy=DAILY_BACKFILL_POLICY,
    pool=WAREHOUSE_POOL,
    dagster_type=dagster_type(CustomerFeatures),
    metadata=table_metadata(CustomerFeatures, partition_expr="snapshot_date"),
    kinds={"duckdb", "pandas"},
    owners=OWNERS,
    code_version=CODE_VERSION,
    description=(
        "Model features, one row per customer per day, from build_customer_features: the "
        "same function the registered model runs on raw rows, so training and serving "
        "cannot diverge."
    ),
)
def customer_features(
    context: AssetExecutionContext, customer_snapshots: pd.DataFrame
) -> pd.DataFrame:
    features = CustomerFeatures.validate(build_customer_features(customer_snapshots))
    context.add_output_metadata({
        "labelled_rows": int(features["churned"].notna().sum()),
        "new_customer_share": float(features["is_new_customer"].mean()),
    })
    return features
