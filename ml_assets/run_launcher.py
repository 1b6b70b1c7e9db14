"""A run launcher for one machine that forks each run worker from a preloaded process.

Dagster's ``DefaultRunLauncher`` asks the code server to start a run, and the code server
``spawn``s a new interpreter for it, which imports dagster, MLflow, scikit-learn, scipy and
skops again: on a 2-core machine about 5 of the 7 CPU-seconds of a daily partition's run
(docs/performance.md). ``PreloadedRunLauncher`` keeps one process per daemon that has imported
those modules once (``ml_assets.run_forker``) and forks each run worker from it. The child
imports the code location itself, after the fork, so edits to the project are read by the next
run as before; a change to the installed packages needs a daemon restart, as it does for the
daemon itself.

Everything else is the default launcher's: the run executes as ``dagster api execute_run``
would execute it, its events, logs and failures are the same, it is cancelled with SIGINT as
the code server's termination thread does, and its worker's health is checked from the pid it
logs (``MonitoredRunLauncher``). When the preloaded process cannot be used (it failed to start,
the job's code location runs on another Python), the run is launched through the code server as
usual, with an engine event that says why.

Configured in ``config/dagster.yaml``::

    run_launcher:
      module: ml_assets.run_launcher
      class: PreloadedRunLauncher
      config:
        preload_modules: [dagster, mlflow.sklearn, ...]   # optional; DEFAULT_PRELOAD
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import Any

from dagster import Array, Field, Noneable
from dagster._core.errors import DagsterLaunchFailedError
from dagster._core.events import EngineEventData
from dagster._core.launcher.base import LaunchRunContext
from dagster._serdes import ConfigurableClassData, serialize_value

from ml_assets.run_forker import PID_FILE
from ml_assets.team.launcher import (
    _START_SLACK_S,
    MonitoredRunLauncher,
    process_start_time,
    worker_pid_and_start,
)

# What a run of this project imports that is worth importing once: the order matters for
# skops, which scans every loaded module for scipy ufuncs when it is imported (cheaper first).
DEFAULT_PRELOAD = (
    "skops.io",
    "dagster",
    "dagster._cli.api",
    "dagster_duckdb_pandas",
    "dagster_pandera",
    "pandera.pandas",
    "duckdb",
    "pandas",
    "pyarrow.parquet",
    "scipy.stats",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "mlflow",
    "mlflow.pyfunc",
    "mlflow.sklearn",
    # The local instance's and MLflow's SQLite stores (SQLAlchemy, alembic): 0.8 s once here
    # instead of about 1 s in every run.
    "dagster._core.storage.runs.sqlite",
    "dagster._core.storage.event_log.sqlite",
    "dagster._core.storage.schedules.sqlite",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
)
# The tag a forked run carries (shown in the UI's run tags): terminate() signals its worker.
LAUNCHER_TAG = "ml_assets/run_worker"
FORKED = "forked"
# How long to wait for the preloaded process without any sign of life (it is alive and using
# CPU while it imports); a wait that advances is not cut short.
_STALL_S = 120.0


def _cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _same_environment(executable: str, ours: str) -> bool:
    """Whether two interpreters are the same Python environment: the same ``bin`` folder (a
    venv's ``python`` and ``python3`` are links to one base interpreter, which other venvs
    link to as well, so the links are not resolved)."""
    return os.path.dirname(os.path.abspath(executable)) == os.path.dirname(os.path.abspath(ours))


DIR_PREFIX = "ml-assets-forker-"


def sweep_stale_dirs(parent: str) -> list[str]:
    """Remove the socket folders of preloaded processes that are gone; returns them.

    A forker removes its folder when it stops, but not when it is SIGKILLed (a daemon killed
    with its process group, a container stopped hard). Only this user's folders whose
    recorded pid no longer exists are removed; a folder without a pid file (another version,
    or a launcher between creating it and writing the file) is left alone.
    """
    removed = []
    try:
        names = [n for n in os.listdir(parent) if n.startswith(DIR_PREFIX)]
    except OSError:
        return removed
    for name in names:
        path = os.path.join(parent, name)
        try:
            if os.lstat(path).st_uid != os.getuid() or not os.path.isdir(path):
                continue
            with open(os.path.join(path, PID_FILE)) as f:
                pid = int(f.read().strip() or "0")
        except (OSError, ValueError):
            continue
        if pid <= 0:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        except OSError:
            pass  # alive under another user, or not ours to judge
    return removed


class ForkerUnavailable(RuntimeError):
    """The preloaded process could not be started or asked; the run goes the default way."""


class ForkerLost(RuntimeError):
    """The preloaded process was asked and did not answer: the run fails to launch."""


class _Forker:
    """The preloaded process of this launcher, started on first use."""

    def __init__(self, preload: list[str]):
        self.preload = preload
        self.proc: subprocess.Popen | None = None
        self.dir: str | None = None
        self.lock = threading.Lock()
        # Why the preloaded process cannot be used at all (it exited before it was ready, e.g.
        # a preloaded module started a thread): every later run goes the default way at once.
        self.refused: str | None = None

    @property
    def socket_path(self) -> str:
        return os.path.join(self.dir or "", "forker.sock")

    def _start(self) -> None:
        sweep_stale_dirs(tempfile.gettempdir())
        self.dir = tempfile.mkdtemp(prefix=DIR_PREFIX)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ml_assets.run_forker",
                *("--socket", self.socket_path),
                *("--parent", str(os.getpid())),
                *("--preload", ",".join(self.preload)),
            ],
            stdin=subprocess.DEVNULL,
        )
        # Whose folder this is, for sweep_stale_dirs (the socket alone cannot tell a dead
        # forker from a live one without connecting to it).
        with open(os.path.join(self.dir, PID_FILE), "w") as f:
            f.write(str(self.proc.pid))

    def _wait_ready(self) -> None:
        last_cpu, last_move = None, time.monotonic()
        while not os.path.exists(self.socket_path):
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise ForkerUnavailable(f"the preloaded process exited ({self.proc.returncode})")
            cpu = _cpu_seconds(self.proc.pid)
            if cpu != last_cpu:
                last_cpu, last_move = cpu, time.monotonic()
            elif time.monotonic() - last_move > _STALL_S:
                raise ForkerUnavailable(f"the preloaded process made no progress in {_STALL_S} s")
            time.sleep(0.1)

    def ensure(self) -> None:
        with self.lock:
            if self.refused:
                raise ForkerUnavailable(self.refused)
            if self.proc is None or self.proc.poll() is not None:
                # Not started yet, or it died after it was ready (then it is started again).
                self.close()
                self._start()
            try:
                self._wait_ready()
            except ForkerUnavailable as exc:
                self.refused = str(exc)
                self.close()
                raise

    def fork_run(self, run_id: str, instance_ref: str) -> int:
        """The pid of the forked run worker. ``ForkerUnavailable`` when the request could not
        be sent (nothing was started); ``ForkerLost`` when it was sent and no answer came (a
        worker may have been started, so the run must not be launched again)."""
        self.ensure()
        request = json.dumps({"run_id": run_id, "instance_ref": instance_ref}).encode() + b"\n"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            try:
                conn.settimeout(30)
                conn.connect(self.socket_path)
                conn.sendall(request)
            except OSError as exc:
                raise ForkerUnavailable(f"could not ask the preloaded process: {exc}") from exc
            # The answer comes within milliseconds; on a starved machine it may take long, so
            # wait as long as the preloaded process lives.
            conn.settimeout(5)
            reply = b""
            while not reply.endswith(b"\n"):
                try:
                    chunk = conn.recv(4096)
                except TimeoutError:
                    if self.proc is not None and self.proc.poll() is None:
                        continue
                    chunk = b""
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                reply += chunk
        answer = json.loads(reply) if reply.endswith(b"\n") else {}
        if "pid" in answer:
            return int(answer["pid"])
        if "error" in answer:  # refused before forking
            raise ForkerUnavailable(answer["error"])
        raise ForkerLost("the preloaded process took the run and gave no answer (it exited)")

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


class PreloadedRunLauncher(MonitoredRunLauncher):
    """Forks each run worker from a process that has imported the heavy modules once."""

    def __init__(
        self, inst_data: ConfigurableClassData | None = None, preload_modules=None
    ) -> None:
        super().__init__(inst_data=inst_data)
        preload = list(DEFAULT_PRELOAD if preload_modules is None else preload_modules)
        self._forker = _Forker(preload)

    @classmethod
    def config_type(cls):
        return {
            "preload_modules": Field(
                Noneable(Array(str)),
                is_required=False,
                default_value=None,
                description="Modules the preloaded process imports (default: DEFAULT_PRELOAD).",
            )
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, preload_modules=config_value.get("preload_modules"))

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        reason = None
        if origin is None:
            reason = "the run has no code origin"
        elif not _same_environment(origin.executable_path, sys.executable):
            reason = f"its code location runs on {origin.executable_path}, not {sys.executable}"
        if reason is None:
            try:
                self._instance.add_run_tags(run.run_id, {LAUNCHER_TAG: FORKED})
                pid = self._forker.fork_run(run.run_id, serialize_value(self._instance.get_ref()))
            except ForkerUnavailable as exc:
                reason = str(exc)
            except ForkerLost as exc:
                raise DagsterLaunchFailedError(
                    f"Run {run.run_id} was handed to the preloaded process, which exited without "
                    "answering; it was not launched again, so that it cannot run twice. "
                    "Re-execute it once the daemon's log shows why the process exited."
                ) from exc
            else:
                self._instance.report_engine_event(
                    f"Forked the run worker from the preloaded process (pid: {pid}).",
                    run,
                    EngineEventData.in_process(pid),
                    cls=self.__class__,
                )
                self._run_ids.add(run.run_id)
                return
            self._instance.add_run_tags(run.run_id, {LAUNCHER_TAG: "code server"})
        self._instance.report_engine_event(
            f"Launching through the code server: {reason}.", run, cls=self.__class__
        )
        super().launch_run(context)

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id) if self.has_instance else None
        if run is None or run.tags.get(LAUNCHER_TAG) != FORKED:
            return super().terminate(run_id)
        if run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        pid, started, exited = worker_pid_and_start(self._instance, run_id)
        if pid is None or started is None or exited:
            return False
        began = process_start_time(pid)
        if began is None or began > started + _START_SLACK_S:
            return False
        # What the code server's termination thread does to a run worker it started.
        os.kill(pid, signal.SIGINT)
        return True

    def dispose(self) -> None:
        self._forker.close()
        super().dispose()


__all__ = ["DEFAULT_PRELOAD", "PreloadedRunLauncher"]
