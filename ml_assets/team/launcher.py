"""Dagster's default run launcher, plus the worker health check that run monitoring needs.

Dagster's ``DefaultRunLauncher`` (one process per run on this machine) cannot tell the run
monitoring daemon whether a run's process is still alive, so a run whose process and code
server died together (SIGKILL, OOM killer, a reboot) stays STARTED forever. The K8s run
launcher answers from the Job's status; this one answers from the process table: the run
worker logs its pid ("Executing steps in process (pid: N)") and the launcher checks that this
process still exists and is the one that started then (not a later process with the same pid).
Used by the team profile's instance (config/dagster-team.yaml) on one machine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dagster import DagsterEventType
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher
from dagster._core.storage.dagster_run import DagsterRun

# What the run worker logs when it starts and when it is done: the in-process executor says
# "Executing steps in process (pid: N)" / "Finished steps in process ..."; a worker started
# through the code server's subprocess path says "Started process for run (pid: N)".
STARTED_PREFIXES = ("Executing steps in process", "Started process for run")
EXITED_PREFIXES = ("Finished steps in process", "Process for run exited")
# /proc's start time has clock-tick resolution and the event is logged just after start.
_START_SLACK_S = 5.0


def worker_pid_and_start(instance, run_id: str) -> tuple[int | None, float | None, bool]:
    """(pid, time the worker said it started, whether it said it exited) from the run's log."""
    pid = started = None
    exited = False
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        message = record.user_message or ""
        if message.startswith(STARTED_PREFIXES) and pid is None:
            # The event is reported by the run worker itself, so its pid is the worker's.
            event_pid = record.dagster_event.pid if record.dagster_event else None
            found = re.search(r"pid: (\d+)", message)
            pid = event_pid or (int(found.group(1)) if found else None)
            started = record.timestamp
        elif message.startswith(EXITED_PREFIXES):
            exited = True
    return pid, started, exited


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # Field 22 (starttime, clock ticks after boot); the command name (field 2) may hold spaces.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie: dead, not yet reaped by its parent
        return None
    ticks = int(fields[19])
    boot = next(
        float(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime")
    )
    return boot + ticks / os.sysconf("SC_CLK_TCK")


class MonitoredRunLauncher(DefaultRunLauncher):
    """``DefaultRunLauncher`` whose runs the run monitoring daemon can check."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        pid, started, exited = worker_pid_and_start(self._instance, run.run_id)
        if pid is None or started is None:
            # Not started yet: run monitoring's start timeout covers this case.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "run worker not started yet")
        if exited:
            return CheckRunHealthResult(WorkerStatus.SUCCESS, f"run worker {pid} exited")
        began = process_start_time(pid)
        if began is None or began > started + _START_SLACK_S:
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"the run's process (pid {pid}) is gone without reporting an end: it was "
                "killed or crashed (OOM killer, SIGKILL, machine restart)",
            )
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker {pid} alive")
