"""What every asset module shares: partitions, column schemas from pandera, owners."""

import datetime as dt
import hashlib
import inspect
from dataclasses import dataclass
from typing import Any

import pandas as pd

# Registers DataFrame.pandera, which _already_validated reads; pandera imports it lazily on the
# first validate(), so a type check before any validation in a process raised AttributeError.
import pandera.accessors.pandas_accessor  # noqa: F401
import pandera.pandas as pa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    DagsterType,
    DailyPartitionsDefinition,
    MetadataValue,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
    TypeCheck,
)
from dagster_pandera import pandera_schema_to_dagster_type
from pandera.engines import pandas_engine

from ml_assets import settings
from ml_assets.dataset import DatasetSpec
from ml_assets.dataset.names import DatasetNames
from ml_assets.steps import Markdown, TableModels, Url, table_models

OWNERS = ["team:ml-platform"]


def build_daily_partitions(start: dt.date) -> DailyPartitionsDefinition:
    """One partition per day from ``start`` up to and including today."""
    return DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1)


# The default dataset's partitions (ML_ASSETS_PARTITIONS_START).
daily_partitions = build_daily_partitions(settings.partitions_start())
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


def code_version(*parts: Any) -> str:
    """An asset's code version: a hash of the source of what it runs (its asset module and
    the plain modules or functions it calls), so editing one step marks only the assets
    that run it as changed in the UI, not every asset."""
    digest = hashlib.sha256()
    for part in parts:
        text = part if isinstance(part, str) else inspect.getsource(part)
        digest.update(text.encode())
    return digest.hexdigest()[:12]


def dagster_metadata(plain: dict[str, Any]) -> dict[str, Any]:
    """Plain step metadata (ml_assets.steps) as Dagster metadata: Markdown and Url marks
    become the UI's markdown and link values, lists and dicts JSON; the rest as is."""
    out: dict[str, Any] = {}
    for name, value in plain.items():
        if isinstance(value, Markdown):
            out[name] = MetadataValue.md(str(value))
        elif isinstance(value, Url):
            out[name] = MetadataValue.url(str(value))
        elif isinstance(value, list | dict):
            out[name] = MetadataValue.json(value)
        else:
            out[name] = value
    return out


@dataclass(frozen=True)
class Wiring:
    """What every asset factory of one dataset needs: its spec (names, columns, models) and
    its daily partitions."""

    spec: DatasetSpec
    partitions: DailyPartitionsDefinition

    @property
    def names(self) -> DatasetNames:
        return self.spec.names

    @property
    def models(self) -> TableModels:
        return table_models(self.spec)

    def key(self, role: str) -> AssetKey:
        """The asset key of a role (raw, features, training_set, model, evaluation, champion,
        predictions, drift), from the names helper."""
        return AssetKey(list(self.names.asset_keys[role]))

    def group(self, role: str) -> str:
        """The UI group of a role: the key's group part (prefixed for a prefixed dataset)."""
        group = self.names.asset_keys[role][-2]
        return f"{self.names.prefix}_{group}" if self.names.prefix else group

    def op(self, role: str) -> str:
        """The op name of a role's asset (what run config is keyed by)."""
        return self.key(role).to_python_identifier()
