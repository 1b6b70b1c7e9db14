"""What the Makefile sets up for the commands it runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ml_assets import settings

# Prints whether this Python would skip writing bytecode.
CHECK = "import sys; print(sys.dont_write_bytecode)"
PROBE = f'probe: ; @{sys.executable} -c "{CHECK}"'


@pytest.mark.slow
def test_make_commands_write_bytecode_where_the_environment_forbids_it():
    # The venv is installed without .pyc files (they are written on first import); where the
    # environment sets PYTHONDONTWRITEBYTECODE, as CI images often do, every process would
    # compile dagster, MLflow and scikit-learn from source again.
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    outside = subprocess.run(
        [sys.executable, "-c", CHECK],
        env=env,
        capture_output=True,
        text=True,
    )
    assert outside.stdout.strip() == "True"  # the probe sees the variable when it is set
    inside = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", PROBE, "probe"],
        cwd=settings.PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.strip() == "False", inside.stdout + inside.stderr
