"""features/customer_features: model inputs from the one feature function."""

import sys

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    TableColumnDep,
    TableColumnLineage,
    asset,
)

from ml_assets import features, steps
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
from ml_assets.schemas import CustomerFeatures

RAW_KEY = AssetKey(["raw", "customer_snapshots"])
FEATURES_CODE_VERSION = code_version(sys.modules[__name__], steps.build_features, features)

# Which landing columns each feature column is computed from in build_customer_features
# (a test perturbs each landing column and checks that exactly these features move).
FEATURE_SOURCES: dict[str, list[str]] = {
    "customer_id": ["customer_id"],
    "snapshot_date": ["snapshot_date"],
    "plan": ["plan"],
    "contract": ["contract"],
    "payment_method": ["payment_method"],
    "region": ["region"],
    "tenure_days": ["snapshot_date", "signup_date"],
    "monthly_charges": ["monthly_charges"],
    "total_charges": ["total_charges"],
    "charges_per_tenure_month": ["total_charges", "snapshot_date", "signup_date"],
    "support_calls_30d": ["support_calls_30d"],
    "logins_30d": ["logins_30d"],
    "avg_session_minutes": ["avg_session_minutes"],
    "engagement_minutes_30d": ["logins_30d", "avg_session_minutes"],
    "days_since_last_login": ["days_since_last_login"],
    "auto_renew": ["auto_renew"],
    "is_new_customer": ["snapshot_date", "signup_date"],
    "churned": ["churned"],
}


def column_lineage() -> TableColumnLineage:
    """``dagster/column_lineage``: each feature column with the raw columns it comes from."""
    return TableColumnLineage(
        deps_by_column={
            feature: [TableColumnDep(asset_key=RAW_KEY, column_name=c) for c in sources]
            for feature, sources in FEATURE_SOURCES.items()
        }
    )


@asset(
    key=["features", "customer_features"],
    group_name="features",
    ins={"customer_snapshots": AssetIn(key=["raw", "customer_snapshots"])},
    partitions_def=daily_partitions,
    backfill_policy=DAILY_BACKFILL_POLICY,
    pool=WAREHOUSE_POOL,
    dagster_type=dagster_type(CustomerFeatures),
    metadata=table_metadata(
        CustomerFeatures,
        partition_expr="snapshot_date",
        **{"dagster/column_lineage": column_lineage()},
    ),
    kinds={"duckdb", "pandas"},
    owners=OWNERS,
    code_version=FEATURES_CODE_VERSION,
    description=(
        "Model features, one row per customer per day, from build_customer_features: the "
        "same function the registered model runs on raw rows, so training and serving "
        "cannot diverge."
    ),
)
def customer_features(
    context: AssetExecutionContext, customer_snapshots: pd.DataFrame
) -> pd.DataFrame:
    result = steps.build_features(customer_snapshots)
    context.add_output_metadata(
        {
            **dagster_metadata(result.metadata),
            "dagster/column_lineage": column_lineage(),
            **materialization_schema(CustomerFeatures),
        }
    )
    return result.value
