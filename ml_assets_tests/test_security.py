"""Security basics: local binds, SQL built only from bound values and checked names, landing
names and symlinks, models only from the configured registry, no secret in the repository."""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, build_output_context

from ml_assets import landing, smoke, warehouse
from ml_assets.landing import LandingFileError
from ml_assets.registry import ModelRef
from ml_assets.resources import DuckDBWarehouseIOManager, WarehouseResource
from ml_assets.settings import PROJECT_ROOT, REGISTERED_MODEL_NAME

HOSTILE_NAMES = [
    "t; drop table raw.accounts",
    "accounts --",
    'accounts" ; drop table raw.accounts; --',
    "raw.accounts",
    "accounts\nunion select 1",
    "Accounts",
    "",
]
HOSTILE_VALUES = [
    "x' or '1'='1",
    "'; drop table raw.accounts; --",
    "\\'; delete from raw.accounts; --",
    "Robert'); DROP TABLE raw.accounts;--",
]


# --------------------------------------------------------------------------- local binds


def make_dry_run(target: str) -> str:
    """The commands ``make <target>`` would run (prerequisites treated as up to date)."""
    if shutil.which("make") is None:
        pytest.fail("make is needed: the project is driven by its Makefile")
    done = subprocess.run(
        ["make", "-n", "-o", "venv", "-o", "instance", "-o", ".venv/.installed-stamp", target],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("target", ["ui", "mlflow-ui", "serve"])
def test_servers_bind_to_localhost_by_default(target):
    commands = make_dry_run(target)
    hosts = re.findall(r"(?:^|\s)(?:-h|--host)[\s=]+(\S+)", commands)
    assert hosts, f"make {target} names no host: {commands}"
    assert set(hosts) == {"127.0.0.1"}, commands
    assert "0.0.0.0" not in commands


def test_no_wildcard_bind_anywhere_in_the_project_files():
    files = [
        PROJECT_ROOT / "Makefile",
        PROJECT_ROOT / "workspace.yaml",
        *sorted((PROJECT_ROOT / "config").glob("*")),
        *sorted(Path(landing.__file__).parent.rglob("*.py")),
    ]
    offenders = [str(f) for f in files if f.is_file() and "0.0.0.0" in f.read_text()]
    assert offenders == []


# --------------------------------------------------------------------------- SQL

SQL_START = re.compile(r"^\s*(select|insert|delete|update|create|drop|alter|where|with)\b", re.I)
# What an f-string that builds SQL may interpolate: names checked by check_identifier
# (directly, through qualified(), qualified_name() or quoted(), or as a variable computed
# from them); module constants
# (UPPER_CASE, code not input); and table_checks' `where`, which _where() builds from
# placeholders and a checked column name only.
ALLOWED_INTERPOLATIONS = re.compile(
    r"^((warehouse\.)?check_identifier\(.+\)|(warehouse\.)?qualified\(.+\)|target|view"
    r"|(warehouse\.)?quoted\(.+\)|(warehouse\.)?qualified_name\(.+\)"
    r"|select|_date_casts\(frame\)|([a-z_]+\.)?[A-Z][A-Z0-9_]*|where"
    r"|[A-Z][A-Z0-9_]* if [a-z_]+ else [A-Z][A-Z0-9_]*"
    r"|' and' if where else ' where')$"
)


def sql_fstrings() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(Path(warehouse.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.JoinedStr):
                continue
            literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if not SQL_START.match(literal):
                continue
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    found.append((path.name, node.lineno, ast.unparse(value.value)))
    return found


def test_sql_audit_every_interpolation_is_a_checked_identifier():
    found = sql_fstrings()
    assert len(found) >= 8  # the audit does see the warehouse's statements
    bad = [f for f in found if not ALLOWED_INTERPOLATIONS.match(f[2])]
    assert bad == [], f"SQL built from unchecked values: {bad}"


def test_sql_audit_no_string_formatting_into_execute():
    """No ``execute(... % x)`` / ``.format`` / ``+`` concatenation anywhere in the package."""
    bad = []
    for path in sorted(Path(warehouse.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"execute", "query", "sql"}
                and node.args
            ):
                first = node.args[0]
                if isinstance(first, ast.BinOp) or (
                    isinstance(first, ast.Call)
                    and isinstance(first.func, ast.Attribute)
                    and first.func.attr == "format"
                ):
                    bad.append(f"{path.name}:{node.lineno}")
    assert bad == []


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    frame = pd.DataFrame(
        {"customer_id": ["A", "B"], "snapshot_date": pd.Timestamp("2025-01-01"), "note": ["a", "b"]}
    )
    with warehouse.connect(path) as con:
        warehouse.replace_rows(
            con,
            "raw",
            "accounts",
            frame,
            "snapshot_date",
            (dt.date(2025, 1, 1), dt.date(2025, 1, 1)),
        )
    return path


def all_rows(path):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select customer_id, note from raw.accounts order by 1").fetchall()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_identifiers_are_refused_everywhere(db, name):
    frame = pd.DataFrame(
        {"customer_id": ["C"], "snapshot_date": pd.Timestamp("2025-01-02"), "note": ["c"]}
    )
    day = (dt.date(2025, 1, 2), dt.date(2025, 1, 2))
    with warehouse.connect(db) as con:
        for call in (
            lambda: warehouse.replace_rows(con, name, "accounts", frame),
            lambda: warehouse.replace_rows(con, "raw", name, frame),
            lambda: warehouse.replace_rows(con, "raw", "accounts", frame, name, day),
            lambda: warehouse.replace_rows(
                con, "raw", "accounts", frame.rename(columns={"note": name})
            ),
            lambda: warehouse.append_rows(con, "raw", name, frame),
            lambda: warehouse.read_rows(con, "raw", "accounts", columns=[name]),
            lambda: warehouse.read_rows(
                con, "raw", "accounts", partition_column=name, partition_range=day
            ),
            lambda: warehouse.read_rows(con, name, "accounts"),
        ):
            with pytest.raises(warehouse.WarehouseError, match="not a valid"):
                call()
    assert all_rows(db) == [("A", "a"), ("B", "b")]


@pytest.mark.parametrize("name", HOSTILE_NAMES[:3])
def test_io_manager_refuses_hostile_asset_keys_and_partition_columns(db, name):
    manager = DuckDBWarehouseIOManager(database=str(db), lock_timeout_s=5)
    frame = pd.DataFrame(
        {"customer_id": ["C"], "snapshot_date": pd.Timestamp("2025-01-01"), "note": ["c"]}
    )
    context = build_output_context(asset_key=AssetKey(["raw", name]))
    with pytest.raises(warehouse.WarehouseError, match="not a valid"):
        manager.handle_output(context, frame)
    context = build_output_context(asset_key=AssetKey([name, "accounts"]))
    with pytest.raises(warehouse.WarehouseError, match="not a valid"):
        manager.handle_output(context, frame)
    assert all_rows(db) == [("A", "a"), ("B", "b")]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_values_are_bound_not_spliced(db, value):
    resource = WarehouseResource(database=str(db), lock_timeout_s=5)
    found = resource.query("select count(*) as n from raw.accounts where customer_id = ?", [value])
    assert found["n"].tolist() == [0]
    # Stored verbatim as data, read back unchanged, nothing else touched.
    resource.append("raw", "notes", pd.DataFrame({"note": [value]}))
    assert resource.query("select note from raw.notes")["note"].tolist() == [value]
    with warehouse.connect(db) as con:
        warehouse.replace_rows(
            con,
            "raw",
            "accounts",
            pd.DataFrame(
                {
                    "customer_id": [value],
                    "snapshot_date": pd.Timestamp("2025-01-01"),
                    "note": [value],
                }
            ),
            "snapshot_date",
            (dt.date(2025, 1, 1), dt.date(2025, 1, 1)),
        )
    assert all_rows(db) == [(value, value)]


# --------------------------------------------------------------------------- landing names


@pytest.mark.parametrize(
    "name",
    [
        "../customers_2025-01-10.csv",
        "../../etc/passwd",
        "/etc/passwd",
        "customers_2025-01-10.csv/../../secret.csv",
        "sub/customers_2025-01-10.csv",
        "customers_2025-01-10.csv\x00.txt",
        "customers_2025-01-10.csv\n",
        "..",
        "customers_..csv",
    ],
)
def test_landing_names_that_leave_the_folder_are_refused(tmp_path, name):
    with pytest.raises(LandingFileError, match="not a landing file name"):
        landing.landing_path(tmp_path, name)


def test_symlink_out_of_the_landing_folder_is_refused_and_target_untouched(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    secret = tmp_path / "secret.csv"
    secret.write_text("customer_id\nTOP-SECRET\n")
    name = "customers_2025-01-10.csv"
    (folder / name).symlink_to(secret)
    with pytest.raises(LandingFileError, match="outside the landing folder"):
        landing.find_landing_file(folder, dt.date(2025, 1, 10))
    # A link to a file inside the folder is fine.
    inside = folder / "data.bin"
    inside.write_text("x")
    (folder / "customers_2025-01-11.csv").symlink_to(inside)
    assert (
        landing.find_landing_file(folder, dt.date(2025, 1, 11)).path.name
        == "customers_2025-01-11.csv"
    )
    # A symlinked landing folder itself is followed (the folder is what the user configured).
    linked = tmp_path / "linked"
    linked.symlink_to(folder, target_is_directory=True)
    assert landing.find_landing_file(linked, dt.date(2025, 1, 11)).day == dt.date(2025, 1, 11)
    assert secret.read_text() == "customer_id\nTOP-SECRET\n"


# --------------------------------------------------------------------------- models


def test_model_refs_point_into_the_registry():
    ref = ModelRef(version=3, run_id="abc", threshold=0.4)
    assert ref.uri == f"models:/{REGISTERED_MODEL_NAME}/3"


@pytest.mark.parametrize(
    "uri",
    [
        "runs:/0123/model",
        "file:///tmp/model",
        "/tmp/model",
        "models:/other_model/1",
        "models:/churn_model_evil/1",
        "s3://bucket/model",
    ],
)
def test_smoke_loader_refuses_anything_but_the_registered_model(tmp_path, capsys, uri):
    rows = tmp_path / "rows.parquet"
    pd.DataFrame({"x": [1]}).to_parquet(rows)
    code = smoke.main(
        [
            "--tracking-uri",
            f"sqlite:///{tmp_path / 'm.db'}",
            "--model-uri",
            uri,
            "--rows",
            str(rows),
        ]
    )
    assert code == 2
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["ok"] is False and "refusing" in verdict["error"]
    assert not (tmp_path / "m.db").exists()  # it did not even open the store


def test_every_model_load_in_the_package_goes_through_a_registry_uri():
    """Static: the only arguments ever given to an MLflow ``load_model`` are registry URIs."""
    calls = []
    for path in sorted(Path(warehouse.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "load_model"
            ):
                calls.append((path.name, ast.unparse(node.args[0]) if node.args else ""))
    assert calls, "the scan found the loaders"
    assert {arg for _, arg in calls} <= {"ref.uri", "model_uri"}, calls


# --------------------------------------------------------------------------- secrets

SECRET_PATTERNS = {
    "AWS access key": re.compile("AKIA" + r"[0-9A-Z]{16}"),
    "private key": re.compile("-----BEGIN " + r"(RSA |EC |DSA |OPENSSH |PGP )?PRIVATE KEY"),
    "GitHub token": re.compile("gh" + r"[pousr]_[A-Za-z0-9]{30,}"),
    "Slack token": re.compile("xox" + r"[abprs]-[A-Za-z0-9-]{10,}"),
    "API key (sk-)": re.compile(r"\bsk-" + r"[A-Za-z0-9]{32,}"),
    "password in a URL": re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s@'\"]{3,}@"),
    "assigned secret": re.compile(
        r"(?i)\b(password|passwd|secret|api_?key|access_?token|auth_?token)\b\s*[:=]\s*"
        r"['\"][^'\"\s]{8,}['\"]"
    ),
}
NEVER_TRACKED = re.compile(r"(\.duckdb(\.wal)?$|mlflow\.db$|(^|/)\.env$|^dagster_home/|\.pem$)")


def tracked_files() -> list[Path]:
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, timeout=60, check=True
        )
        return [PROJECT_ROOT / p for p in done.stdout.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        # Not a git checkout: every file outside the ignored folders.
        skip = {".git", ".venv", "dagster_home", "__pycache__", ".ruff_cache", ".pytest_cache"}
        return [
            p
            for p in PROJECT_ROOT.rglob("*")
            if p.is_file()
            and not skip.intersection(p.relative_to(PROJECT_ROOT).parts)
            and "mlflow" not in p.relative_to(PROJECT_ROOT).parts
        ]


def test_no_secret_in_tracked_files():
    files = tracked_files()
    assert any(f.name == "Makefile" for f in files)
    hits = []
    for path in files:
        rel = path.relative_to(PROJECT_ROOT).as_posix()
        assert not NEVER_TRACKED.search(rel), f"{rel} must not be in the repository"
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        for kind, pattern in SECRET_PATTERNS.items():
            for match in pattern.finditer(text):
                hits.append(f"{rel}: {kind}: {match.group(0)[:12]}...")
    assert hits == []


def test_secret_scan_would_catch_a_planted_secret():
    """The patterns are live: each finds its own kind in a sample."""
    samples = {
        "AWS access key": "key = " + "AKIA" + "ABCDEFGHIJKLMNOP",
        "private key": "-----BEGIN " + "RSA PRIVATE KEY-----",
        "GitHub token": "gh" + "p_" + "a" * 36,
        "Slack token": "xox" + "b-1234567890-abcdef",
        "API key (sk-)": "sk-" + "A1" * 20,
        "password in a URL": "postgresql://" + "admin:hunter22@db.example.com/x",
        "assigned secret": "api_key = '" + "9f8e7d6c5b4a3f2e" + "'",
    }
    for kind, sample in samples.items():
        assert SECRET_PATTERNS[kind].search(sample), kind
    assert not SECRET_PATTERNS["password in a URL"].search("sqlite:///data/mlflow/mlflow.db")
