"""The tests' wait on a subprocess (dagster_processes.run) ends on progress, not on wall time:
a process that keeps computing or writing is left alone, one that does neither for the stall
time is killed with a message that says so, and a process that exits is seen at once."""

from __future__ import annotations

import sys
import time

import pytest

from ml_assets_tests import dagster_processes as procs

pytestmark = pytest.mark.slow  # each test starts a subprocess


def test_a_quick_process_returns_its_output_and_exit_code():
    started = time.monotonic()
    done = procs.run(
        [
            sys.executable,
            "-c",
            "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)",
        ]
    )
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    # Returned when it exited, not after a stall time.
    assert time.monotonic() - started < procs.STALL_S


def test_a_process_that_keeps_writing_outlives_the_stall_time():
    # Writes every 0.3 s for about 4.5 s: longer than the stall time, never stalled.
    script = "import time\nfor i in range(15):\n    print(i, flush=True)\n    time.sleep(0.3)"
    done = procs.run([sys.executable, "-c", script], stall_s=3.0)
    assert done.returncode == 0
    assert done.stdout.split() == [str(i) for i in range(15)]


def test_a_process_that_does_nothing_is_killed_with_a_clear_message():
    script = "print('started', flush=True); import time; time.sleep(600)"
    started = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        procs.run([sys.executable, "-c", script], stall_s=3.0)
    message = str(failure.value)
    assert "nothing moved for 3 s" in message and "started" in message
    # Killed after the stall time, not after the process's own 600 s.
    assert time.monotonic() - started < 120
