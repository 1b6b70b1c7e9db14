"""What every asset module shares: partitions, column schemas from pandera, owners."""

import datetime as dt
from typing import Any

import pandas as pd

# Registers DataFrame.pandera, which _already_validated reads; pandera imports it lazily on the
# first validate(), so a type check before any validation in a process raised AttributeError.
import pandera.accessors.pandas_accessor  # noqa: F401
import pandera.pandas as pa
from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    DagsterType,
    DailyPartitionsDefinition,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
    TypeCheck,
)
from dagster_pandera import pandera_schema_to_dagster_type
from pandera.engines import pandas_engine

from ml_assets import settings

OWNERS = ["team:ml-platform"]
CODE_VERSION = "2"

daily_partitions = DailyPartitionsDefinition(
    start_date=settings.partitions_start().isoformat(), end_offset=1
)
# A backfill of the daily assets runs in chunks of 10 days: several chunks proceed at once
# (the instance allows 4 runs) and a failure costs one chunk, not the whole range. Every
# daily asset uses the same policy, so a chunk carries all of them.
DAILY_BACKFILL_POLICY = BackfillPolicy.multi_run(max_partitions_per_run=10)
# Steps that write the DuckDB file take a slot of this pool; config/dagster.yaml limits
# every pool to 1, so two runs never contend for the file (DuckDB allows one writer).
WAREHOUSE_POOL = "warehouse"


def column_schema(model: type[pa.DataFrameModel]) -> TableSchema:
    """The UI's column view of a pandera model: types, nullability, uniqueness, checks."""
    schema = model.to_schema()
    unique = set(schema.unique or [])
    columns = []
    for name, column in schema.columns.items():
        checks = [str(check.error or check.name) for check in column.checks]
        columns.append(
            TableColumn(
                name=name,
                type=str(column.dtype),
                description=", ".join(checks) or None,
                constraints=TableColumnConstraints(
                    nullable=column.nullable,
                    unique=bool(column.unique) or unique == {name},
                    other=checks,
                ),
            )
        )
    return TableSchema(columns=columns)


def table_metadata(model: type[pa.DataFrameModel], **extra: Any) -> dict[str, Any]:
    """Definition metadata for a warehouse table asset."""
    return {"dagster/column_schema": column_schema(model), **extra}


def materialization_schema(model: type[pa.DataFrameModel]) -> dict[str, Any]:
    """The column schema again on each materialization, so the UI can show (and schema-change
    checks can compare) the schema each write had."""
    return {"dagster/column_schema": column_schema(model)}


def dagster_type(model: type[pa.DataFrameModel]) -> DagsterType:
    """Dagster type that validates a frame with pandera before the IO manager writes it.

    Every asset already returns ``Model.validate(...)``; validating that same frame again
    would double pandera's cost (seconds per million rows). A frame pandera has marked as
    validated by this schema, with exactly the schema's columns and dtypes, passes as is;
    anything else is validated here.
    """
    pandera_type = pandera_schema_to_dagster_type(model)
    schema = model.to_schema()

    def type_check(context, value: object) -> TypeCheck:
        if _validated_by(value, schema):
            return TypeCheck(success=True, description=f"validated by {schema.name} in the asset")
        return pandera_type.type_check(context, value)

    return DagsterType(
        type_check_fn=type_check,
        name=pandera_type.unique_name,
        description=pandera_type.description,
        metadata=pandera_type.metadata,
        typing_type=pd.DataFrame,
    )


def _validated_by(value: object, schema: pa.DataFrameSchema) -> bool:
    """Whether pandera validated ``value`` against ``schema`` and its columns are unchanged."""
    if not isinstance(value, pd.DataFrame) or value.pandera.schema is not schema:
        return False
    if list(value.columns) != list(schema.columns):
        return False
    return all(
        column.dtype is None or column.dtype.check(pandas_engine.Engine.dtype(value[name].dtype))
        for name, column in schema.columns.items()
    )


def partition_days(context: AssetExecutionContext) -> list[dt.date]:
    """Every day of the partition range a run covers (one day, or a backfill range)."""
    key_range = context.partition_key_range
    start = dt.date.fromisoformat(key_range.start)
    end = dt.date.fromisoformat(key_range.end)
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
