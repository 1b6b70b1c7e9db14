"""MLflow on a tracking server: a model registered by one process loads in another process
that shares nothing with it but the server's URL (no folder, no environment besides it).

Before the fix, every experiment was created with a local ``file://`` artifact location, so
the artifacts landed on the registering client's disk; with the server's default location
(``mlflow-artifacts:/``) they go through the server (``--serve-artifacts``) into S3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.team

REGISTER = textwrap.dedent(
    """
    import json, sys
    import mlflow, numpy as np
    from sklearn.linear_model import LogisticRegression
    from ml_assets import registry, settings
    uri = settings.mlflow_tracking_uri()
    experiment_id = registry.ensure_experiment(uri, settings.mlflow_artifact_root(), "team_test")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 3)); y = (x[:, 0] + rng.normal(size=200) > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    mlflow.set_tracking_uri(uri); mlflow.set_registry_uri(uri)
    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name="team_model",
                                        serialization_format="pickle")
    location = mlflow.MlflowClient(uri).get_experiment(experiment_id).artifact_location
    print(json.dumps({"version": info.registered_model_version, "location": location,
                      "proba": model.predict_proba(x[:5])[:, 1].tolist()}))
    """
)

LOAD = textwrap.dedent(
    """
    import json, sys
    import mlflow, numpy as np
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 3))
    model = mlflow.sklearn.load_model(f"models:/team_model/{sys.argv[1]}")
    print(json.dumps(model.predict_proba(x[:5])[:, 1].tolist()))
    """
)


def _clean_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {**keep, **extra}


def test_a_model_registered_by_one_process_loads_in_another(mlflow_server, team, tmp_path):
    writer_dir, reader_dir = tmp_path / "writer", tmp_path / "reader"
    writer_dir.mkdir()
    reader_dir.mkdir()
    # The writer has only the server URL too: no S3 keys, no artifact folder of its own.
    written = subprocess.run(
        [sys.executable, "-c", REGISTER],
        cwd=writer_dir,
        env=_clean_env(MLFLOW_TRACKING_URI=mlflow_server, ML_ASSETS_DATA_DIR=str(writer_dir)),
        capture_output=True,
        text=True,
    )
    assert written.returncode == 0, written.stderr[-3000:]
    facts = json.loads(written.stdout.strip().splitlines()[-1])
    assert facts["location"].startswith("mlflow-artifacts:"), facts["location"]
    # Nothing of the model stayed on the writer's disk.
    assert not [p for p in writer_dir.rglob("*") if p.is_file()]

    loaded = subprocess.run(
        [sys.executable, "-c", LOAD, str(facts["version"])],
        cwd=reader_dir,
        env=_clean_env(MLFLOW_TRACKING_URI=mlflow_server),
        capture_output=True,
        text=True,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == pytest.approx(facts["proba"])

    # The artifacts are in the server's store: the S3 bucket behind it.
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=team.s3_endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        region_name="us-east-1",
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="mlflow").get("Contents", [])]
    assert any(k.endswith("MLmodel") for k in keys), keys


def test_file_artifact_root_only_without_a_server(monkeypatch, tmp_path):
    from ml_assets import settings

    monkeypatch.delenv("ML_ASSETS_MLFLOW_ARTIFACTS", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    assert settings.mlflow_artifact_root() == ""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/m.db")
    assert settings.mlflow_artifact_root().startswith("file://")
