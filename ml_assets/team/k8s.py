"""CPU and memory of each job's run on Kubernetes (the ``dagster-k8s/config`` run tag).

The K8s run launcher reads this tag when it builds a run's Job; elsewhere it is inert.
Training fits gradient boosting with a hyper-parameter search and holds the training window
in memory, so it asks for more than a day's ingest.
"""

from __future__ import annotations

K8S_CONFIG_TAG = "dagster-k8s/config"

RUN_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "ingest_job": {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    },
    "retrain_job": {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "4", "memory": "8Gi"},
    },
}


def k8s_run_tags(job_name: str) -> dict[str, object]:
    """The run tag giving ``job_name``'s Kubernetes Job its container resources."""
    return {K8S_CONFIG_TAG: {"container_config": {"resources": RUN_RESOURCES[job_name]}}}
