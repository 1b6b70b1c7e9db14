"""The code location as the contract describes it, and the command line around it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey

from ml_assets.definitions import defs
from ml_assets_tests import dagster_processes as procs
from ml_assets_tests.conftest import day, write_days

BIN = Path(sys.executable).parent
CONTRACT_EDGES = {
    ("raw/customer_snapshots", "features/customer_features"),
    ("features/customer_features", "training/training_set"),
    ("training/training_set", "training/churn_model"),
    ("training/churn_model", "evaluation/evaluation_report"),
    ("evaluation/evaluation_report", "registry/champion_model"),
    ("features/customer_features", "monitoring/drift_report"),
    ("features/customer_features", "scoring/churn_predictions"),
    ("registry/champion_model", "scoring/churn_predictions"),
}
STORED = [
    "raw/customer_snapshots",
    "features/customer_features",
    "training/training_set",
    "evaluation/evaluation_report",
    "scoring/churn_predictions",
    "monitoring/drift_report",
]


def test_asset_graph_matches_the_contract():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {k for edge in CONTRACT_EDGES for k in edge}
    edges = {
        (parent.to_user_string(), key.to_user_string())
        for key in graph.get_all_asset_keys()
        for parent in graph.get(key).parent_keys
    }
    assert edges == CONTRACT_EDGES
    for key in keys:
        node = graph.get(AssetKey.from_user_string(key))
        assert node.group_name == key.split("/")[0]
        assert node.description and len(node.description) > 40
        assert node.owners and node.code_version
    for key in STORED:
        schema = graph.get(AssetKey.from_user_string(key)).metadata["dagster/column_schema"]
        assert len(schema.columns) >= 6


@pytest.mark.slow
def test_code_location_loads_without_heavy_imports():
    code = (
        "import sys, ml_assets.definitions; "
        "print(','.join(m for m in ('mlflow', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _env(project: Path, tmp: Path) -> dict:
    env = dict(os.environ)
    env["DAGSTER_HOME"] = str(tmp / "dagster_home")
    (tmp / "dagster_home").mkdir(exist_ok=True)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.slow
def test_dagster_cli_materializes_one_partition(project, tmp_path):
    write_days(project / "landing", 2, rows=80)
    result = procs.run(
        [
            str(BIN / "dagster"),
            "asset",
            "materialize",
            "-m",
            "ml_assets.definitions",
            "--select",
            "raw/customer_snapshots,features/customer_features",
            "--partition",
            day(1).isoformat(),
        ],
        env=_env(project, tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        days = con.execute(
            "select distinct snapshot_date from features.customer_features"
        ).fetchall()
        count = con.execute("select count(*) from raw.customer_snapshots").fetchone()[0]
    assert [d[0] for d in days] == [day(1)]
    assert count == 80
    # The run is recorded in the instance named by DAGSTER_HOME.
    assert (tmp_path / "dagster_home" / "history" / "runs.db").exists()


@pytest.mark.slow
def test_ml_assets_command_help_and_errors(project, tmp_path):
    cli = str(BIN / "ml-assets")
    listed = subprocess.run([cli], capture_output=True, text=True)
    assert listed.returncode == 2 and "generate" in listed.stdout and "demo" in listed.stdout
    bad = subprocess.run(
        [cli, "generate", "--scenario", "covariate", "--days", "3"],
        capture_output=True,
        text=True,
        env=_env(project, tmp_path),
    )
    assert bad.returncode == 2 and "drift-start" in bad.stderr
    assert not (project / "landing").exists()


def test_each_asset_has_its_own_code_version():
    """A hash of what each asset runs (its module, its steps, the spec), not one for all."""
    from ml_assets.assets.common import code_version
    from ml_assets.definitions import ALL_ASSETS
    from ml_assets.steps import fit_and_register, gate

    versions = {a.key: a.code_versions_by_key[a.key] for a in ALL_ASSETS}
    assert len(versions) == 8 and len(set(versions.values())) == 8
    assert code_version(gate) == code_version(gate) != code_version(fit_and_register)
    assert code_version("spec a") != code_version("spec b")
