"""PreloadedRunLauncher with the real dagster-daemon: runs are forked from the preloaded
process, cancelled through the launcher, and launched through the code server when the
preloaded process cannot be used.

The runs are of a tiny job (``forked_location.record_job``) that writes down its pid, its
parent's command line and a draw from numpy's global generator.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster._core.instance.ref import InstanceRef

from ml_assets import settings
from ml_assets.run_forker import prepare_child
from ml_assets.run_launcher import FORKED, LAUNCHER_TAG, PreloadedRunLauncher
from ml_assets_tests import dagster_processes as procs

pytestmark = pytest.mark.slow

INSTANCE_YAML = """
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
run_launcher:
  module: ml_assets.run_launcher
  class: PreloadedRunLauncher
  config:
    preload_modules: {preload}
telemetry:
  enabled: false
"""
LOCATION = "ml_assets_tests.forked_location"


def _home(tmp_path: Path, preload: list[str]) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML.format(preload=json.dumps(preload)))
    (home / "workspace.yaml").write_text(
        f"load_from:\n  - python_module:\n      module_name: {LOCATION}\n"
        f"      working_directory: {settings.PROJECT_ROOT}\n"
    )
    return home


def _launch(home: Path, env: dict, record: Path, linger_s: float = 0.0) -> str:
    run_id = str(uuid.uuid4())
    config = {"ops": {"record": {"config": {"path": str(record), "linger_s": linger_s}}}}
    launched = procs.run(
        [
            *(str(procs.BIN / "dagster"), "job", "launch", "-m", LOCATION, "-j", "record_job"),
            *("--config-json", json.dumps(config), "--run-id", run_id),
        ],
        cwd=settings.PROJECT_ROOT,
        env=env,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    return run_id


def _wait_for(instance, home: Path, what: str, predicate):
    progress = procs.Progress(
        lambda: (procs.instance_progress(instance), procs.file_progress(home / "daemon.log"))
    )
    while progress.advancing():
        value = predicate()
        if value:
            return value
        procs.time.sleep(0.3)
    pytest.fail(progress.describe(what) + "\n" + (home / "daemon.log").read_text()[-3000:])


def _finished(instance, run_id):
    run = instance.get_run_by_id(run_id)
    return run if run and run.is_finished else None


def _messages(instance, run_id) -> list[str]:
    return [
        record.user_message or (record.dagster_event.message if record.dagster_event else "")
        for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
    ]


@pytest.fixture
def daemon_home(tmp_path, request):
    preload = getattr(request, "param", ["dagster", "numpy"])
    home = _home(tmp_path, preload)
    env = procs.process_env(home)
    # The instance creates its SQLite databases before the daemon starts: two processes that
    # create the same database at once can both run its CREATE TABLE (CI failed on
    # "table alembic_version already exists").
    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    daemon = subprocess.Popen(
        [str(procs.BIN / "dagster-daemon"), "run", "-w", str(home / "workspace.yaml")],
        cwd=settings.PROJECT_ROOT,
        env=env,
        stdout=open(home / "daemon.log", "ab"),  # noqa: SIM115 - closed by procs.stop
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    daemon.log_file = daemon.stdout
    try:
        yield home, env, instance, daemon
    finally:
        procs.stop(daemon)
        instance.dispose()


def test_runs_are_forked_from_the_preloaded_process_and_cancelled_through_it(daemon_home, tmp_path):
    # One daemon for both (each daemon and its code server cost about 10 CPU-seconds).
    home, env, instance, daemon = daemon_home
    records = [tmp_path / "first.json", tmp_path / "second.json"]
    run_ids = [_launch(home, env, path) for path in records]
    for run_id in run_ids:
        run = _wait_for(instance, home, f"run {run_id}", lambda r=run_id: _finished(instance, r))
        assert run.status == DagsterRunStatus.SUCCESS, _messages(instance, run_id)
        assert run.tags[LAUNCHER_TAG] == FORKED
    seen = [json.loads(path.read_text()) for path in records]
    for run_id, info in zip(run_ids, seen, strict=True):
        # The worker is a child of the preloaded process, and it is the process Dagster
        # recorded as the run's worker (what the health check and terminate() use).
        assert "ml_assets.run_forker" in info["parent_cmdline"]
        messages = _messages(instance, run_id)
        assert f"Started process for run (pid: {info['pid']})." in messages
        forked = f"Forked the run worker from the preloaded process (pid: {info['pid']})."
        assert any(m.endswith(forked) for m in messages), messages
    assert seen[0]["pid"] != seen[1]["pid"]
    # Each worker drew its own numbers, not the preloaded process's copied generator state.
    assert seen[0]["draw"] != seen[1]["draw"]
    # The preloaded modules are frozen out of the collector's reach (the worker's collections
    # do not walk them), and the collector itself is on.
    for info in seen:
        assert info["gc_enabled"] and info["gc_frozen"] > 10_000, info

    # A run still going is cancelled through the launcher (as the UI's "Terminate" does).
    record = tmp_path / "lingering.json"
    run_id = _launch(home, env, record, linger_s=600)
    _wait_for(instance, home, "the run's record", record.exists)
    pid = json.loads(record.read_text())["pid"]
    assert instance.run_launcher.terminate(run_id)
    run = _wait_for(instance, home, f"run {run_id} to end", lambda: _finished(instance, run_id))
    assert run.status == DagsterRunStatus.CANCELED
    _wait_for(instance, home, f"worker {pid} to exit", lambda: not Path(f"/proc/{pid}").exists())
    # Nothing left to cancel.
    assert not instance.run_launcher.terminate(run_id)


@pytest.mark.parametrize(
    "daemon_home", [["dagster", "ml_assets_tests.thread_at_import"]], indirect=True
)
def test_runs_go_through_the_code_server_when_the_preloaded_process_refuses(daemon_home, tmp_path):
    # A preloaded module started a thread: forking that process could copy a held lock, so
    # the forker exits, and the runs are launched the default way, saying why. It is tried
    # once, not again for every run.
    home, env, instance, daemon = daemon_home
    records = [tmp_path / "first.json", tmp_path / "second.json"]
    for record in records:
        run_id = _launch(home, env, record)
        run = _wait_for(instance, home, f"run {run_id}", lambda r=run_id: _finished(instance, r))
        assert run.status == DagsterRunStatus.SUCCESS
        assert run.tags[LAUNCHER_TAG] == "code server"
        assert any(
            "Launching through the code server: the preloaded process exited (3)" in m
            for m in _messages(instance, run_id)
        )
        assert "ml_assets.run_forker" not in json.loads(record.read_text())["parent_cmdline"]
    assert (home / "daemon.log").read_text().count("started-at-import") == 1


def test_prepare_child_reseeds_numpy_and_restores_signals():
    # In a forked child, as the forker does before executing a run.
    np.random.seed(1234)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            prepare_child()
            report = {
                "draw": float(np.random.random()),
                "sigterm_default": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
            }
            os.write(write, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        report = json.loads(pipe.read())
    os.waitpid(pid, 0)
    # Without the reseed the child would draw exactly what the parent draws next.
    assert report["draw"] != float(np.random.random())
    assert report["sigterm_default"]


def test_launcher_config_defaults_and_override():
    assert PreloadedRunLauncher.config_type()["preload_modules"].default_value is None
    launcher = PreloadedRunLauncher(preload_modules=["numpy"])
    assert launcher._forker.preload == ["numpy"]
    launcher.dispose()


def test_same_environment_compares_the_bin_folder_not_the_base_interpreter(tmp_path):
    from ml_assets.run_launcher import _same_environment

    venv_a, venv_b = tmp_path / "a" / "bin", tmp_path / "b" / "bin"
    for folder in (venv_a, venv_b):
        folder.mkdir(parents=True)
        for name in ("python", "python3"):
            (folder / name).symlink_to(sys.executable)
    assert _same_environment(str(venv_a / "python"), str(venv_a / "python3"))
    # Both link to the same interpreter, but their packages differ.
    assert not _same_environment(str(venv_a / "python"), str(venv_b / "python"))


@pytest.fixture
def short_tempdir(monkeypatch):
    """A fresh folder as tempfile's default (short: a socket path has at most 107 bytes)."""
    folder = tempfile.mkdtemp(prefix="swp-")
    monkeypatch.setattr(tempfile, "tempdir", folder)
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_sigkilled_forkers_folder_is_swept_and_live_ones_are_kept(short_tempdir):
    from ml_assets.run_launcher import _Forker, sweep_stale_dirs

    killed = _Forker([])
    killed.ensure()
    killed_dir = killed.dir
    assert (Path(killed_dir) / "forker.pid").read_text() == str(killed.proc.pid)
    killed.proc.kill()  # SIGKILL: the forker cannot remove its folder
    killed.proc.wait()
    assert Path(killed_dir, "forker.sock").exists()

    # The next launcher's start removes it, and keeps what is not provably dead.
    no_pid_file = short_tempdir / "ml-assets-forker-older-version"
    no_pid_file.mkdir()
    live = _Forker([])
    try:
        live.ensure()
        live_dir = live.dir
        assert not Path(killed_dir).exists()
        assert no_pid_file.is_dir() and Path(live.socket_path).exists()
        assert sweep_stale_dirs(str(short_tempdir)) == []
        assert Path(live.socket_path).exists()
    finally:
        live.close()
    assert not Path(live_dir).exists()


def test_a_forker_that_stops_by_itself_leaves_no_folder(short_tempdir):
    from ml_assets.run_launcher import _cpu_seconds, _Forker

    forker = _Forker([])
    forker.ensure()
    folder = Path(forker.dir)
    # Its socket removed (as when the folder is cleaned by someone else): it stops and
    # removes what is left, its pid file included.
    os.unlink(forker.socket_path)
    progress = procs.Progress(lambda: _cpu_seconds(forker.proc.pid))
    while progress.advancing():
        if forker.proc.poll() is not None:
            break
        time.sleep(0.1)
    else:
        pytest.fail(progress.describe("the forker to stop once its socket was removed"))
    assert forker.proc.returncode == 0
    assert not folder.exists()
    forker.dir = None
    forker.close()
