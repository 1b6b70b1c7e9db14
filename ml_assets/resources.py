"""Resources: the warehouse IO manager, the warehouse reader, MLflow, and the model store.

Asset code never names a storage class: it receives these through Dagster's resource
system, and tests swap in a temporary warehouse and MLflow store.
"""

import datetime as dt
from typing import Any

import pandas as pd
from dagster import (
    ConfigurableIOManager,
    ConfigurableResource,
    InitResourceContext,
    InputContext,
    OutputContext,
    ResourceDependency,
)

from ml_assets import registry, settings, warehouse
from ml_assets.registry import ModelRef


def _table_of(asset_key_path: list[str]) -> tuple[str, str]:
    if len(asset_key_path) < 2:
        raise warehouse.WarehouseError(
            f"Asset key {'/'.join(asset_key_path)} needs a group: the part before the last "
            "names the DuckDB schema (e.g. raw/<entity>_snapshots)."
        )
    # The names rule (ml_assets.dataset.names): table <group>.<last part>, whatever prefix.
    return asset_key_path[-2], asset_key_path[-1]


def _day_range(start: str, end: str) -> tuple[dt.date, dt.date]:
    return dt.date.fromisoformat(start[:10]), dt.date.fromisoformat(end[:10])


class DuckDBWarehouseIOManager(ConfigurableIOManager):
    """Stores DataFrames in DuckDB tables named by asset key (``schema/table``).

    Unlike the stock DuckDB pandas IO manager, a write replaces the table or the
    partition's rows in one transaction and inserts by column name; an empty frame is
    refused unless the asset's metadata says ``allow_empty``; a change of columns is
    reported instead of half-applied. Partitioned assets name their day column in the
    ``partition_expr`` metadata.
    """

    database: str
    lock_timeout_s: float = 120.0

    def _partition(self, context: InputContext | OutputContext, metadata: dict[str, Any]):
        if not context.has_asset_partitions:
            return None, None
        column = metadata.get("partition_expr")
        if not column:
            raise warehouse.WarehouseError(
                f"Partitioned asset {context.asset_key.to_user_string()} needs metadata "
                "partition_expr naming its day column."
            )
        key_range = context.asset_partition_key_range
        return str(column), _day_range(key_range.start, key_range.end)

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | None) -> None:
        if obj is None:
            return
        metadata = context.definition_metadata or {}
        schema, table = _table_of(list(context.asset_key.path))
        column, days = self._partition(context, metadata)
        with warehouse.connect(self.database, lock_timeout_s=self.lock_timeout_s) as con:
            rows = warehouse.replace_rows(
                con,
                schema,
                table,
                obj,
                partition_column=column,
                partition_range=days,
                allow_empty=bool(metadata.get("allow_empty", False)),
            )
        context.add_output_metadata(
            {
                "dagster/row_count": rows,
                "dagster/table_name": f"{schema}.{table}",
            }
        )

    def load_input(self, context: InputContext) -> pd.DataFrame:
        upstream = context.upstream_output
        metadata = (upstream.definition_metadata if upstream else None) or {}
        schema, table = _table_of(list(context.asset_key.path))
        column, days = self._partition(context, metadata)
        with warehouse.connect(self.database, lock_timeout_s=self.lock_timeout_s) as con:
            return warehouse.read_rows(
                con, schema, table, partition_column=column, partition_range=days
            )


class WarehouseResource(ConfigurableResource):
    """Direct, parameterised reads of the warehouse for assets that query a window."""

    database: str
    lock_timeout_s: float = 120.0

    def query(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        with warehouse.connect(self.database, lock_timeout_s=self.lock_timeout_s) as con:
            return con.execute(sql, params or []).df()

    def append(self, schema: str, table: str, frame: pd.DataFrame) -> int:
        """Append rows to a log table (created on first use), in one transaction."""
        with warehouse.connect(self.database, lock_timeout_s=self.lock_timeout_s) as con:
            return warehouse.append_rows(con, schema, table, frame)


class MlflowResource(ConfigurableResource):
    """Where MLflow keeps runs, artifacts and the model registry.

    Against a tracking server, a request that gets no answer is retried ``http_max_retries``
    times with exponential backoff (``http_backoff_factor``) and each attempt times out after
    ``http_timeout_s``: a step fails with a clear RegistryError in well under a minute, not
    after MLflow's default of about four minutes. ``MLFLOW_HTTP_REQUEST_*`` environment
    variables, when set, take precedence.
    """

    tracking_uri: str
    artifact_root: str
    experiment_name: str = settings.EXPERIMENT_NAME
    # The registered model (empty: the active dataset spec's ``<name>_model``).
    model_name: str = ""
    http_max_retries: int = 3
    http_backoff_factor: int = 1
    http_timeout_s: int = 15

    def setup_for_execution(self, context: InitResourceContext) -> None:
        registry.bound_http_retries(
            self.http_max_retries, self.http_backoff_factor, self.http_timeout_s
        )

    @property
    def registered_model_name(self) -> str:
        return self.model_name or registry.default_model_name()

    def latest_version(self) -> ModelRef | None:
        return registry.latest_version(self.tracking_uri, self.registered_model_name)

    def champion(self) -> ModelRef | None:
        return registry.alias_version(
            self.tracking_uri, settings.CHAMPION_ALIAS, self.registered_model_name
        )

    def run_status(self, run_id: str) -> str:
        """MLflow's status of a run: FINISHED once logging completed, RUNNING if cut off."""
        return registry.run_status(self.tracking_uri, run_id)


class ModelRegistryIOManager(ConfigurableIOManager):
    """Model assets live in the MLflow registry; this hands downstream assets a reference.

    The asset itself logs and registers (or promotes) the model; loading resolves the
    ``registry_ref`` metadata of the upstream asset: ``latest`` (the newest registered
    version) or ``champion`` (the version the ``champion`` alias points at, or None).
    """

    mlflow: ResourceDependency[MlflowResource]

    def handle_output(self, context: OutputContext, obj: ModelRef | None) -> None:
        if obj is not None:
            context.add_output_metadata({"model_version": obj.version, "mlflow_run_id": obj.run_id})

    def load_input(self, context: InputContext) -> ModelRef | None:
        upstream = context.upstream_output
        mode = ((upstream.definition_metadata if upstream else None) or {}).get("registry_ref")
        if mode == "champion":
            return self.mlflow.champion()
        ref = self.mlflow.latest_version()
        name = self.mlflow.registered_model_name
        model_key = (
            "/".join(upstream.asset_key.path) if upstream and upstream.has_asset_key else name
        )
        if ref is None:
            raise registry.RegistryError(
                f"No version of {name} is registered in "
                f"{self.mlflow.tracking_uri}; materialize {model_key} first."
            )
        # A version is registered before its run logs the reference profile and ends; a run
        # killed in between leaves a version that must never be evaluated or promoted.
        status = self.mlflow.run_status(ref.run_id)
        if status != "FINISHED":
            raise registry.RegistryError(
                f"Version {ref.version} of {name} is incomplete: its "
                f"MLflow run {ref.run_id} is {status} (the training run was interrupted before "
                f"it finished logging). Materialize {model_key} again; the champion is "
                "unchanged."
            )
        return ref
