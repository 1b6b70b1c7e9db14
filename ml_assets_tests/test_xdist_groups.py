"""`make test` runs on two pytest-xdist workers with `--dist loadgroup`, and tests that share an
expensive session fixture (the small lifecycle of test_ui and test_lineage, the trained project
of test_pipeline) carry an `xdist_group` mark so that one worker builds it once. With pytest
9.2, xdist 3.8 silently stopped honouring the mark (pytest-dev/pytest-xdist#1386): every
fixture was built on both workers and `dagster dev` started three times. This checks, with the
installed pytest and xdist, that grouped tests from two modules share one worker."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # a pytest subprocess with two workers

MODULE = textwrap.dedent(
    """
    import os
    from pathlib import Path

    import pytest

    OUT = Path(__file__).parent / "workers"

    def _record(name):
        OUT.mkdir(exist_ok=True)
        (OUT / name).write_text(os.environ["PYTEST_XDIST_WORKER"])

    {tests}
    """
)


def test_grouped_tests_of_two_modules_run_on_one_worker(tmp_path):
    grouped = '@pytest.mark.xdist_group("shared")\ndef test_{m}_{i}(): _record("g_{m}_{i}")'
    free = 'def test_{m}_free_{i}(): _record("f_{m}_{i}")'
    for m in ("a", "b"):
        tests = "\n\n".join(
            [grouped.format(m=m, i=i) for i in range(3)] + [free.format(m=m, i=i) for i in range(3)]
        )
        (tmp_path / f"test_{m}.py").write_text(MODULE.replace("{tests}", tests))
    command = [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup"]
    command += ["-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    seen = {p.name: p.read_text() for p in (tmp_path / "workers").iterdir()}
    assert len(seen) == 12, json.dumps(seen)
    grouped_workers = {w for name, w in seen.items() if name.startswith("g_")}
    assert len(grouped_workers) == 1, f"xdist_group split over workers: {seen}"
