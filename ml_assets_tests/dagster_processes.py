"""Real Dagster processes for tests: the daemon and the webserver over a tmp instance.

Each runs in its own session (process group) so a test can stop it, or kill it to simulate
a crash, together with the code server it starts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ml_assets import settings

BIN = Path(sys.executable).parent
WORKSPACE = settings.PROJECT_ROOT / "workspace.yaml"


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
    return dict(
        os.environ,
        DAGSTER_HOME=str(home),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    )


def start_daemon(home: Path, env: dict[str, str], log_name: str = "daemon.log"):
    log = open(home / log_name, "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)],
        cwd=settings.PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_file = log
    return proc


def start_webserver(home: Path, env: dict[str, str], port: int, timeout_s: float = 120.0):
    log = open(home / "webserver.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)],
        cwd=settings.PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_file = log
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited: {(home / 'webserver.log').read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise RuntimeError("dagster-webserver did not answer /server_info in time")


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
