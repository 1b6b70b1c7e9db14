"""raw/<entity>_snapshots: validated landing data."""

import datetime as dt
import sys
from pathlib import Path

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetObservation,
    AssetsDefinition,
    ConfigurableResource,
    Failure,
    MetadataValue,
    asset,
)

from ml_assets import ingest, landing
from ml_assets.assets.common import (
    DAILY_BACKFILL_POLICY,
    OWNERS,
    WAREHOUSE_POOL,
    Wiring,
    code_version,
    dagster_type,
    materialization_schema,
    partition_days,
    table_metadata,
)
from ml_assets.ingest import load_days, refusal_record
from ml_assets.landing import LandingFileError
from ml_assets.resources import WarehouseResource

RAW_CODE_VERSION = code_version(sys.modules[__name__], ingest, landing)


class LandingResource(ConfigurableResource):
    """The folder daily landing files arrive in."""

    directory: str


def build_raw_asset(w: Wiring) -> AssetsDefinition:
    """The raw asset of a dataset: one day's landing file, validated against the spec."""
    spec, model = w.spec, w.models.raw

    @asset(
        key=w.key("raw"),
        group_name=w.group("raw"),
        partitions_def=w.partitions,
        backfill_policy=DAILY_BACKFILL_POLICY,
        pool=WAREHOUSE_POOL,
        dagster_type=dagster_type(model),
        metadata=table_metadata(model, partition_expr=spec.date_column),
        kinds={"duckdb", "pandas"},
        owners=OWNERS,
        code_version=code_version(RAW_CODE_VERSION, spec.path.read_text()),
        description=(
            f"One day's landing file ({spec.landing_pattern_text} or .parquet), validated "
            "against the landing schema of the dataset spec before anything is written. A bad "
            "file fails the partition, names the column, rule and row count, and leaves the "
            "file untouched."
        ),
    )
    def raw(
        context: AssetExecutionContext, landing: LandingResource, warehouse: WarehouseResource
    ) -> pd.DataFrame:
        days = partition_days(context)
        landing_dir = Path(landing.directory)
        try:
            snapshots = load_days(
                landing_dir,
                days,
                partitions_start=w.partitions.start.date(),
                log=context.log.info,
                spec=spec,
            )
        except LandingFileError as exc:
            # `from None`: the message says it all; the chained LandingFileError and pandera's
            # SchemaErrors (a JSON dump) would print two more tracebacks around it on the CLI.
            raise _refused(context, warehouse, exc, days, landing_dir, spec) from None
        target = snapshots[spec.target.column].astype("Float64")
        context.add_output_metadata(
            {
                "days": len(days),
                "source_files": MetadataValue.md(
                    "\n".join(f"- `{f}`" for f in sorted(snapshots["source_file"].unique()))
                ),
                "landing_dir": str(landing_dir),
                f"{spec.name}_rate": float(target.mean()) if target.notna().any() else None,
                **materialization_schema(model),
            }
        )
        return snapshots

    return raw


def _refused(context, warehouse, exc: LandingFileError, days, landing_dir: Path, spec) -> Failure:
    """Record a refused file in raw.quarantine, say why on the partition's page in the UI, and
    return the Failure the run shows (our message itself, not a stack trace)."""
    bad_day = _failing_day(exc, days)
    _record_refusal(context, warehouse, exc, bad_day, spec)
    metadata = {
        "landing_dir": str(landing_dir),
        "partition": bad_day.isoformat(),
        "landing_file": getattr(getattr(exc, "path", None), "name", ""),
    }
    _observe_refusal(context, exc, bad_day, metadata)
    return Failure(description=str(exc), metadata=metadata)


def _observe_refusal(context, exc: LandingFileError, day: dt.date, metadata: dict) -> None:
    """An observation of the refused partition carrying the reason. The UI's partition page
    lists a partition's observations, while a failed run only shows there as "failed" (Dagster
    open source does not store asset failure events). Logged at once, so the failing step does
    not lose it."""
    try:
        context.log_event(
            AssetObservation(
                asset_key=context.asset_key,
                partition=day.isoformat(),
                description=f"Landing file refused: {exc}",
                metadata={
                    "refused": True,
                    "reason": MetadataValue.text(str(exc)),
                    **metadata,
                },
            )
        )
    except Exception as log_error:  # the refusal itself must still reach the user
        context.log.warning(f"Could not record the refusal on the partition: {log_error}")


def _failing_day(exc: LandingFileError, days: list[dt.date]) -> dt.date:
    """The day whose file was refused (a range run names it on the error), else the first."""
    return getattr(exc, "day", None) or days[0]


def _record_refusal(
    context: AssetExecutionContext,
    warehouse: WarehouseResource,
    exc: LandingFileError,
    day: dt.date,
    spec=None,
) -> None:
    """Log the refusal in raw.quarantine; a failure to log must not hide the refusal."""
    try:
        warehouse.append(
            "raw", "quarantine", refusal_record(exc, day, context.run.run_id, spec=spec)
        )
    except Exception as log_error:  # the file's own error is what the user needs to see
        context.log.warning(f"Could not record the refusal in raw.quarantine: {log_error}")
