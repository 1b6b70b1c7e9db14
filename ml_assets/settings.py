"""Paths and environment, read in one place.

Every location has a default under the project root and an environment override, so
nothing machine-specific is written in code. Functions (not module constants) so that
tests and the CLI can change the environment before asking.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from ml_assets.decisions import DEFAULT_SETTLE_SECONDS, RetrainPolicy

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PARTITIONS_START = "2025-01-01"
CHAMPION_ALIAS = "champion"


def __getattr__(name: str):
    """``REGISTERED_MODEL_NAME`` and ``EXPERIMENT_NAME`` of the active dataset spec (its
    ``<name>_model`` and ``<name>``), computed when asked so that nothing loads the spec
    at import time."""
    if name in ("REGISTERED_MODEL_NAME", "EXPERIMENT_NAME"):
        from ml_assets.dataset import active_spec

        names = active_spec().names
        return names.model_name if name == "REGISTERED_MODEL_NAME" else names.experiment_name
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    if not value:
        return default
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def data_dir() -> Path:
    """Root of every data file the project writes (``ML_ASSETS_DATA_DIR``, default ``data/``)."""
    return _path_from_env("ML_ASSETS_DATA_DIR", PROJECT_ROOT / "data")


DEFAULT_DATASET_SPEC = Path("ml_assets_examples") / "churn" / "spec.yaml"


def dataset_spec_path() -> Path:
    """The dataset spec in use (``ML_ASSETS_DATASET``, a path; relative paths resolve against
    the project root; default the bundled churn example's spec)."""
    return _path_from_env("ML_ASSETS_DATASET", PROJECT_ROOT / DEFAULT_DATASET_SPEC).resolve()


def landing_dir() -> Path:
    """Where daily landing files arrive (``<data dir>/landing``)."""
    return data_dir() / "landing"


def truth_dir() -> Path:
    """Generator ground truth, kept outside the landing folder (``<data dir>/truth``)."""
    return data_dir() / "truth"


def duckdb_path() -> Path:
    """The warehouse file (``ML_ASSETS_DUCKDB_PATH``, default ``<data dir>/warehouse.duckdb``)."""
    return _path_from_env("ML_ASSETS_DUCKDB_PATH", data_dir() / "warehouse.duckdb")


def warehouse() -> str:
    """The warehouse (``ML_ASSETS_WAREHOUSE``): a ``ducklake:`` URI selects the DuckLake lake
    (team profile); a file path, or unset, the DuckDB file (``duckdb_path()``)."""
    value = os.environ.get("ML_ASSETS_WAREHOUSE", "").strip()
    if value.startswith("ducklake:"):
        return value
    if value:
        return str(_path_from_env("ML_ASSETS_WAREHOUSE", duckdb_path()))
    return str(duckdb_path())


def lake_data_path() -> str:
    """Where the lake keeps its Parquet files (``ML_ASSETS_LAKE_DATA_PATH``: a folder or an
    ``s3://bucket/prefix/``; default ``<data dir>/lake/``). Read with a ``ducklake:`` warehouse."""
    value = os.environ.get("ML_ASSETS_LAKE_DATA_PATH", "").strip()
    if value.startswith("s3://"):
        return value if value.endswith("/") else value + "/"
    folder = _path_from_env("ML_ASSETS_LAKE_DATA_PATH", data_dir() / "lake")
    folder.mkdir(parents=True, exist_ok=True)
    return f"{folder}/"


def s3_settings() -> dict[str, object]:
    """S3 access for a lake on ``s3://``: ``ML_ASSETS_S3_ENDPOINT`` (host:port or URL of an
    S3-compatible server; unset for AWS), keys from ``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY``, region from ``AWS_DEFAULT_REGION`` (default us-east-1)."""
    endpoint = os.environ.get("ML_ASSETS_S3_ENDPOINT", "").strip()
    use_ssl = not endpoint.startswith("http://")
    endpoint = endpoint.removeprefix("http://").removeprefix("https://").rstrip("/")
    return {
        "endpoint": endpoint or "s3.amazonaws.com",
        "use_ssl": use_ssl,
        "key_id": os.environ.get("AWS_ACCESS_KEY_ID", ""),
        "secret": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }


def profile() -> str:
    """``ML_ASSETS_PROFILE``: ``local`` (default) or ``team`` (README "Deployment")."""
    return os.environ.get("ML_ASSETS_PROFILE", "local").strip() or "local"


def mlflow_dir() -> Path:
    return data_dir() / "mlflow"


def mlflow_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, default a SQLite store under ``<data dir>/mlflow``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{(mlflow_dir() / 'mlflow.db').as_posix()}"


def mlflow_artifact_root() -> str:
    """Artifact location for new experiments (``ML_ASSETS_MLFLOW_ARTIFACTS``).

    Empty when the tracking URI is an ``http(s)://`` server and no override is set: the
    experiment then gets the server's default location, and artifacts go through the server
    (``--serve-artifacts``) instead of onto each client's own disk.
    """
    if mlflow_tracking_uri().startswith(("http://", "https://")) and not os.environ.get(
        "ML_ASSETS_MLFLOW_ARTIFACTS"
    ):
        return ""
    return _path_from_env("ML_ASSETS_MLFLOW_ARTIFACTS", mlflow_dir() / "artifacts").as_uri()


def partitions_start() -> dt.date:
    """First daily partition (``ML_ASSETS_PARTITIONS_START``, default 2025-01-01)."""
    raw = os.environ.get("ML_ASSETS_PARTITIONS_START", DEFAULT_PARTITIONS_START)
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(
            f"ML_ASSETS_PARTITIONS_START={raw!r} is not a date; use the form YYYY-MM-DD."
        ) from exc


DEFAULT_LANDING_SETTLE_SECONDS = DEFAULT_SETTLE_SECONDS


def landing_settle_seconds() -> float:
    """How long a landing file must stay unmodified before the sensor ingests it
    (``ML_ASSETS_LANDING_SETTLE_SECONDS``, default 5 s): a file still being written keeps
    getting a new modification time, so it waits."""
    return _number_from_env("ML_ASSETS_LANDING_SETTLE_SECONDS", DEFAULT_LANDING_SETTLE_SECONDS)


def compute_threads() -> int:
    """OpenMP threads for model fitting and scoring (``ML_ASSETS_THREADS``, default 1).

    One by default: on a shared or busy machine, OpenMP's spinning threads slow gradient
    boosting down by an order of magnitude (measured here: 7 s became 143 s); raise it on a
    dedicated machine.
    """
    return max(1, _number_from_env("ML_ASSETS_THREADS", 1, int))


def _number_from_env(name: str, default: float | int, kind: type = float):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError as exc:
        raise ValueError(
            f"{name}={raw!r} is not {'an integer' if kind is int else 'a number'}; "
            f"set it to one (default {default}) or unset it."
        ) from exc


def retrain_policy() -> RetrainPolicy:
    """Cooldown and budget of drift-triggered retrains (``ML_ASSETS_RETRAIN_COOLDOWN_DAYS``,
    default 7; ``ML_ASSETS_RETRAIN_BUDGET``, default 4 per 30 days of data)."""
    return RetrainPolicy(
        cooldown_days=_number_from_env("ML_ASSETS_RETRAIN_COOLDOWN_DAYS", 7, int),
        budget=_number_from_env("ML_ASSETS_RETRAIN_BUDGET", 4, int),
    )


def performance_rules():
    """The performance-drift rule (:class:`ml_assets.performance.PerformanceRules`): a day's
    realised AUC drifts when it is significantly below the champion's test AUC minus a margin.

    ``ML_ASSETS_PERFORMANCE_MARGIN`` (default 0.02), ``ML_ASSETS_PERFORMANCE_ALPHA`` (0.01),
    ``ML_ASSETS_PERFORMANCE_MIN_ROWS`` (100 labelled rows), ``ML_ASSETS_PERFORMANCE_MIN_POSITIVES``
    (10), ``ML_ASSETS_PERFORMANCE_RESAMPLES`` (500 bootstrap resamples).
    """
    from ml_assets.performance import PerformanceRules

    default = PerformanceRules()
    return PerformanceRules(
        margin=_number_from_env("ML_ASSETS_PERFORMANCE_MARGIN", default.margin),
        alpha=_number_from_env("ML_ASSETS_PERFORMANCE_ALPHA", default.alpha),
        min_rows=_number_from_env("ML_ASSETS_PERFORMANCE_MIN_ROWS", default.min_rows, int),
        min_positives=_number_from_env(
            "ML_ASSETS_PERFORMANCE_MIN_POSITIVES", default.min_positives, int
        ),
        n_resamples=_number_from_env("ML_ASSETS_PERFORMANCE_RESAMPLES", default.n_resamples, int),
        seed=default.seed,
    )


def sensor_interval_seconds() -> int:
    """How often the sensors tick (``ML_ASSETS_SENSOR_INTERVAL``, default 30 s)."""
    return _number_from_env("ML_ASSETS_SENSOR_INTERVAL", 30, int)


def mlflow_ui_url() -> str:
    """Base URL of the MLflow UI that links in asset metadata and `ml-assets lineage` point at:
    ML_ASSETS_MLFLOW_UI_URL, else http://127.0.0.1:$MLFLOW_PORT (the port `make mlflow-ui`
    serves on; 5000 unless MLFLOW_PORT is set)."""
    default = f"http://127.0.0.1:{mlflow_port()}"
    return os.environ.get("ML_ASSETS_MLFLOW_UI_URL", default).rstrip("/")


def mlflow_port() -> int:
    """MLFLOW_PORT: where `make mlflow-ui` serves the MLflow UI (default 5000)."""
    return int(os.environ.get("MLFLOW_PORT", "5000"))


def ui_port() -> int:
    """UI_PORT: where `make ui` serves the Dagster UI (default 3000)."""
    return int(os.environ.get("UI_PORT", "3000"))


def smoke_timeout_seconds() -> float:
    """ML_ASSETS_SMOKE_TIMEOUT_SECONDS: how long the gate's smoke test (the challenger loaded
    and scored in a fresh Python process) may take before it counts as failed (default 900).
    Seconds on a quiet machine; on a 2-core machine under a load average of 20-30 a fresh
    process took over 180 s just to import MLflow and scikit-learn, and 180 s used to refuse
    good models there."""
    return float(os.environ.get("ML_ASSETS_SMOKE_TIMEOUT_SECONDS", "900"))


@dataclass(frozen=True)
class DataPaths:
    """Where one dataset's files live: landing folder, warehouse, MLflow store, and its
    first daily partition."""

    data_dir: Path
    landing_dir: Path
    duckdb_path: Path
    mlflow_tracking_uri: str
    mlflow_artifact_root: str
    partitions_start: dt.date
    # The warehouse the resources open: the DuckDB file, or the lake that ML_ASSETS_WAREHOUSE
    # names (the default dataset only; a dataset beside it keeps its own file).
    warehouse: str = ""


def data_paths(root: Path | None = None, start: dt.date | None = None) -> DataPaths:
    """The default dataset's paths (the environment above), or, with ``root``, every file
    of a dataset loaded beside it under that folder (its own landing folder, warehouse and
    MLflow store, so two datasets never share a file). ``start`` overrides the first
    partition."""
    if root is None:
        return DataPaths(
            data_dir=data_dir(),
            landing_dir=landing_dir(),
            duckdb_path=duckdb_path(),
            mlflow_tracking_uri=mlflow_tracking_uri(),
            mlflow_artifact_root=mlflow_artifact_root(),
            partitions_start=start or partitions_start(),
            warehouse=warehouse(),
        )
    root = root if root.is_absolute() else PROJECT_ROOT / root
    return DataPaths(
        data_dir=root,
        landing_dir=root / "landing",
        duckdb_path=root / "warehouse.duckdb",
        mlflow_tracking_uri=f"sqlite:///{(root / 'mlflow' / 'mlflow.db').as_posix()}",
        mlflow_artifact_root=(root / "mlflow" / "artifacts").as_uri(),
        partitions_start=start or partitions_start(),
    )
