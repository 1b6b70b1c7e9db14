"""A throwaway team stack on 127.0.0.1: PostgreSQL, an S3-compatible server and MLflow.

Used by ``make team-up`` / ``make team-down`` (``python -m ml_assets.team.stack up|down``)
and by the team-profile tests, which start their own stack on free ports and stop it.

- PostgreSQL: the machine's own server binaries (Debian's ``postgresql`` package, installed
  with apt-get when missing and allowed), a fresh cluster owned by the ``postgres`` OS user
  (root may not run the server), listening on 127.0.0.1 only, password authentication.
  Three databases: ``dagster`` (instance storage), ``lake`` (DuckLake catalog), ``mlflow``.
- S3: ``moto`` in server mode, with the buckets ``lake`` and ``mlflow``; in-memory, so its
  objects go with it.
- MLflow: ``mlflow server`` on the ``mlflow`` database, ``--serve-artifacts`` (clients send
  artifacts through the server), artifacts in the ``mlflow`` bucket or in a folder.

The password comes from ``ML_ASSETS_TEAM_PASSWORD`` or is generated per stack; it is written
only to ``team.env`` and the stack's state file, both under gitignored paths.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ml_assets import settings

PG_USER = "ml_assets"
DATABASES = ("dagster", "lake", "mlflow")
BUCKETS = ("lake", "mlflow")
# moto accepts any key; these name no account anywhere.
S3_KEY_ID = "ml-assets-local"
S3_SECRET = "ml-assets-local"
S3_REGION = "us-east-1"
STATE_FILE = "stack.json"
# A start that makes no progress for this long is reported (the process is alive but the port
# never opened); a process that exits is reported at once.
START_TIMEOUT_S = 300.0


class StackError(RuntimeError):
    """A server of the team stack could not be started or stopped; the message says why."""


def team_dir() -> Path:
    """Where the stack keeps its state and data (``ML_ASSETS_TEAM_DIR``, default ``.team/``)."""
    value = os.environ.get("ML_ASSETS_TEAM_DIR")
    if not value:
        return settings.PROJECT_ROOT / ".team"
    path = Path(value).expanduser()
    return path if path.is_absolute() else settings.PROJECT_ROOT / path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


# --- PostgreSQL -----------------------------------------------------------------------------


def _pg_bin_from_dpkg() -> Path | None:
    for package in ("postgresql-17", "postgresql-16", "postgresql-15"):
        try:
            out = subprocess.run(
                ["dpkg", "-L", package], capture_output=True, text=True, check=False
            ).stdout
        except FileNotFoundError:
            return None
        for line in out.splitlines():
            if line.endswith("/bin/initdb"):
                return Path(line).parent
    return None


def postgres_bin(install: bool = False) -> Path:
    """The folder holding ``initdb``/``pg_ctl`` (``ML_ASSETS_PG_BIN`` overrides).

    Debian keeps them off PATH; ``dpkg -L`` finds them. With ``install``, a machine without
    them gets Debian's ``postgresql`` package (needs root and the Debian registry).
    """
    override = os.environ.get("ML_ASSETS_PG_BIN")
    if override:
        return Path(override)
    found = _pg_bin_from_dpkg()
    if found is None and install and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "postgresql"],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = _pg_bin_from_dpkg()
    if found is None:
        raise StackError(
            "PostgreSQL server binaries were not found (no postgresql-15/16/17 package); "
            "install them with `apt-get install -y postgresql` or set ML_ASSETS_PG_BIN to the "
            "folder holding initdb and pg_ctl."
        )
    return found


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command as the postgres OS user (the server refuses to run as root)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def _postgres_can_enter(folder: Path) -> bool:
    if os.geteuid() != 0:
        return True
    return _as_postgres(["test", "-w", str(folder)]).returncode == 0


def _pg_data_home(root: Path) -> Path:
    """A folder the postgres user owns for the cluster: under ``root`` when postgres can
    reach it, else a private folder under the system temp dir (recorded in the state)."""
    home = root / "pg"
    home.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    if _postgres_can_enter(home):
        return home
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="ml_assets_pg_"))
    home.chmod(0o700)
    shutil.chown(home, "postgres", "postgres")
    return home


@dataclass
class Postgres:
    bin_dir: str
    home: str
    port: int
    password: str
    host: str = "127.0.0.1"
    user: str = PG_USER

    @property
    def data_dir(self) -> Path:
        return Path(self.home) / "data"

    @property
    def log_file(self) -> Path:
        return Path(self.home) / "server.log"

    def dsn(self, database: str) -> str:
        """A libpq connection string without the password (libpq reads ``PGPASSWORD``)."""
        return f"dbname={database} host={self.host} port={self.port} user={self.user}"

    def url(self, database: str, with_password: bool = False) -> str:
        secret = f":{self.password}" if with_password else ""
        return f"postgresql+psycopg2://{self.user}{secret}@{self.host}:{self.port}/{database}"


def start_postgres(root: Path, password: str, port: int | None = None, install: bool = False):
    """initdb a fresh cluster and start it on 127.0.0.1; create the project's databases."""
    bin_dir = postgres_bin(install=install)
    home = _pg_data_home(root)
    pg = Postgres(bin_dir=str(bin_dir), home=str(home), port=port or free_port(), password=password)
    pwfile = home / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    pwfile.chmod(0o600)
    if not (pg.data_dir / "PG_VERSION").exists():
        done = _as_postgres(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(pg.data_dir),
                "-U",
                pg.user,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "-E",
                "UTF8",
                "--no-instructions",
            ]
        )
        pwfile.unlink()
        if done.returncode != 0:
            raise StackError(f"initdb failed in {pg.data_dir}: {done.stderr.strip()[-800:]}")
    options = (
        f"-c listen_addresses=127.0.0.1 -p {pg.port} -c unix_socket_directories={home} "
        "-c max_connections=200 -c fsync=off -c full_page_writes=off"
    )
    done = _as_postgres(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(pg.data_dir),
            "-l",
            str(pg.log_file),
            "-o",
            options,
            "-w",
            "-t",
            str(int(START_TIMEOUT_S)),
            "start",
        ]
    )
    if done.returncode != 0:
        log = pg.log_file.read_text()[-800:] if pg.log_file.exists() else ""
        raise StackError(
            f"PostgreSQL did not start on 127.0.0.1:{pg.port} ({done.stderr.strip()} {log})"
        )
    create_databases(pg)
    return pg


def create_databases(pg: Postgres) -> None:
    import psycopg2

    from ml_assets.warehouse import check_identifier

    con = psycopg2.connect(
        dbname="postgres", host=pg.host, port=pg.port, user=pg.user, password=pg.password
    )
    con.autocommit = True
    with con.cursor() as cur:
        for name in DATABASES:
            cur.execute("select 1 from pg_database where datname = %s", [name])
            if cur.fetchone() is None:
                cur.execute(f"create database {check_identifier(name)}")
    con.close()


def stop_postgres(pg: Postgres) -> None:
    if not pg.data_dir.exists():
        return
    _as_postgres(
        [str(Path(pg.bin_dir) / "pg_ctl"), "-D", str(pg.data_dir), "-m", "fast", "-w", "stop"]
    )


def kill_postgres(pg: Postgres) -> None:
    """Stop the server the hard way (immediate mode): for fault tests."""
    _as_postgres(
        [str(Path(pg.bin_dir) / "pg_ctl"), "-D", str(pg.data_dir), "-m", "immediate", "stop"]
    )


def restart_postgres(pg: Postgres) -> None:
    options = (
        f"-c listen_addresses=127.0.0.1 -p {pg.port} -c unix_socket_directories={pg.home} "
        "-c max_connections=200 -c fsync=off -c full_page_writes=off"
    )
    done = _as_postgres(
        [
            str(Path(pg.bin_dir) / "pg_ctl"),
            "-D",
            str(pg.data_dir),
            "-l",
            str(pg.log_file),
            "-o",
            options,
            "-w",
            "start",
        ]
    )
    if done.returncode != 0:
        raise StackError(f"PostgreSQL did not restart on 127.0.0.1:{pg.port}: {done.stderr}")


# --- child servers (moto, MLflow) -----------------------------------------------------------


def _venv_bin(name: str) -> str:
    """A console script of this interpreter's environment (the servers are not on PATH)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # its own process group: stopped with all its workers
        )
    return proc.pid


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for_port(name: str, pid: int, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not port_open(port):
        if not _alive(pid):
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise StackError(f"{name} exited before listening on 127.0.0.1:{port}:\n{tail}")
        if time.monotonic() > deadline:
            stop_process(pid)
            raise StackError(
                f"{name} did not open 127.0.0.1:{port} within {START_TIMEOUT_S:g} s; see {log}"
            )
        time.sleep(0.2)


def stop_process(pid: int | None, grace_s: float = 20.0) -> None:
    """SIGTERM the process group of ``pid``, then SIGKILL what is left after ``grace_s``."""
    if not pid:
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def s3_env(endpoint: str) -> dict[str, str]:
    """Environment for clients of the local S3 server (boto3, MLflow, DuckDB via settings)."""
    return {
        "AWS_ACCESS_KEY_ID": S3_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_DEFAULT_REGION": S3_REGION,
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
        "ML_ASSETS_S3_ENDPOINT": endpoint,
    }


def start_s3(root: Path, port: int | None = None) -> tuple[int, int]:
    """``moto_server`` on 127.0.0.1 with the project's buckets; returns (pid, port)."""
    port = port or free_port()
    log = root / "logs" / "s3.log"
    pid = _spawn([_venv_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)], log)
    _wait_for_port("The S3 server (moto)", pid, port, log)
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        region_name=S3_REGION,
    )
    for bucket in BUCKETS:
        client.create_bucket(Bucket=bucket)
    return pid, port


def start_mlflow(
    root: Path, pg: Postgres, artifacts: str, s3_endpoint: str | None, port: int | None = None
) -> tuple[int, int]:
    """``mlflow server`` on PostgreSQL with proxied artifacts; returns (pid, port)."""
    port = port or free_port()
    log = root / "logs" / "mlflow.log"
    env = {
        "PGPASSWORD": pg.password,
        # The job runner (extra worker processes, ~1 GB) is not used by this project.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        **(s3_env(s3_endpoint) if s3_endpoint else {}),
    }
    args = [
        _venv_bin("mlflow"),
        "server",
        "--backend-store-uri",
        pg.url("mlflow"),
        "--serve-artifacts",
        "--artifacts-destination",
        artifacts,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # mlflow starts uvicorn/gunicorn by name: the venv's bin/ must be on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    pid = _spawn(args, log, env)
    _wait_for_port("The MLflow server", pid, port, log)
    return pid, port


# --- the whole stack ------------------------------------------------------------------------


@dataclass
class Stack:
    root: str
    postgres: Postgres
    s3_pid: int | None = None
    s3_port: int | None = None
    mlflow_pid: int | None = None
    mlflow_port: int | None = None
    lake_data_path: str = ""
    mlflow_artifacts: str = ""
    env_file: str = ""
    started_s: dict[str, float] = field(default_factory=dict)

    @property
    def s3_endpoint(self) -> str | None:
        return f"http://127.0.0.1:{self.s3_port}" if self.s3_port else None

    @property
    def mlflow_uri(self) -> str | None:
        return f"http://127.0.0.1:{self.mlflow_port}" if self.mlflow_port else None

    def warehouse_uri(self) -> str:
        return f"ducklake:postgres:{self.postgres.dsn('lake')}"

    def env(self) -> dict[str, str]:
        """The variables a shell (or a test's subprocess) needs to use this stack."""
        pg = self.postgres
        env = {
            "ML_ASSETS_PROFILE": "team",
            "PGPASSWORD": pg.password,
            "ML_ASSETS_PG_HOST": pg.host,
            "ML_ASSETS_PG_PORT": str(pg.port),
            "ML_ASSETS_PG_USER": pg.user,
            "ML_ASSETS_PG_DB": "dagster",
            "ML_ASSETS_WAREHOUSE": self.warehouse_uri(),
            "ML_ASSETS_LAKE_DATA_PATH": self.lake_data_path,
        }
        if self.s3_endpoint:
            env.update(s3_env(self.s3_endpoint))
        if self.mlflow_uri:
            env["MLFLOW_TRACKING_URI"] = self.mlflow_uri
            env["ML_ASSETS_MLFLOW_UI_URL"] = self.mlflow_uri
        return env

    def save(self) -> None:
        path = Path(self.root) / STATE_FILE
        path.write_text(json.dumps(asdict(self), indent=2))
        path.chmod(0o600)

    @classmethod
    def load(cls, root: Path) -> Stack | None:
        path = root / STATE_FILE
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        raw["postgres"] = Postgres(**raw["postgres"])
        return cls(**raw)


def up(
    root: Path,
    password: str | None = None,
    s3: bool = True,
    mlflow: bool = True,
    lake_on_s3: bool = True,
    install: bool = False,
) -> Stack:
    """Start PostgreSQL, then (optionally) the S3 server and MLflow; stop all on failure."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    password = password or os.environ.get("ML_ASSETS_TEAM_PASSWORD") or secrets.token_hex(16)
    t0 = time.monotonic()
    pg = start_postgres(root, password, install=install)
    stack = Stack(root=str(root), postgres=pg, started_s={"postgres": time.monotonic() - t0})
    stack.save()
    try:
        if s3:
            t = time.monotonic()
            stack.s3_pid, stack.s3_port = start_s3(root)
            stack.started_s["s3"] = time.monotonic() - t
            stack.save()
        if lake_on_s3 and s3:
            stack.lake_data_path = "s3://lake/data/"
        else:
            folder = root / "lake"
            folder.mkdir(exist_ok=True)
            stack.lake_data_path = str(folder) + "/"
        if mlflow:
            stack.mlflow_artifacts = "s3://mlflow/artifacts" if s3 else str(root / "mlartifacts")
            t = time.monotonic()
            stack.mlflow_pid, stack.mlflow_port = start_mlflow(
                root, pg, stack.mlflow_artifacts, stack.s3_endpoint
            )
            stack.started_s["mlflow"] = time.monotonic() - t
        stack.save()
    except BaseException:
        down(stack)
        raise
    return stack


def down(stack: Stack) -> None:
    """Stop every server of the stack (each one even if another fails)."""
    errors = []
    for pid in (stack.mlflow_pid, stack.s3_pid):
        try:
            stop_process(pid)
        except OSError as exc:
            errors.append(str(exc))
    try:
        stop_postgres(stack.postgres)
    except OSError as exc:
        errors.append(str(exc))
    # Throwaway: the S3 server kept its objects in memory, so the catalog and the MLflow
    # database that point at them go too (a new `up` makes a new password anyway).
    shutil.rmtree(stack.postgres.home, ignore_errors=True)
    for folder in ("lake", "mlartifacts", "dagster_home"):
        shutil.rmtree(Path(stack.root) / folder, ignore_errors=True)
    state = Path(stack.root) / STATE_FILE
    state.unlink(missing_ok=True)
    if errors:
        raise StackError("Some team servers did not stop cleanly: " + "; ".join(errors))


def write_env_file(stack: Stack, path: Path, extra: dict[str, str]) -> None:
    lines = [
        "# Written by `make team-up` for this machine's throwaway stack; gitignored.",
        "# Use: set -a; . ./team.env; set +a",
    ]
    lines += [f"{k}='{v}'" for k, v in {**stack.env(), **extra}.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml_assets.team.stack")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--env-file", default=str(settings.PROJECT_ROOT / "team.env"))
    parser.add_argument("--dagster-home", default=str(team_dir() / "dagster_home"))
    parser.add_argument("--lake", choices=["s3", "folder"], default="s3")
    args = parser.parse_args(argv)
    root = team_dir()
    current = Stack.load(root)
    if args.command == "status":
        print(json.dumps(asdict(current), indent=2) if current else "no team stack is running")
        return 0
    if args.command == "down":
        if current is None:
            print(f"No team stack recorded in {root}; nothing to stop.")
            return 0
        down(current)
        if current.env_file:
            Path(current.env_file).unlink(missing_ok=True)
        print("Team stack stopped.")
        return 0
    if current is not None:
        print(f"A team stack is already recorded in {root}; `make team-down` first.")
        return 1
    t0 = time.monotonic()
    stack = up(root, lake_on_s3=args.lake == "s3", install=True)
    home = Path(args.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    template = settings.PROJECT_ROOT / "config" / "dagster-team.yaml"
    shutil.copyfile(template, home / "dagster.yaml")
    write_env_file(stack, Path(args.env_file), {"DAGSTER_HOME": str(home)})
    stack.env_file = str(Path(args.env_file).resolve())
    stack.save()
    took = {k: round(v, 1) for k, v in stack.started_s.items()}
    print(
        f"Team stack up in {time.monotonic() - t0:.1f} s ({took}): PostgreSQL 127.0.0.1:"
        f"{stack.postgres.port}, S3 {stack.s3_endpoint}, MLflow {stack.mlflow_uri}. "
        f"Variables in {args.env_file}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
