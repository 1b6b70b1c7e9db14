"""ML_ASSETS_TEST_CPU_REPORT: every test's CPU, its own and its subprocesses', once per test,
with and without pytest-xdist. The reference figures come from the measured code itself
(``time.process_time`` in the test and in the child), not from the plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ml_assets_tests.cpu_report import summarize

pytestmark = pytest.mark.slow  # pytest subprocesses
PROJECT = Path(__file__).resolve().parents[1]  # where ml_assets_tests is importable from

MODULE = textwrap.dedent(
    """
    import json, subprocess, sys, time
    from pathlib import Path

    OUT = Path(__file__).parent

    CHILD = (
        "import time\\n"
        "end = time.process_time() + 0.6\\n"
        "while time.process_time() < end: pass\\n"
        "print(time.process_time())\\n"
    )

    def test_burns_in_a_child():
        done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True)
        (OUT / "child.json").write_text(done.stdout.strip())

    def test_burns_in_itself():
        start = time.process_time()
        while time.process_time() < start + 0.4:
            pass
        (OUT / "own.json").write_text(json.dumps(time.process_time() - start))

    def test_waits():
        time.sleep(0.3)
    """
)


def _run(tmp_path, *args) -> tuple[dict, str]:
    report = tmp_path / "cpu.jsonl"
    command = [sys.executable, "-m", "pytest", "-q", *args, "-p", "no:cacheprovider"]
    command += ["--rootdir", str(tmp_path), "-p", "ml_assets_tests.cpu_report", str(tmp_path)]
    # The inner pytest gets none of the outer run's PYTEST_ADDOPTS (a plugin named there need
    # not be importable from here); ml_assets_tests goes in front of any PYTHONPATH.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    env["ML_ASSETS_TEST_CPU_REPORT"] = str(report)
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    by_test = {r["test"].split("::")[-1]: r for r in rows}
    assert len(by_test) == len(rows) == 3, rows  # one line per test, none twice
    return by_test, done.stdout


@pytest.mark.parametrize("args", [(), ("-n", "2")], ids=["alone", "xdist"])
def test_cpu_of_each_test_and_of_its_subprocesses(tmp_path, args):
    (tmp_path / "test_burn.py").write_text(MODULE)
    rows, stdout = _run(tmp_path, *args)

    child_cpu = float((tmp_path / "child.json").read_text())
    own_cpu = json.loads((tmp_path / "own.json").read_text())
    child, own = rows["test_burns_in_a_child"], rows["test_burns_in_itself"]
    waits = rows["test_waits"]
    # The child's CPU is counted as the test's subprocesses' (its start-up on top of the loop;
    # 0.01 for the report's rounding to hundredths).
    assert child_cpu - 0.01 <= child["children_cpu_s"] <= child_cpu + 1.0, (child_cpu, child)
    # The test's own loop is counted as pytest's own CPU, and not as a subprocess's.
    assert own_cpu - 0.02 <= own["own_cpu_s"] <= own_cpu + 0.5, (own_cpu, own)
    assert own["children_cpu_s"] < 0.05 and waits["children_cpu_s"] < 0.05, rows
    # Waiting is wall time, not CPU.
    assert waits["wall_s"] >= 0.3 and waits["own_cpu_s"] < 0.2, waits
    # The terminal summary ranks the tests by CPU.
    listed = [line for line in stdout.splitlines() if "test_burn.py::" in line]
    assert "test_burns_in_a_child" in listed[0] and "test_waits" in listed[-1], stdout


def test_summary_totals(tmp_path):
    report = tmp_path / "cpu.jsonl"
    rows = [
        {"test": "a", "worker": "gw0", "wall_s": 3.0, "own_cpu_s": 1.0, "children_cpu_s": 4.0},
        {"test": "b", "worker": "gw1", "wall_s": 2.0, "own_cpu_s": 2.5, "children_cpu_s": 0.0},
    ]
    report.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = summarize(report, shown=1)
    assert "2 tests, 8 CPU-s (4 in pytest, 4 in processes it started)" in lines[0]
    assert len(lines) == 3 and lines[2].split()[:4] == ["5.0", "1.0", "4.0", "3.0"]
    assert lines[2].endswith("  a")
