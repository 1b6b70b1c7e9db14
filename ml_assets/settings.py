"""Paths and environment, read in one place.

Every location has a default under the project root and an environment override, so
nothing machine-specific is written in code. Functions (not module constants) so that
tests and the CLI can change the environment before asking.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PARTITIONS_START = "2025-01-01"
REGISTERED_MODEL_NAME = "churn_model"
CHAMPION_ALIAS = "champion"
EXPERIMENT_NAME = "churn"


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    if not value:
        return default
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def data_dir() -> Path:
    """Root of every data file the project writes (``ML_ASSETS_DATA_DIR``, default ``data/``)."""
    return _path_from_env("ML_ASSETS_DATA_DIR", PROJECT_ROOT / "data")


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


DEFAULT_LANDING_SETTLE_SECONDS = 5.0


def landing_settle_seconds() -> float:
    """How long a landing file must stay unmodified before the sensor ingests it
    (``ML_ASSETS_LANDING_SETTLE_SECONDS``, default 5 s): a file still being written keeps
    getting a new modification time, so it waits."""
    return float(os.environ.get("ML_ASSETS_LANDING_SETTLE_SECONDS", DEFAULT_LANDING_SETTLE_SECONDS))


def compute_threads() -> int:
    """OpenMP threads for model fitting and scoring (``ML_ASSETS_THREADS``, default 1).

    One by default: on a shared or busy machine, OpenMP's spinning threads slow gradient
    boosting down by an order of magnitude (measured here: 7 s became 143 s); raise it on a
    dedicated machine.
    """
    return max(1, int(os.environ.get("ML_ASSETS_THREADS", "1")))


def retrain_policy():
    """Cooldown and budget of drift-triggered retrains (``ML_ASSETS_RETRAIN_COOLDOWN_DAYS``,
    default 7; ``ML_ASSETS_RETRAIN_BUDGET``, default 4 per 30 days of data)."""
    from ml_assets.sensors import RetrainPolicy

    return RetrainPolicy(
        cooldown_days=int(os.environ.get("ML_ASSETS_RETRAIN_COOLDOWN_DAYS", "7")),
        budget=int(os.environ.get("ML_ASSETS_RETRAIN_BUDGET", "4")),
    )


def sensor_interval_seconds() -> int:
    """How often the sensors tick (``ML_ASSETS_SENSOR_INTERVAL``, default 30 s)."""
    return int(os.environ.get("ML_ASSETS_SENSOR_INTERVAL", "30"))


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
