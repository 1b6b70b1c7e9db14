"""Real Dagster processes for tests: the daemon and the webserver over a tmp instance.

Each runs in its own session (process group) so a test can stop it, or kill it to simulate
a crash, together with the code server it starts.

Waits on these processes end on progress, not on wall time: ``Progress`` gives up only when
what it watches (the instance's newest event, a log file's size) has not moved for a while,
so a busy machine that runs everything slower never fails a test that is still advancing.
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
import time
import urllib.request
from pathlib import Path

from ml_assets import settings

BIN = Path(sys.executable).parent


# How long nothing may move before a wait gives up. Generous: on a loaded 2-core machine a
# code server can take a minute to load before its first event.
STALL_S = float(os.environ.get("ML_ASSETS_TEST_STALL_SECONDS", "240"))


class Progress:
    """A deadline that moves while something advances.

    ``probe()`` returns any comparable value (an event id, a file size, a tuple of counts);
    ``advancing()`` is False once that value has stayed the same for ``stall_s`` seconds.
    Use it as ``while progress.advancing(): ...; if done: break`` with an ``else`` that fails
    with ``progress.describe(what)``.
    """

    def __init__(self, probe, stall_s: float = STALL_S):
        self.probe, self.stall_s = probe, stall_s
        self.value = probe()
        self.moved_at = self.started = time.monotonic()

    def advancing(self) -> bool:
        value = self.probe()
        now = time.monotonic()
        if value != self.value:
            self.value, self.moved_at = value, now
        return now - self.moved_at < self.stall_s

    def describe(self, what: str) -> str:
        waited = time.monotonic() - self.started
        return (
            f"{what}: nothing moved for {self.stall_s:.0f} s "
            f"(waited {waited:.0f} s in all; last progress value {self.value!r})"
        )


def instance_progress(instance):
    """The newest event id in the instance's event log and the run count: they move whenever
    any run is queued, starts a step, logs or finishes."""
    from dagster import RunsFilter

    return (
        instance.event_log_storage.get_maximum_record_id(),
        instance.get_runs_count(RunsFilter()),
    )


def file_progress(*paths: Path):
    """The sizes of some log files (a process still writing its log is still starting)."""
    return tuple(p.stat().st_size if p.exists() else -1 for p in paths)


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds used so far by the processes of one process group (a process started with
    ``start_new_session``, and the code servers and run workers it started). A group that is
    still computing is not stuck, even when it writes nothing."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...
            total += (int(fields[11]) + int(fields[12])) / tick
    return round(total, 1)


def run(args: list[str], *, stall_s: float = STALL_S, **popen) -> subprocess.CompletedProcess:
    """``subprocess.run(args, capture_output=True, text=True)`` without a wall-time limit: the
    process (and its process group) is killed only when it has used no CPU and written no
    output for ``stall_s`` seconds, so a loaded machine makes it slower, not a failure."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            args, stdout=out, stderr=err, text=True, start_new_session=True, **popen
        )

        def sizes():
            return os.fstat(out.fileno()).st_size, os.fstat(err.fileno()).st_size

        progress = Progress(lambda: (group_cpu_seconds(proc.pid), sizes()), stall_s)
        while True:
            # Returns as soon as the process exits; the progress probe (a scan of /proc)
            # runs once a second, not in a tight loop.
            try:
                proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                pass
            if not progress.advancing():
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                out.seek(0)
                err.seek(0)
                raise AssertionError(
                    progress.describe(f"{Path(args[0]).name} {' '.join(args[1:3])}")
                    + "\n"
                    + out.read()[-2000:]
                    + err.read()[-2000:]
                )
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_instance_home(home: Path) -> Path:
    """A DAGSTER_HOME holding the project's instance settings (config/dagster.yaml)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    return home


def process_env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(
        os.environ,
        DAGSTER_HOME=str(home),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    )
    # Launching a run asks the code server over gRPC, 60 s by default; a code server that is
    # still starting on a loaded machine is not stuck (fresh-clone runs failed on it).
    env.setdefault("DAGSTER_GRPC_TIMEOUT_SECONDS", "600")
    return env


def churn_workspace(home: Path) -> Path:
    """A workspace with only the churn location, named as in ``workspace.yaml``: the daemon
    and the webserver of a test start one code server, not one per dataset (the two locations
    side by side are test_workspace's and test_second_location's subject)."""
    from ml_assets.demo import DEFAULT_LOCATION, location_workspace

    return location_workspace(DEFAULT_LOCATION, home)


def start_daemon(home: Path, env: dict[str, str], log_name: str = "daemon.log"):
    log = open(home / log_name, "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", str(churn_workspace(home))],
        cwd=settings.PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_file = log
    return proc


def start_webserver(home: Path, env: dict[str, str], port: int, stall_s: float = STALL_S):
    """Start dagster-webserver and wait until it answers; gives up when it has neither answered
    nor written to its log for ``stall_s`` seconds."""
    log_path = home / "webserver.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [
            *(str(BIN / "dagster-webserver"), "-w", str(churn_workspace(home))),
            *("-h", "127.0.0.1", "-p", str(port)),
        ],
        cwd=settings.PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_file = log
    progress = Progress(lambda: (file_progress(log_path), group_cpu_seconds(proc.pid)), stall_s)
    while progress.advancing():
        if proc.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited: {log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                return proc
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise RuntimeError(
        progress.describe("dagster-webserver did not answer /server_info")
        + "\n"
        + log_path.read_text(errors="replace")[-3000:]
    )


def stop(proc, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> None:
    """Signal the process group; SIGKILL it if it does not exit in time."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
    log = getattr(proc, "log_file", None)
    if log is not None:
        log.close()


def graphql(port: int, query: str, variables: dict | None = None, timeout_s: float = 30.0):
    """POST a GraphQL query to the webserver; returns (seconds taken, decoded response)."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        payload = json.loads(response.read())
    return time.monotonic() - started, payload
