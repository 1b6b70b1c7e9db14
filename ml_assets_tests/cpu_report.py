"""Where the suite's CPU goes, test by test: ``ML_ASSETS_TEST_CPU_REPORT=cpu.jsonl make test``.

For every test (its set-up and tear-down included) one JSON line is appended to the file:
the node id, the wall seconds, the CPU seconds of the pytest process itself and the CPU
seconds of the processes it started and waited for (``RUSAGE_CHILDREN``: a daemon's run
workers count once the daemon and its code server have reaped them, a process left running
does not count). pytest-xdist workers append to the same file. At the end the terminal shows
the totals and the tests that used the most CPU.

On a 2-core machine the suite's wall time is bound by its CPU seconds (docs/performance.md),
so this, not ``--durations``, says which test to make cheaper.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

ENV = "ML_ASSETS_TEST_CPU_REPORT"
SHOWN = 15
_started: dict[str, tuple[float, float, float]] = {}
_config = []


def _records(config) -> bool:
    """Tests are measured where they run: in an xdist worker, or in pytest itself when it runs
    them alone. xdist's controller replays its workers' log hooks; it measures nothing."""
    return _is_xdist_worker(config) or not config.pluginmanager.has_plugin("dsession")


def _report_path() -> Path | None:
    value = os.environ.get(ENV)
    return Path(value) if value else None


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _is_xdist_worker(config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config) -> None:
    _config[:] = [config]
    path = _report_path()
    if path is not None and not _is_xdist_worker(config):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")  # a fresh report per session; the workers start after this


def pytest_runtest_logstart(nodeid, location) -> None:
    if _report_path() is not None and _records(_config[0]):
        _started[nodeid] = (time.monotonic(), *_cpu())


def pytest_runtest_logfinish(nodeid, location) -> None:
    path = _report_path()
    if path is None or nodeid not in _started:
        return
    wall0, own0, children0 = _started.pop(nodeid)
    own1, children1 = _cpu()
    line = json.dumps(
        {
            "test": nodeid,
            "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
            "wall_s": round(time.monotonic() - wall0, 2),
            "own_cpu_s": round(own1 - own0, 2),
            "children_cpu_s": round(children1 - children0, 2),
        }
    )
    # One write of one line to a file opened for appending: lines of several workers do not
    # interleave.
    with path.open("a") as out:
        out.write(line + "\n")


def summarize(path: Path, shown: int = SHOWN) -> list[str]:
    """The report's totals and its ``shown`` most CPU-hungry tests, as terminal lines."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        return [f"CPU report {path}: no test recorded"]
    own = sum(r["own_cpu_s"] for r in rows)
    children = sum(r["children_cpu_s"] for r in rows)
    lines = [
        f"CPU report ({path}): {len(rows)} tests, {own + children:.0f} CPU-s "
        f"({own:.0f} in pytest, {children:.0f} in processes it started)",
        f"{'CPU-s':>8} {'pytest':>8} {'started':>8} {'wall s':>8}  test",
    ]
    rows.sort(key=lambda r: r["own_cpu_s"] + r["children_cpu_s"], reverse=True)
    for r in rows[:shown]:
        total = r["own_cpu_s"] + r["children_cpu_s"]
        lines.append(
            f"{total:8.1f} {r['own_cpu_s']:8.1f} {r['children_cpu_s']:8.1f} "
            f"{r['wall_s']:8.1f}  {r['test']}"
        )
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    path = _report_path()
    if path is None or _is_xdist_worker(config) or not path.exists():
        return
    terminalreporter.write_sep("-", "CPU by test")
    for line in summarize(path):
        terminalreporter.write_line(line)
