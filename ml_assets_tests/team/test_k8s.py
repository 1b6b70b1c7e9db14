"""Kubernetes, checked without a cluster: the Job dagster-k8s would create for a run of each
job, and the project's own manifests, validated against the Kubernetes API schema with
kubernetes-validate --strict (unknown fields are errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ml_assets import settings
from ml_assets.definitions import defs
from ml_assets.team.k8s import K8S_CONFIG_TAG, RUN_RESOURCES

pytestmark = pytest.mark.team

DEPLOY = settings.PROJECT_ROOT / "deploy"
K8S_VERSION = "1.33.0"
JOBS = ["ingest_job", "retrain_job"]


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "kubernetes-validate"),
            "--strict",
            "-k",
            K8S_VERSION,
            str(path),
        ],
        capture_output=True,
        text=True,
    )


def run_job_manifest(job_name: str) -> dict:
    """The Job manifest the K8s run launcher builds for a run of ``job_name``, using the
    Helm values' settings (image, config maps, secrets, instance config map)."""
    from dagster_k8s.job import (
        DagsterK8sJobConfig,
        construct_dagster_k8s_job,
        get_job_name_from_run_id,
        get_user_defined_k8s_config,
    )
    from kubernetes.client import ApiClient

    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    deployment = values["dagster-user-deployments"]["deployments"][0]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    config = DagsterK8sJobConfig(
        job_image=image,
        dagster_home=values["global"]["dagsterHome"],
        image_pull_policy=deployment["image"]["pullPolicy"],
        instance_config_map="dagster-instance",
        postgres_password_secret=values["global"]["postgresqlSecretName"],
        env_config_maps=[c["name"] for c in launcher["envConfigMaps"]],
        env_secrets=[s["name"] for s in launcher["envSecrets"]],
    )
    tags = dict(defs.resolve_job_def(job_name).tags)
    run_id = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
    job = construct_dagster_k8s_job(
        config,
        args=["dagster", "api", "execute_run", json.dumps({"run_id": run_id})],
        job_name=get_job_name_from_run_id(run_id),
        user_defined_k8s_config=get_user_defined_k8s_config(tags),
        pod_name=get_job_name_from_run_id(run_id),
        component="run_worker",
        labels={"dagster/job": job_name, "dagster/code-location": deployment["name"]},
    )
    return ApiClient().sanitize_for_serialization(job)


@pytest.mark.parametrize("job_name", JOBS)
def test_run_job_of_each_job_passes_strict_validation(job_name, tmp_path):
    manifest = run_job_manifest(job_name)
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    # The job's tag reached the container, and training asks for more than ingest.
    assert container["resources"] == RUN_RESOURCES[job_name]
    assert {"configMapRef": {"name": "ml-assets-team-env"}} in container["envFrom"]
    path = tmp_path / f"{job_name}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_training_asks_for_more_than_ingest():
    def amount(text: str) -> float:
        units = {"m": 1e-3, "Mi": 2**20, "Gi": 2**30}
        for suffix, factor in units.items():
            if text.endswith(suffix):
                return float(text[: -len(suffix)]) * factor
        return float(text)

    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            ingest = amount(RUN_RESOURCES["ingest_job"][kind][resource])
            retrain = amount(RUN_RESOURCES["retrain_job"][kind][resource])
            assert retrain > ingest, (kind, resource)
    for job_name in JOBS:
        assert K8S_CONFIG_TAG in defs.resolve_job_def(job_name).tags


@pytest.mark.parametrize("manifest", sorted((DEPLOY / "k8s").glob("*.yaml")), ids=lambda p: p.name)
def test_project_manifests_pass_strict_validation(manifest):
    result = validate(manifest)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_manifest_with_an_unknown_field_fails(tmp_path):
    """The check is real: --strict rejects a field the API does not know."""
    bad = yaml.safe_load((DEPLOY / "k8s" / "namespace.yaml").read_text())
    bad["spec"] = {"finalizers": ["kubernetes"], "replicas": 2}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    result = validate(path)
    assert result.returncode != 0
    assert "replicas" in result.stdout + result.stderr


def test_helm_values_match_the_team_instance():
    """The chart's queue, pools and run monitoring say what config/dagster-team.yaml says."""
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    local = yaml.safe_load((settings.PROJECT_ROOT / "config" / "dagster-team.yaml").read_text())
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queue["maxConcurrentRuns"] == local["concurrency"]["runs"]["max_concurrent_runs"]
    assert queue["tagConcurrencyLimits"] == local["concurrency"]["runs"]["tag_concurrency_limits"]
    assert (
        values["concurrency"]["pools"]["defaultLimit"]
        == local["concurrency"]["pools"]["default_limit"]
    )
    assert values["dagsterDaemon"]["runMonitoring"]["enabled"] is True
    assert (
        values["postgresql"]["postgresqlScheme"]
        == (local["storage"]["postgres"]["postgres_db"]["scheme"])
    )
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
