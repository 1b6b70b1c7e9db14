"""MLflow: logging, registering, promoting and loading the dataset's model.

Plain functions over a tracking URI. ``mlflow`` is imported inside each function: it
takes about two seconds to import and the code location must load fast. The registered
model's name comes from the dataset spec (``<name>_model``); each function takes it as
``model_name`` (None: the active spec's).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from ml_assets.settings import CHAMPION_ALIAS

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
    name: str = field(default_factory=lambda: default_model_name())

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


class RegistryError(RuntimeError):
    """A model registry problem a user can act on."""


# MLflow's own HTTP defaults retry an unreachable server 7 times with backoff factor 2 and a
# 120 s timeout per request: a run would hang for about four minutes before saying anything.
HTTP_ENV = {
    "max_retries": "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "backoff_factor": "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "timeout_s": "MLFLOW_HTTP_REQUEST_TIMEOUT",
}
_UNREACHABLE = (
    "Max retries exceeded",
    "Failed to establish a new connection",
    "Connection refused",
    "Read timed out",
    "Connection aborted",
)
_READ_ONLY = (
    "readonly database",
    "Read-only file system",
    "unable to open database file",
    "Permission denied",
)
_DISK_FULL = ("No space left on device", "database or disk is full")

_F = TypeVar("_F")


def default_model_name() -> str:
    """The registered model's name for the active dataset spec."""
    from ml_assets.dataset import active_spec

    return active_spec().names.model_name


def _name(model_name: str | None) -> str:
    return model_name or default_model_name()


def bound_http_retries(max_retries: int, backoff_factor: int, timeout_s: int) -> None:
    """Bound how long MLflow keeps retrying a tracking server that does not answer.

    Sets MLflow's ``MLFLOW_HTTP_REQUEST_*`` variables for this process; values already in
    the environment win, so an operator can still raise them.
    """
    for key, value in (
        ("max_retries", max_retries),
        ("backoff_factor", backoff_factor),
        ("timeout_s", timeout_s),
    ):
        os.environ.setdefault(HTTP_ENV[key], str(int(value)))


def _chain(exc: BaseException, limit: int = 10) -> list[BaseException]:
    """An exception and its causes, outermost first (bounded: a context may loop)."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < limit:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def _reason(exc: BaseException) -> str:
    """The innermost cause of an exception, on one line, shortened."""
    inner = _chain(exc)[-1]
    text = " ".join(str(inner).split()) or type(inner).__name__
    return text[:240]


def describe_store_failure(tracking_uri: str, exc: BaseException) -> str | None:
    """A one-sentence explanation when ``exc`` means the MLflow store itself failed.

    Covers a server that does not answer, a store that cannot be written (read-only file or
    mount, missing permission) and a full disk; returns None for anything else.
    """
    text = " | ".join(f"{type(e).__name__}: {e}" for e in _chain(exc))
    if any(marker in text for marker in _UNREACHABLE):
        settings_ = ", ".join(
            f"{name}={os.environ.get(name, 'MLflow default')}" for name in HTTP_ENV.values()
        )
        return (
            f"The MLflow tracking server {tracking_uri} did not answer after bounded "
            f"retries ({settings_}): {_reason(exc)}. Start the server or point "
            "MLFLOW_TRACKING_URI at a reachable store, then run again; nothing is "
            "promoted while it is unreachable, so the champion is unchanged."
        )
    if any(marker in text for marker in _DISK_FULL):
        return (
            f"The disk holding the MLflow store {tracking_uri} is full: {_reason(exc)}. "
            "Free space there and run again; the champion is unchanged."
        )
    if any(marker in text for marker in _READ_ONLY):
        return (
            f"The MLflow store {tracking_uri} cannot be written (read-only or no "
            f"permission): {_reason(exc)}. Models can still be loaded from it, but not "
            "logged or promoted; make it writable and run again. The champion is unchanged."
        )
    return None


def _store_errors(func: _F) -> _F:
    """Turn a failure of the MLflow store itself into a RegistryError that says what to do."""

    @functools.wraps(func)
    def wrapper(tracking_uri: str, *args: Any, **kwargs: Any):
        try:
            return func(tracking_uri, *args, **kwargs)
        except RegistryError:
            raise
        except Exception as exc:
            message = describe_store_failure(tracking_uri, exc)
            if message is None:
                raise
            raise RegistryError(message) from exc

    return wrapper


def _client(tracking_uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    _prepare_local_store(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _prepare_local_store(tracking_uri: str) -> None:
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@_store_errors
def ensure_experiment(tracking_uri: str, artifact_root: str, name: str) -> str:
    """The experiment id, creating the experiment with an explicit artifact location.

    An empty ``artifact_root`` (a tracking server) leaves the location to the server, which
    proxies artifacts (``mlflow-artifacts:/``) so every client can load them.
    """
    client = _client(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    if not artifact_root:
        return client.create_experiment(name)
    return client.create_experiment(name, artifact_location=f"{artifact_root.rstrip('/')}/{name}")


def _ref_from_version(client: MlflowClient, mv: Any) -> ModelRef:
    run = client.get_run(mv.run_id)
    threshold = float(run.data.params.get("threshold", "0.5"))
    return ModelRef(version=int(mv.version), run_id=mv.run_id, threshold=threshold, name=mv.name)


@_store_errors
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
    model_name: str | None = None,
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
        # MLflow hints that integer columns cannot hold nulls; non-null int columns never are.
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        signature = infer_signature(example, trained.pipeline.predict_proba(example)[:, 1])
    with (
        compute_threads(),
        mlflow.start_run(experiment_id=experiment_id, run_name=_name(model_name)) as run,
    ):
        mlflow.log_params({**params, "threshold": trained.threshold})
        mlflow.log_metrics(metrics)
        mlflow.set_tags(tags)
        # Each hyper-parameter candidate is a child run, so the search is browsable.
        for i, candidate in enumerate(trained.search):
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=f"candidate-{i}", nested=True
            ):
                mlflow.log_params({k: v for k, v in candidate.items() if k != "cv_auc"})
                mlflow.log_metric("cv_auc", candidate["cv_auc"])
        info = mlflow.sklearn.log_model(
            trained.pipeline,
            name=MODEL_ARTIFACT,
            signature=signature,
            input_example=example,
            registered_model_name=_name(model_name),
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
    return ModelRef(
        version=version, run_id=run_id, threshold=trained.threshold, name=_name(model_name)
    )


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [
        f"{pkg}=={version(pkg)}"
        for pkg in ("scikit-learn", "pandas", "numpy", "scipy", "skops", "mlflow")
    ]


@_store_errors
def latest_version(tracking_uri: str, model_name: str | None = None) -> ModelRef | None:
    """The newest registered version of the model, or None."""
    client = _client(tracking_uri)
    versions = client.search_model_versions(
        f"name = '{_name(model_name)}'", order_by=["version_number DESC"], max_results=1
    )
    return _ref_from_version(client, versions[0]) if versions else None


@_store_errors
def model_version(tracking_uri: str, version: int, model_name: str | None = None) -> ModelRef:
    client = _client(tracking_uri)
    return _ref_from_version(client, client.get_model_version(_name(model_name), str(version)))


@_store_errors
def alias_version(
    tracking_uri: str, alias: str = CHAMPION_ALIAS, model_name: str | None = None
) -> ModelRef | None:
    """The version an alias points at, or None when the alias (or the model) is absent."""
    from mlflow.exceptions import MlflowException

    client = _client(tracking_uri)
    try:
        mv = client.get_model_version_by_alias(_name(model_name), alias)
    except MlflowException as exc:
        # Only "no such model" or "no such alias" mean there is no champion; an unreachable
        # or broken store must fail the step, not look like a project without a model.
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise
    return _ref_from_version(client, mv)


@_store_errors
def promote(
    tracking_uri: str, version: int, tags: dict[str, str], model_name: str | None = None
) -> None:
    """Point ``champion`` at a version; the old champion keeps ``previous_champion``."""
    name = _name(model_name)
    client = _client(tracking_uri)
    current = alias_version(tracking_uri, CHAMPION_ALIAS, name)
    if current is not None and current.version != version:
        client.set_registered_model_alias(name, PREVIOUS_CHAMPION_ALIAS, str(current.version))
    client.set_registered_model_alias(name, CHAMPION_ALIAS, str(version))
    # The decision's tags only once it took effect: a kill before the alias moved must not
    # leave a version tagged "promoted" that never became champion.
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, value)


@_store_errors
def rollback(tracking_uri: str, model_name: str | None = None) -> tuple[int, int]:
    """Swap ``champion`` and ``previous_champion``; returns (old champion, new champion)."""
    name = _name(model_name)
    current = alias_version(tracking_uri, CHAMPION_ALIAS, name)
    previous = alias_version(tracking_uri, PREVIOUS_CHAMPION_ALIAS, name)
    if current is None or previous is None:
        raise RegistryError(
            f"Nothing to roll back to: {name} has no "
            f"{'champion' if current is None else 'previous_champion'} alias in {tracking_uri}."
        )
    client = _client(tracking_uri)
    client.set_registered_model_alias(name, CHAMPION_ALIAS, str(previous.version))
    client.set_registered_model_alias(name, PREVIOUS_CHAMPION_ALIAS, str(current.version))
    client.set_model_version_tag(
        name, str(previous.version), "rolled_back_from", str(current.version)
    )
    return current.version, previous.version


@_store_errors
def log_run_metrics(tracking_uri: str, run_id: str, metrics: dict[str, float]) -> None:
    """Add metrics to an existing run (the evaluation's headline numbers on the model's run)."""
    client = _client(tracking_uri)
    for key, value in metrics.items():
        if value == value:  # skip NaN
            client.log_metric(run_id, key, float(value))


@_store_errors
def log_run_artifacts(tracking_uri: str, run_id: str, files: dict[str, bytes], folder: str) -> None:
    """Store small files (plots, JSON) as artifacts of an existing run."""
    client = _client(tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in files.items():
            Path(tmp, name).write_bytes(content)
        client.log_artifacts(run_id, tmp, artifact_path=folder)


@_store_errors
def run_metric(tracking_uri: str, run_id: str, key: str) -> float | None:
    """A metric of a run, or None when it was never logged."""
    value = _client(tracking_uri).get_run(run_id).data.metrics.get(key)
    return None if value is None else float(value)


@_store_errors
def run_status(tracking_uri: str, run_id: str) -> str:
    """MLflow's status of a run: FINISHED once logging completed, RUNNING if cut off."""
    return _client(tracking_uri).get_run(run_id).info.status


@_store_errors
def tag_version(
    tracking_uri: str, version: int, tags: dict[str, str], model_name: str | None = None
) -> None:
    client = _client(tracking_uri)
    for key, value in tags.items():
        client.set_model_version_tag(_name(model_name), str(version), key, value)


@_store_errors
def load_pipeline(tracking_uri: str, ref: ModelRef) -> Pipeline:
    """The fitted full pipeline of a registered version."""
    import mlflow.sklearn

    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    # Into a private folder: without dst_path MLflow reads a local store in place and writes
    # a metadata file into it, which fails on a read-only store and races between runs.
    with tempfile.TemporaryDirectory() as tmp:
        return mlflow.sklearn.load_model(ref.uri, dst_path=tmp)


@_store_errors
def load_profile(tracking_uri: str, ref: ModelRef) -> dict[str, Any]:
    """The reference profile logged with a model's run."""
    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=ref.run_id,
            artifact_path=PROFILE_ARTIFACT,
            dst_path=tmp,
            tracking_uri=tracking_uri,
        )
        with open(path) as fh:
            return json.load(fh)
