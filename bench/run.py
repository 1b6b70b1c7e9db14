"""`make bench`: the benchmark table, every row measured in this run on the same data.

Sizes: 25,000 customers a day (the generator's no-drift scenario, Parquet landing files);
100,000 rows = 4 days, 1,000,000 = 40 days, 10,000,000 = 400 days. Days are ingested,
scored and drift-checked in runs of 40 days (1,000,000 rows), a bounded backfill, so memory
does not grow with history; training uses the 4 most recent days (100,000 rows, the
``window_days`` of the training set) without the hyper-parameter search, so its cost is the
same at every size. Each lifecycle and each probe runs in its own process; peak memory is
that process's (and its children's) maximum resident set from ``wait4``.

Writes ``bench/results.json`` and prints the table; ``--sizes``/``--skip`` run a part.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.data import OUT, ROOT, ROWS_PER_DAY, START

RESULTS = ROOT / "bench" / "results.json"
PY = sys.executable
SIZES = {"100k": 4, "1M": 40, "10M": 400}
CHUNK_DAYS = 40
WINDOW_DAYS = 4
# Environment a run must not inherit (the Makefile exports the project's DAGSTER_HOME).
PRIVATE_ENV = (
    "DAGSTER_HOME",
    "MLFLOW_TRACKING_URI",
    "ML_ASSETS_DUCKDB_PATH",
    "ML_ASSETS_MLFLOW_ARTIFACTS",
    "ML_ASSETS_DATA_DIR",
)


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- processes


def measure(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> dict:
    """Run a command; wall seconds, peak RSS (MB, from wait4) and its last JSON line."""
    log = log or OUT / "logs" / "probe.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err)
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}; see {log}")
    lines = [ln for ln in stdout.decode().splitlines() if ln.startswith("{")]
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
        **(json.loads(lines[-1]) if lines else {}),
    }


def workspace(name: str, days: int) -> tuple[Path, dict[str, str]]:
    """A fresh data folder and Dagster instance holding the first ``days`` landing files."""
    work = OUT / "work" / name
    shutil.rmtree(work, ignore_errors=True)
    (work / "landing").mkdir(parents=True)
    (work / "dagster_home").mkdir()
    shutil.copyfile(ROOT / "config" / "dagster.yaml", work / "dagster_home" / "dagster.yaml")
    source = OUT / "data" / "landing"
    for i in range(days):
        name_ = f"customers_{(START + dt.timedelta(days=i)).isoformat()}.parquet"
        os.link(source / name_, work / "landing" / name_)  # hard links: the files stay put
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    env.update(
        ML_ASSETS_DATA_DIR=str(work),
        DAGSTER_HOME=str(work / "dagster_home"),
        ML_ASSETS_PARTITIONS_START=START.isoformat(),
        PYTHONUNBUFFERED="1",
    )
    return work, env


# --------------------------------------------------------------------------- pieces


def lifecycle(size: str, mode: str) -> dict:
    days = SIZES[size]
    work, env = workspace(f"{size}_{mode}", days)
    cmd = [
        PY,
        "-m",
        "bench.lifecycle",
        "--mode",
        mode,
        "--start",
        START.isoformat(),
        "--days",
        str(days),
        "--chunk-days",
        str(CHUNK_DAYS),
        "--window-days",
        str(WINDOW_DAYS),
        "--no-search",
    ]
    say(f"lifecycle {size} rows, {mode}: {days} days x {ROWS_PER_DAY:,} rows")
    result = measure(cmd, env, OUT / "logs" / f"lifecycle_{size}_{mode}.log")
    say(f"  {result['wall_s']:.1f} s, peak {result['peak_mb']:.0f} MB")
    return {**result, "rows": days * ROWS_PER_DAY, "work": str(work)}


def single_asset(work: Path, env: dict[str, str], repeats: int) -> dict:
    day = (START + dt.timedelta(days=1)).isoformat()
    dagster_cli = str(Path(PY).parent / "dagster")
    cli, bare = [], []
    for _ in range(repeats):
        cli.append(
            measure(
                [
                    dagster_cli,
                    "asset",
                    "materialize",
                    "-m",
                    "ml_assets.definitions",
                    "--select",
                    "features/customer_features",
                    "--partition",
                    day,
                ],
                env,
            )["wall_s"]
        )
        bare.append(measure([PY, "-m", "bench.probes", "feature-day", day], env)["wall_s"])
    return {
        "dagster_cli_s": statistics.median(cli),
        "bare_s": statistics.median(bare),
        "dagster_cli_all_s": cli,
        "bare_all_s": bare,
        "rows": ROWS_PER_DAY,
    }


def load_time(repeats: int) -> dict:
    runs = [measure([PY, "-m", "bench.probes", "load-time"]) for _ in range(repeats)]
    return {
        "import_dagster_s": statistics.median(r["import_dagster_s"] for r in runs),
        "definitions_above_dagster_s": statistics.median(
            r["definitions_above_dagster_s"] for r in runs
        ),
        "definitions_above_dagster_cpu_s": statistics.median(
            r["definitions_above_dagster_cpu_s"] for r in runs
        ),
        "all_above_dagster_s": [r["definitions_above_dagster_s"] for r in runs],
        "heavy_modules_loaded": runs[0]["heavy_modules_loaded"],
    }


def drift_speed(folder: Path) -> dict:
    out = {}
    for method in ("ours", "scipy", "evidently"):
        say(f"drift of one 1,000,000-row day: {method}")
        try:
            out[method] = measure(
                [PY, "-m", "bench.probes", "drift", method, str(folder)],
                log=OUT / "logs" / f"drift_{method}.log",
            )
        except RuntimeError as exc:  # Evidently is an optional extra
            out[method] = {"error": str(exc)}
        say(f"  {out[method]}")
    return out


# --------------------------------------------------------------------------- table


def table(r: dict) -> list[dict]:
    rows = []

    def add(measure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        rows.append(
            {
                "measure": measure,
                "value": value,
                "target": target,
                "met": "" if ok is None else ("yes" if ok else "NO"),
            }
        )

    life = r["lifecycle"]
    for size in ("100k", "1M"):
        d, b = life.get(f"{size}_dagster"), life.get(f"{size}_bare")
        if d and b:
            ratio = d["wall_s"] / b["wall_s"]
            add(
                f"lifecycle {size} rows: Dagster / bare script",
                f"{d['wall_s']:.1f} s / {b['wall_s']:.1f} s = {ratio:.2f}x; CPU "
                f"{d['cpu_s']:.1f} s / {b['cpu_s']:.1f} s = {d['cpu_s'] / b['cpu_s']:.2f}x; "
                f"peak {d['peak_mb']:.0f} / {b['peak_mb']:.0f} MB",
                "<= 1.3x" if size == "1M" else "",
                ratio <= 1.3 if size == "1M" else None,
            )
    if "10M_dagster" in life and "1M_dagster" in life:
        big, one = life["10M_dagster"], life["1M_dagster"]
        add(
            "lifecycle 10M rows (Dagster): time, peak memory",
            f"{big['wall_s']:.1f} s (CPU {big['cpu_s']:.1f} s), {big['peak_mb']:.0f} MB",
            "<= 8192 MB",
            big["peak_mb"] <= 8192,
        )
        ratio = big["wall_s"] / one["wall_s"]
        add(
            "lifecycle time 10M / 1M rows (Dagster)",
            f"{ratio:.2f} (CPU {big['cpu_s'] / one['cpu_s']:.2f})",
            "<= 11",
            ratio <= 11,
        )
    if "10M_bare" in life:
        add(
            "lifecycle 10M rows (bare): time, peak memory",
            f"{life['10M_bare']['wall_s']:.1f} s, {life['10M_bare']['peak_mb']:.0f} MB",
        )
    if "single_asset" in r:
        s = r["single_asset"]
        add(
            f"one features partition ({s['rows']:,} rows): dagster asset materialize / bare",
            f"{s['dagster_cli_s']:.2f} s / {s['bare_s']:.2f} s = "
            f"{s['dagster_cli_s'] / s['bare_s']:.2f}x",
        )
    if "load_time" in r:
        lt = r["load_time"]
        add(
            "code location load: import ml_assets.definitions above import dagster",
            f"{lt['definitions_above_dagster_s']:.2f} s, CPU "
            f"{lt['definitions_above_dagster_cpu_s']:.2f} s (import dagster "
            f"{lt['import_dagster_s']:.2f} s; mlflow/sklearn/scipy/matplotlib loaded: "
            f"{', '.join(lt['heavy_modules_loaded']) or 'none'})",
            "<= 1 s",
            min(lt["definitions_above_dagster_s"], lt["definitions_above_dagster_cpu_s"]) <= 1,
        )
    if "sensors" in r:
        s = r["sensors"]
        for name in ("landing_sensor", "drift_sensor"):
            tick, first = s[f"{name}_tick_s"], s[f"{name}_first_tick_s"]
            add(
                f"{name} tick, {r['sensor_history_days']} days of history",
                f"{tick * 1000:.0f} ms (first tick, no cursor: {first * 1000:.0f} ms)",
                "< 200 ms",
                max(tick, first) < 0.2,
            )
    if "drift" in r:
        dr = r["drift"]
        ours, sp, ev = dr.get("ours", {}), dr.get("scipy", {}), dr.get("evidently", {})
        for name, m in (("ours", ours), ("scipy/numpy", sp), ("Evidently DataDriftPreset", ev)):
            cpu = f" (CPU {m['cpu_seconds']:.2f} s)" if "cpu_seconds" in m else ""
            value = (
                f"{m['seconds']:.2f} s{cpu}, peak {m['peak_mb']:.0f} MB "
                f"(+{m['peak_above_data_mb']:.0f} MB above the data)"
                if "seconds" in m
                else m.get("error", "not run")[:80]
            )
            add(f"drift, one day of 1,000,000 rows: {name}", value)
        if "seconds" in ours and "seconds" in sp:
            ratio = ours["seconds"] / sp["seconds"]
            add(
                "drift: ours / scipy", f"{ratio:.2f}x{cpu_ratio(ours, sp)}", "<= 1.5x", ratio <= 1.5
            )
        if "seconds" in ours and "seconds" in ev:
            ratio = ev["seconds"] / ours["seconds"]
            add(
                "drift: Evidently / ours",
                f"{ratio:.0f}x{cpu_ratio(ev, ours)}",
                ">= 50x",
                ratio >= 50,
            )
    if "model_quality" in r:
        q = r["model_quality"]
        gap = q["oracle_auc"] - q["champion_auc"]
        add(
            f"champion AUC vs oracle AUC ({q['test_rows']:,} test rows, no drift)",
            f"{q['champion_auc']:.4f} vs {q['oracle_auc']:.4f} (gap {gap:.4f}); oracle "
            f"without the unobserved latent term {q['observed_oracle_auc']:.4f}",
            "gap <= 0.01",
            gap <= 0.01,
        )
    return rows


def cpu_ratio(a: dict, b: dict) -> str:
    if "cpu_seconds" not in a or "cpu_seconds" not in b:
        return ""
    return f" (CPU {a['cpu_seconds'] / b['cpu_seconds']:.2f}x)"


def print_table(rows: list[dict]) -> str:
    head = ["measure", "value", "target", "met"]
    widths = [max(len(h), *(len(str(row[h])) for row in rows)) for h in head]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(str(row[h]).ljust(w) for h, w in zip(head, widths, strict=True)) + " |"
        for row in rows
    ]
    text = "\n".join(lines)
    print(text)
    return text


def save(r: dict, began: float) -> None:
    """Write what has been measured so far (the table is rebuilt after every step)."""
    r["rows"] = table(r)
    r["machine"]["load_now"] = os.getloadavg()
    r["total_s"] = time.perf_counter() - began
    RESULTS.write_text(json.dumps(r, indent=2, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="100k,1M,10M", help="lifecycle sizes (10M runs through Dagster only)"
    )
    parser.add_argument("--skip", default="", help="comma list of: single,load,sensors,drift")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    sizes = [s for s in SIZES if s in args.sizes.split(",")]
    began = time.perf_counter()
    r: dict = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()},
        "settings": {
            "rows_per_day": ROWS_PER_DAY,
            "sizes_days": SIZES,
            "chunk_days": CHUNK_DAYS,
            "window_days": WINDOW_DAYS,
            "search": False,
            "landing_format": "parquet",
        },
        "lifecycle": {},
    }
    # Cheap rows first; results.json is rewritten after every step.
    if "load" not in skip:
        say("code location load time")
        r["load_time"] = load_time(repeats=5)
        save(r, began)
    if "drift" not in skip:
        say("drift data: one day of 1,000,000 rows and a 100,000-row reference")
        r["drift"] = drift_speed(Path(measure([PY, "-m", "bench.data", "drift"])["folder"]))
        save(r, began)
    days_needed = max(SIZES[s] for s in sizes) if sizes else 0
    if days_needed:
        say(f"landing data: {days_needed} days x {ROWS_PER_DAY:,} rows (cached)")
        r["data"] = measure([PY, "-m", "bench.data", "landing", str(days_needed)])
    for size in sizes:
        for mode in ("bare", "dagster") if size != "10M" else ("dagster",):
            r["lifecycle"][f"{size}_{mode}"] = lifecycle(size, mode)
            save(r, began)
        work = Path(r["lifecycle"][f"{size}_dagster"]["work"])
        env = workspace_env(work)
        if size == "1M" or (size == sizes[-1] and "model_quality" not in r):
            r["model_quality"] = measure([PY, "-m", "bench.data", "quality", str(work)])
        if "single" not in skip and (
            size == "1M" or (size == sizes[-1] and "single_asset" not in r)
        ):
            say("single-asset latency")
            r["single_asset"] = single_asset(work, env, repeats=3)
        if "sensors" not in skip and size == sizes[-1]:
            say("sensor ticks")
            r["sensors"] = measure([PY, "-m", "bench.probes", "sensor-ticks"], env)
            r["sensor_history_days"] = len(list((work / "landing").iterdir()))
        save(r, began)
    save(r, began)
    print()
    r["table"] = print_table(r["rows"])
    print(
        f"\nmake bench took {r['total_s'] / 60:.1f} min on {os.cpu_count()} CPUs (load "
        f"average at start {r['machine']['load_at_start'][0]:.1f}, at the end "
        f"{r['machine']['load_now'][0]:.1f}); details in {RESULTS.relative_to(ROOT)}"
    )
    RESULTS.write_text(json.dumps(r, indent=2, default=str))
    return 0


def workspace_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    env.update(
        ML_ASSETS_DATA_DIR=str(work),
        DAGSTER_HOME=str(work / "dagster_home"),
        ML_ASSETS_PARTITIONS_START=START.isoformat(),
    )
    return env


if __name__ == "__main__":
    sys.exit(main())
