"""raw/customer_snapshots: validated landing data."""

import datetime as dt
from pathlib import Path

import pandas as pd
from dagster import (
    AssetExecutionContext,
    ConfigurableResource,
    Failure,
    MetadataValue,
    asset,
)

from ml_assets import settings
from ml_assets.assets.common import (
    CODE_VERSION,
    DAILY_BACKFILL_POLICY,
    OWNERS,
    WAREHOUSE_POOL,
    dagster_type,
    daily_partitions,
    materialization_schema,
    partition_days,
    table_metadata,
)
from ml_assets.ingest import load_days, refusal_record
from ml_assets.landing import LandingFileError
from ml_assets.resources import WarehouseResource
from ml_assets.schemas import CustomerSnapshot


class LandingResource(ConfigurableResource):
    """The folder daily landing files arrive in."""

    directory: str


@asset(
    key=["raw", "customer_snapshots"],
    group_name="raw",
    partitions_def=daily_partitions,
    backfill_policy=DAILY_BACKFILL_POLICY,
    pool=WAREHOUSE_POOL,
    dagster_type=dagster_type(CustomerSnapshot),
    metadata=table_metadata(CustomerSnapshot, partition_expr="snapshot_date"),
    kinds={"duckdb", "pandas"},
    owners=OWNERS,
    code_version=CODE_VERSION,
    description=(
        "One day's landing file (data/landing/customers_YYYY-MM-DD.csv or .parquet), "
        "validated against the landing schema before anything is written. A bad file fails "
        "the partition, names the column, rule and row count, and leaves the file untouched."
    ),
)
def customer_snapshots(
    context: AssetExecutionContext, landing: LandingResource, warehouse: WarehouseResource
) -> pd.DataFrame:
    days = partition_days(context)
    landing_dir = Path(landing.directory)
    try:
        snapshots = load_days(
            landing_dir, days, partitions_start=settings.partitions_start(), log=context.log.info
        )
    except LandingFileError as exc:
        bad_day = _failing_day(exc, days)
        _record_refusal(context, warehouse, exc, bad_day)
        # A Failure shows our message itself on the partition in the UI, not a stack trace.
        # `from None`: the message says it all; the chained LandingFileError and pandera's
        # SchemaErrors (a JSON dump) would print two more tracebacks around it on the CLI.
        raise Failure(
            description=str(exc),
            metadata={
                "landing_dir": str(landing_dir),
                "partition": bad_day.isoformat(),
                "landing_file": getattr(getattr(exc, "path", None), "name", ""),
            },
        ) from None
    context.add_output_metadata(
        {
            "days": len(days),
            "source_files": MetadataValue.md(
                "\n".join(f"- `{f}`" for f in sorted(snapshots["source_file"].unique()))
            ),
            "landing_dir": str(landing_dir),
            "churn_rate": float(snapshots["churned"].astype("Float64").mean()),
            **materialization_schema(CustomerSnapshot),
        }
    )
    return snapshots


def _failing_day(exc: LandingFileError, days: list[dt.date]) -> dt.date:
    """The day whose file was refused (a range run names it on the error), else the first."""
    return getattr(exc, "day", None) or days[0]


def _record_refusal(
    context: AssetExecutionContext,
    warehouse: WarehouseResource,
    exc: LandingFileError,
    day: dt.date,
) -> None:
    """Log the refusal in raw.quarantine; a failure to log must not hide the refusal."""
    try:
        warehouse.append("raw", "quarantine", refusal_record(exc, day, context.run.run_id))
    except Exception as log_error:  # the file's own error is what the user needs to see
        context.log.warning(f"Could not record the refusal in raw.quarantine: {log_error}")
