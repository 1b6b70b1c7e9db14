"""training/training_set and training/<name>_model."""

import sys
import warnings

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    BetaWarning,
    Config,
    DataVersion,
    Output,
    asset,
)
from pydantic import Field

from ml_assets import drift, features, modelling, registry, steps
from ml_assets.assets.common import (
    OWNERS,
    WAREHOUSE_POOL,
    Wiring,
    code_version,
    dagster_metadata,
    dagster_type,
    materialization_schema,
    table_metadata,
)
from ml_assets.modelling import ModelParams
from ml_assets.registry import ModelRef
from ml_assets.resources import MlflowResource, WarehouseResource

_HERE = sys.modules[__name__]
TRAINING_SET_CODE_VERSION = code_version(
    _HERE, steps.read_training_window, steps.make_training_set, steps.data_version, modelling
)
MODEL_CODE_VERSION = code_version(
    _HERE, steps.fit_and_register, modelling, features, drift.build_reference_profile, registry
)


class TrainingSetConfig(Config):
    window_days: int = Field(default=30, ge=1, description="Most recent labelled days to train on.")
    test_fraction: float = Field(
        default=0.2, gt=0, lt=1, description="Share of customers (by id hash) held out for test."
    )
    since: str | None = Field(
        default=None,
        description="First snapshot date (YYYY-MM-DD) the window may hold; earlier days are "
        "left out. drift_sensor sets it to the day of a performance-drift event (the relation "
        "between inputs and churn changed), so the retrain learns the new relation only.",
    )
    min_rows: int = Field(
        default=1000,
        ge=0,
        description="With since: when the days from since on hold fewer labelled rows than "
        "this, the most recent earlier days of the window are added until they do (1,000 rows "
        "give the gate about 200 test rows, its minimum).",
    )


class ModelConfig(Config):
    learning_rate: float = Field(default=0.05, gt=0, description="Gradient boosting step size.")
    max_iter: int = Field(default=250, ge=10, description="Boosting iterations.")
    max_leaf_nodes: int = Field(default=15, ge=2, description="Leaves per tree.")
    min_samples_leaf: int = Field(default=40, ge=1, description="Minimum rows per leaf.")
    l2_regularization: float = Field(default=1.0, ge=0, description="L2 penalty on leaf values.")
    seed: int = Field(default=7, description="Seed for the estimator and the CV folds.")
    search: bool = Field(
        default=True,
        description="Try 2 learning rates x 2 tree sizes around these values by CV on the "
        "train split and keep the best (4 x cv_folds extra fits).",
    )
    cv_folds: int = Field(default=3, ge=2, description="Folds for the search and the threshold.")
    reference_since: str | None = Field(
        default=None,
        description="First day (YYYY-MM-DD) of a new input regime: the model's drift "
        "reference is then the feature days from it on, not the training window. drift_sensor "
        "sets it to the day of an input-drift event, so a lasting shift is one event; a later "
        "retrain keeps the champion's regime while it lies inside its training window.",
    )


def build_training_assets(w: Wiring) -> list[AssetsDefinition]:
    """The training set and the model of a dataset."""
    return [_training_set_asset(w), _model_asset(w)]


def _training_set_asset(w: Wiring) -> AssetsDefinition:
    model = w.models.training

    @asset(
        key=w.key("training_set"),
        pool=WAREHOUSE_POOL,
        group_name=w.group("training_set"),
        deps=[w.key("features")],
        dagster_type=dagster_type(model),
        metadata=table_metadata(model),
        kinds={"duckdb", "pandas"},
        owners=OWNERS,
        code_version=code_version(TRAINING_SET_CODE_VERSION, w.spec.path.read_text()),
        description=(
            "The most recent labelled days of features (window_days, default 30; only those "
            "from `since` on when a performance-drift retrain sets it) with a deterministic "
            + (
                "train/test split by date: the window's latest days are the test split."
                if w.spec.split.by == "date"
                else f"train/test split by {w.spec.id_column} hash: every row of an id falls "
                "on the same side."
            )
        ),
    )
    def training_set(
        context: AssetExecutionContext, config: TrainingSetConfig, warehouse: WarehouseResource
    ) -> Output[pd.DataFrame]:
        features = steps.read_training_window(warehouse.database, config.window_days, w.spec)
        result = steps.make_training_set(
            features,
            config.window_days,
            config.test_fraction,
            config.since,
            config.min_rows,
            spec=w.spec,
        )
        # The content hash is also Dagster's data version: the UI shows it, and the model's
        # materialization records which training-set version it was fitted on.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BetaWarning)  # data_version= is marked beta
            return Output(
                result.value,
                data_version=DataVersion(result.metadata["data_version"]),
                metadata={**dagster_metadata(result.metadata), **materialization_schema(model)},
            )

    return training_set


def _model_asset(w: Wiring) -> AssetsDefinition:
    version = code_version(MODEL_CODE_VERSION, w.spec.path.read_text())

    @asset(
        key=w.key("model"),
        group_name=w.group("model"),
        ins={"training_set": AssetIn(key=w.key("training_set"))},
        io_manager_key="model_io_manager",
        metadata={"registry_ref": "latest"},
        kinds={"sklearn", "mlflow"},
        owners=OWNERS,
        code_version=version,
        description=(
            f"One sklearn Pipeline from raw landing rows to the probability of "
            f"{w.spec.target.column} (derive function, ColumnTransformer, gradient boosting), "
            "fitted on the train split, logged to MLflow with params, metrics, signature, "
            "input example and the drift reference profile, and registered as "
            f"{w.names.model_name}."
        ),
    )
    def model(
        context: AssetExecutionContext,
        config: ModelConfig,
        training_set: pd.DataFrame,
        mlflow: MlflowResource,
        warehouse: WarehouseResource,
    ) -> ModelRef:
        params = config.model_dump()
        search, cv_folds = params.pop("search"), params.pop("cv_folds")
        since = params.pop("reference_since")
        result = steps.fit_and_register(
            training_set,
            ModelParams(**params),
            tracking_uri=mlflow.tracking_uri,
            artifact_root=mlflow.artifact_root,
            experiment_name=mlflow.experiment_name,
            database=warehouse.database,
            search=search,
            cv_folds=cv_folds,
            code_version=version,
            tags=steps.run_tags(context.run.run_id, context.run.tags),
            regime=steps.current_regime(mlflow.tracking_uri, since, w.spec),
            spec=w.spec,
        )
        context.add_output_metadata(dagster_metadata(result.metadata))
        return result.value

    return model
