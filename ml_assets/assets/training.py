"""training/training_set and training/churn_model."""

import datetime as dt
import hashlib
import json
import warnings

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    BetaWarning,
    Config,
    DataVersion,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from ml_assets import lineage, registry
from ml_assets.assets.common import (
    CODE_VERSION,
    OWNERS,
    WAREHOUSE_POOL,
    dagster_type,
    materialization_schema,
    table_metadata,
)
from ml_assets.drift import build_reference_profile
from ml_assets.features import MODEL_FEATURES, SERVING_COLUMNS, features_to_landing_rows
from ml_assets.modelling import ModelParams, build_training_set, search_space, train_churn_model
from ml_assets.registry import ModelRef
from ml_assets.resources import MlflowResource, WarehouseResource
from ml_assets.schemas import ReferenceProfileRow, TrainingSet


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


def data_version(frame: pd.DataFrame) -> str:
    """A short content hash of a frame, the same for equal data however it was read.

    Rows are sorted by customer and day and columns brought to one representation (datetimes
    as nanoseconds, numbers as float64, the rest as text), so the frame written by
    training_set and the one read back from DuckDB (other datetime unit, nullable ints, any
    row order) hash alike, and anyone can recompute it from the stored table.
    """
    keys = [c for c in ("snapshot_date", "customer_id") if c in frame.columns]
    rows = frame.sort_values(keys, kind="stable") if keys else frame
    canonical = {}
    for name in rows.columns:
        column = rows[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            canonical[name] = column.astype("datetime64[ns]").astype("int64").to_numpy()
        elif pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            canonical[name] = column.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        else:
            canonical[name] = column.astype(str).to_numpy()
    hashed = pd.util.hash_pandas_object(pd.DataFrame(canonical), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


@asset(
    key=["training", "training_set"],
    pool=WAREHOUSE_POOL,
    group_name="training",
    deps=[["features", "customer_features"]],
    dagster_type=dagster_type(TrainingSet),
    metadata=table_metadata(TrainingSet),
    kinds={"duckdb", "pandas"},
    owners=OWNERS,
    code_version=CODE_VERSION,
    description=(
        "The most recent labelled days of features (window_days, default 30; only those from "
        "`since` on when a performance-drift retrain sets it) with a "
        "deterministic train/test split by customer id hash: every snapshot of a customer "
        "falls on the same side."
    ),
)
def training_set(
    context: AssetExecutionContext, config: TrainingSetConfig, warehouse: WarehouseResource
) -> Output[pd.DataFrame]:
    # Only the window's days are read, not the whole features table.
    features = warehouse.query(
        """
        select * from features.customer_features
        where snapshot_date in (
            select distinct snapshot_date from features.customer_features
            where churned is not null order by snapshot_date desc limit ?
        )
        """,
        [config.window_days],
    )
    since = _since_date(config.since)
    result = TrainingSet.validate(
        build_training_set(
            features, config.window_days, config.test_fraction, since, config.min_rows
        )
    )
    version = data_version(result)
    # The content hash is also Dagster's data version: the UI shows it, and the model's
    # materialization records which training-set version it was fitted on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)  # data_version= is marked beta
        return Output(
            result,
            data_version=DataVersion(version),
            metadata=_training_set_metadata(result, version, config.since),
        )


def _training_set_metadata(result: pd.DataFrame, version: str, since: str | None) -> dict:
    days = result["snapshot_date"]
    return {
        "window_start": str(days.min().date()),
        "window_end": str(days.max().date()),
        "days": int(days.nunique()),
        "day_list": MetadataValue.json(sorted(str(d.date()) for d in days.unique())),
        "train_rows": int((result["split"] == "train").sum()),
        "test_rows": int((result["split"] == "test").sum()),
        "churn_rate": float(result["churned"].mean()),
        "data_version": version,
        "since": since or "",
        **materialization_schema(TrainingSet),
    }


def _since_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError as exc:
        raise ValueError(
            f"training_set config since={value!r} is not a date; use YYYY-MM-DD or leave it empty."
        ) from exc


@asset(
    key=["training", "churn_model"],
    group_name="training",
    ins={"training_set": AssetIn(key=["training", "training_set"])},
    io_manager_key="model_io_manager",
    metadata={"registry_ref": "latest"},
    kinds={"sklearn", "mlflow"},
    owners=OWNERS,
    code_version=CODE_VERSION,
    description=(
        "One sklearn Pipeline from raw landing rows to churn probability (feature function, "
        "ColumnTransformer, gradient boosting), fitted on the train split, logged to MLflow "
        "with params, metrics, signature, input example and the drift reference profile, and "
        "registered as churn_model."
    ),
)
def churn_model(
    context: AssetExecutionContext,
    config: ModelConfig,
    training_set: pd.DataFrame,
    mlflow: MlflowResource,
    warehouse: WarehouseResource,
) -> ModelRef:
    settings_ = config.model_dump()
    search, cv_folds = settings_.pop("search"), settings_.pop("cv_folds")
    params = ModelParams(**settings_)
    train = training_set[training_set["split"] == "train"]
    trained = train_churn_model(
        train, params, cv_folds=cv_folds, candidates=search_space(params) if search else None
    )
    version_of_data = data_version(training_set)
    days = training_set["snapshot_date"]
    # The last day the model learnt from: drift_sensor does not retrain for drift on a day
    # up to it (a retrain would learn from the same days).
    profile = {**build_reference_profile(training_set), "window_end": str(days.max().date())}
    ref = registry.log_and_register(
        tracking_uri=mlflow.tracking_uri,
        artifact_root=mlflow.artifact_root,
        experiment_name=mlflow.experiment_name,
        trained=trained,
        input_example=_raw_example(training_set),
        profile=profile,
        params=params.as_dict(),
        metrics={
            "train_rows": trained.train_rows,
            "train_positives": trained.train_positives,
            **trained.metrics,
        },
        tags={
            "training_set_version": version_of_data,
            "window_start": str(days.min().date()),
            "window_end": str(days.max().date()),
            "training_days": ",".join(sorted(str(d.date()) for d in days.unique())),
            "code_version": CODE_VERSION,
            "dagster_run_id": context.run.run_id,
            "trigger": lineage.trigger_of(context.run.tags),
            # The evidence that started a drift retrain travels with the model.
            **{
                k.replace("/", "."): v
                for k, v in context.run.tags.items()
                if k.startswith("ml_assets/")
            },
        },
    )
    # The reference profile also lives in the warehouse, beside the data it describes.
    profile_row = ReferenceProfileRow.validate(
        pd.DataFrame(
            [
                {
                    "model_version": ref.version,
                    "mlflow_run_id": ref.run_id,
                    "created_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
                    "n_rows": profile["n_rows"],
                    "profile": json.dumps({**profile, "model_version": ref.version}),
                }
            ]
        )
    )
    warehouse.append("monitoring", "reference_profiles", profile_row)
    context.add_output_metadata(
        {
            "model_version": ref.version,
            "mlflow_run_id": ref.run_id,
            "mlflow_model_uri": ref.uri,
            "mlflow_run": MetadataValue.url(
                lineage.mlflow_run_link(mlflow.tracking_uri, ref.run_id)
            ),
            "threshold": trained.threshold,
            "cv_auc": trained.metrics["cv_auc"],
            "search": MetadataValue.md(
                pd.DataFrame(trained.search).round(4).to_markdown(index=False)
            ),
            "train_rows": trained.train_rows,
            "training_set_version": version_of_data,
            "features": MetadataValue.json(MODEL_FEATURES),
        }
    )
    return ref


def _raw_example(training_set: pd.DataFrame) -> pd.DataFrame:
    """A few rows in the landing schema (no label), the input the registered model accepts."""
    return features_to_landing_rows(training_set.head(5))[SERVING_COLUMNS]
