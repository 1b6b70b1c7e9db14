"""The preloaded process that run workers are forked from (see ``ml_assets.run_launcher``).

Started by ``PreloadedRunLauncher`` as ``python -m ml_assets.run_forker --socket PATH
--parent PID --preload mod1,mod2,...``. It imports the listed third-party modules once, then
listens on a Unix socket. Each request names a run; the forker forks, and the child executes
that run exactly as ``dagster api execute_run`` would (the run's code location is imported in
the child, after the fork, so an edited project file is always read afresh). The reply is the
child's pid.

A run worker started by Dagster's code server is a ``spawn``ed interpreter that imports
dagster, MLflow, scikit-learn, scipy and skops again for every run: about 5 of the 7
CPU-seconds of a daily run on a 2-core machine (docs/performance.md). A forked child starts
with them imported.

The forker exits when the process that started it is gone (the daemon was stopped or
killed), when its socket file is removed, or on SIGTERM; run workers it forked are left to
finish, as a code server leaves its runs.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading
import time

# The request and reply are one JSON line each; a request is a few kB (the instance ref).
_MAX_REQUEST = 1 << 20
# The forker's pid, beside its socket: the launcher writes it, so that a later launcher can
# tell the folder of a SIGKILLed forker from a live one (run_launcher.sweep_stale_dirs).
PID_FILE = "forker.pid"


def preload(modules: list[str]) -> list[str]:
    """Import ``modules``; returns the lines describing those that failed (not fatal: a run
    that needs one imports it itself and reports its own error)."""
    problems = []
    # The cyclic collector would walk the growing heap again and again while these modules
    # load (about a fifth of their import time, measured here); the imports make no garbage
    # worth collecting.
    gc.disable()
    try:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:  # a missing optional package must not stop the forker
                problems.append(f"{name}: {type(exc).__name__}: {exc}")
    finally:
        # What is loaded now lives as long as the forker: out of the collector's reach, a
        # worker's full collections do not walk it, nor write to (and so copy) its pages.
        gc.freeze()
        gc.enable()
    return problems


def execute_run(run_id: str, serialized_instance_ref: str) -> int:
    """Execute one run in this process, as ``dagster api execute_run`` does; the exit code."""
    from dagster._cli.api import _execute_run_command_body
    from dagster._core.instance import DagsterInstance
    from dagster._serdes import deserialize_value
    from dagster._utils.interrupts import capture_interrupts

    instance_ref = deserialize_value(serialized_instance_ref)
    with capture_interrupts(), DagsterInstance.from_ref(instance_ref) as instance:
        return _execute_run_command_body(
            run_id, instance, lambda _event: None, set_exit_code_on_failure=False
        )


def prepare_child() -> None:
    """What a forked run worker does first: the signal handlers of a fresh interpreter, and its
    own random state."""
    for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # numpy's global generator was seeded once, in the forker, and every child would draw the
    # same numbers from it: reseed it from the OS, as a fresh interpreter does (``random``
    # reseeds itself after a fork).
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()


def _child(conn: socket.socket, listener: socket.socket, request: dict) -> None:
    """In the forked child: become a plain run worker and execute the run; never returns."""
    code = 1
    try:
        conn.close()
        listener.close()
        prepare_child()
        code = execute_run(request["run_id"], request["instance_ref"])
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            atexit._run_exitfuncs()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)


def _read_request(conn: socket.socket) -> dict:
    data = b""
    conn.settimeout(30)
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > _MAX_REQUEST:
            raise ValueError("request too large")
    return json.loads(data)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(socket_path: str, parent_pid: int) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bound and listening under another name first: the launcher waits for ``socket_path`` to
    # exist, and a connection must not be refused between bind() and listen().
    listener.bind(socket_path + ".new")
    listener.listen(16)
    os.rename(socket_path + ".new", socket_path)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    while not stopping.is_set():
        if os.getppid() != parent_pid or not os.path.exists(socket_path):
            break
        readable, _, _ = select.select([listener], [], [], 1.0)
        _reap()
        if not readable:
            continue
        conn, _ = listener.accept()
        try:
            request = _read_request(conn)
            pid = os.fork()
            if pid == 0:
                _child(conn, listener, request)
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        except Exception as exc:  # a bad request is answered, and the forker goes on
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode() + b"\n")
        finally:
            conn.close()
    listener.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    with contextlib.suppress(FileNotFoundError):  # written by the launcher for its sweep
        os.unlink(os.path.join(os.path.dirname(socket_path), PID_FILE))
    with contextlib.suppress(OSError):  # the launcher's folder, if it is empty now
        os.rmdir(os.path.dirname(socket_path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--preload", default="", help="comma-separated modules to import first")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    modules = [m for m in args.preload.split(",") if m]
    for problem in preload(modules):
        print(f"ml_assets.run_forker: could not preload {problem}", file=sys.stderr, flush=True)
    if threading.active_count() > 1:
        # Forking a process with threads copies only the forking thread; a lock another thread
        # held stays locked in the child. Refuse rather than fork such a process.
        print(
            "ml_assets.run_forker: a preloaded module started a thread "
            f"({[t.name for t in threading.enumerate()]}); not forking runs from this process",
            file=sys.stderr,
            flush=True,
        )
        return 3
    print(
        f"ml_assets.run_forker: {len(modules)} modules preloaded in "
        f"{time.perf_counter() - started:.1f} s (pid {os.getpid()})",
        file=sys.stderr,
        flush=True,
    )
    serve(args.socket, args.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
