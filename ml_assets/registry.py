"""MLflow: logging, registering, promoting and loading the churn model.

Plain functions over a tracking URI. ``mlflow`` is imported inside each function: it
takes about two seconds to import and the code location must load fast.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ml_assets.settings import CHAMPION_ALIAS, REGISTERED_MODEL_NAME

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from sklearn.pipeline import Pipeline

    from ml_assets.modelling import TrainedModel

PREVIOUS_CHAMPION_ALIAS = "previous_champion"
PROFILE_ARTIFACT = "reference_profile.json"
MODEL_ARTIFACT = "model"
SKOPS_TRUSTED_TYPES = [
    "ml_assets.features.model_inputs",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]

# MLflow logs a lot at INFO (and warns about pip inference offline); keep runs readable.
for _name in ("mlflow", "alembic"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class ModelRef:
    """A registered model version and what scoring needs to know about it."""

    version: int
    run_id: str
    threshold: float
    name: str = REGISTERED_MODEL_NAME

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


class RegistryError(RuntimeError):
    """A model registry problem a user can act on."""


def _client(tracking_uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    _prepare_local_store(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _prepare_local_store(tracking_uri: str) -> None:
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def ensure_experiment(tracking_uri: str, artifact_root: str, name: str) -> str:
    """The experiment id, creating the experiment with an explicit artifact location."""
    client = _client(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=f"{artifact_root.rstrip('/')}/{name}")


def _ref_from_version(client: MlflowClient, mv: Any) -> ModelRef:
    run = client.get_run(mv.run_id)
    threshold = float(run.data.params.get("threshold", "0.5"))
    return ModelRef(version=int(mv.version), run_id=mv.run_id, threshold=threshold, name=mv.name)


def log_and_register(
    tracking_uri: str,
    artifact_root: str,
    experiment_name: str,
    trained: TrainedModel,
    input_example: pd.DataFrame,
    profile: dict[str, Any],
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
) -> ModelRef:
    """Log the full pipeline with signature and input example; register a new version."""
    import mlflow
    from mlflow.models import infer_signature

    from ml_assets.modelling import compute_threads

    experiment_id = ensure_experiment(tracking_uri, artifact_root, experiment_name)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    example = input_example.reset_index(drop=True)
    with warnings.catch_warnings(), compute_threads():
        # MLflow hints that integer columns cannot hold nulls; the contract's counts are never null.
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        signature = infer_signature(example, trained.pipeline.predict_proba(example)[:, 1])
    with compute_threads(), mlflow.start_run(experiment_id=experiment_id,
                                             run_name="churn_model") as run:
        mlflow.log_params({**params, "threshold": trained.threshold})
        mlflow.log_metrics(metrics)
        mlflow.set_tags(tags)
        # Each hyper-parameter candidate is a child run, so the search is browsable.
        for i, candidate in enumerate(trained.search):
            with mlflow.start_run(experiment_id=experiment_id, run_name=f"candidate-{i}",
                                  nested=True):
                mlflow.log_params({k: v for k, v in candidate.items() if k != "cv_auc"})
                mlflow.log_metric("cv_auc", candidate["cv_auc"])
        info = mlflow.sklearn.log_model(
            trained.pipeline,
            name=MODEL_ARTIFACT,
            signature=signature,
            input_example=example,
            registered_model_name=REGISTERED_MODEL_NAME,
            pyfunc_predict_fn="predict_proba",
            # skops (MLflow's default format) refuses types it has not been told to trust;
            # these are ours or sklearn's own, written by this process.
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            # Stated, not inferred: inference re-imports the model in a subprocess (seconds).
            pip_requirements=_pip_requirements(),
        )
        version = int(info.registered_model_version)
        # The profile names its model version, so a drift report can say what it compared with.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, PROFILE_ARTIFACT)
            with open(path, "w") as fh:
                json.dump({**profile, "model_version": version}, fh)
            mlflow.log_artifact(path)
        run_id = run.info.run_id
    return ModelRef(version=version, run_id=run_id, threshold=trained.threshold)


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in
            ("scikit-learn", "pandas", "numpy", "scipy", "skops", "mlflow")]


def latest_version(tracking_uri: str) -> ModelRef | None:
    """The newest registered version of the churn model, or None."""
    client = _client(tracking_uri)
    versions = client.search_model_versions(
        f"name = '{REGISTERED_MODEL_NAME}'", order_by=["version_number DESC"], max_results=1
    )
    return _ref_from_version(client, versions[0]) if versions else None


def model_version(tracking_uri: str, version: int) -> ModelRef:
    client = _client(tracking_uri)
    return _ref_from_version(client, client.get_model_version(REGISTERED_MODEL_NAME, str(version)))


def alias_version(tracking_uri: str, alias: str = CHAMPION_ALIAS) -> ModelRef | None:
    """The version an alias points at, or None when the alias (or the model) is absent."""
    from mlflow.exceptions import MlflowException

    client = _client(tracking_uri)
    try:
        mv = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, alias)
    except MlflowException:
        return None
    return _ref_from_version(client, mv)


def promote(tracking_uri: str, version: int, tags: dict[str, str]) -> None:
    """Point ``champion`` at a version; the old champion keeps ``previous_champion``."""
    client = _client(tracking_uri)
    current = alias_version(tracking_uri, CHAMPION_ALIAS)
    if current is not None and current.version != version:
        client.set_registered_model_alias(
            REGISTERED_MODEL_NAME, PREVIOUS_CHAMPION_ALIAS, str(current.version)
        )
    for key, value in tags.items():
        client.set_model_version_tag(REGISTERED_MODEL_NAME, str(version), key, value)
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS, str(version))


def rollback(tracking_uri: str) -> tuple[int, int]:
    """Swap ``champion`` and ``previous_champion``; returns (old champion, new champion)."""
    current = alias_version(tracking_uri, CHAMPION_ALIAS)
    previous = alias_version(tracking_uri, PREVIOUS_CHAMPION_ALIAS)
    if current is None or previous is None:
        raise RegistryError(
            f"Nothing to roll back to: {REGISTERED_MODEL_NAME} has no "
            f"{'champion' if current is None else 'previous_champion'} alias in {tracking_uri}."
        )
    client = _client(tracking_uri)
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS, str(previous.version))
    client.set_registered_model_alias(
        REGISTERED_MODEL_NAME, PREVIOUS_CHAMPION_ALIAS, str(current.version)
    )
    client.set_model_version_tag(REGISTERED_MODEL_NAME, str(previous.version), "rolled_back_from",
                                 str(current.version))
    return current.version, previous.version


def log_run_metrics(tracking_uri: str, run_id: str, metrics: dict[str, float]) -> None:
    """Add metrics to an existing run (the evaluation's headline numbers on the model's run)."""
    client = _client(tracking_uri)
    for key, value in metrics.items():
        if value == value:  # skip NaN
            client.log_metric(run_id, key, float(value))


def log_run_artifacts(tracking_uri: str, run_id: str, files: dict[str, bytes],
                      folder: str) -> None:
    """Store small files (plots, JSON) as artifacts of an existing run."""
    client = _client(tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in files.items():
            Path(tmp, name).write_bytes(content)
        client.log_artifacts(run_id, tmp, artifact_path=folder)


def run_metric(tracking_uri: str, run_id: str, key: str) -> float | None:
    """A metric of a run, or None when it was never logged."""
    value = _client(tracking_uri).get_run(run_id).data.metrics.get(key)
    return None if value is None else float(value)


def tag_version(tracking_uri: str, version: int, tags: dict[str, str]) -> None:
    client = _client(tracking_uri)
    for key, value in tags.items():
        client.set_model_version_tag(REGISTERED_MODEL_NAME, str(version), key, value)


def load_pipeline(tracking_uri: str, ref: ModelRef) -> Pipeline:
    """The fitted full pipeline of a registered version."""
    import mlflow.sklearn

    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.sklearn.load_model(ref.uri)


def load_profile(tracking_uri: str, ref: ModelRef) -> dict[str, Any]:
    """The reference profile logged with a model's run."""
    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=ref.run_id, artifact_path=PROFILE_ARTIFACT, dst_path=tmp,
            tracking_uri=tracking_uri,
        )
        with open(path) as fh:
            return json.load(fh)
