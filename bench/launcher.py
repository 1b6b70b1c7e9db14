"""`make bench-launcher`: `ml-assets demo` with Dagster's run launcher and with the project's
``PreloadedRunLauncher``, side by side, alternating, on the committed sample.

Each demo runs in its own data folder and Dagster instance (the sample's landing files are
released into it) and differs only in ``run_launcher`` in its ``dagster.yaml``. Reported per
demo: wall seconds, the CPU-seconds of every process it started (its whole process tree,
sampled from /proc twice a second, including processes that outlive their parents), the CPU
of each run's worker, and the summary's "days scored" split. Writes
``bench/out/launcher.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.data import OUT, ROOT

RESULTS = OUT / "launcher.json"
LAUNCHERS = {
    "dagster": {"module": "dagster", "class": "DefaultRunLauncher"},
    "preloaded": {"module": "ml_assets.run_launcher", "class": "PreloadedRunLauncher"},
}
TICK = os.sysconf("SC_CLK_TCK")


def say(message: str) -> None:
    print(f"[bench-launcher {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _stat(pid: str) -> tuple[int, int, float] | None:
    """(parent pid, start time in ticks, CPU-seconds) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[19]), (int(fields[11]) + int(fields[12])) / TICK


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


class TreeSampler:
    """CPU-seconds of a process and all its descendants, by sampling /proc."""

    def __init__(self, root: int):
        self.members: dict[int, int] = {root: -1}  # pid -> start ticks (-1: not yet seen)
        self.cpu: dict[tuple[int, int], float] = {}
        self.cmd: dict[tuple[int, int], str] = {}

    def sample(self) -> None:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _stat(entry)
                if stat is not None:
                    stats[int(entry)] = stat
        # New members: children of members (repeat until no change, for grandchildren
        # started between two samples).
        changed = True
        while changed:
            changed = False
            for pid, (ppid, start, _) in stats.items():
                if pid not in self.members and ppid in self.members:
                    self.members[pid] = start
                    changed = True
        for pid, (_, start, cpu) in stats.items():
            known = self.members.get(pid)
            if known is None:
                continue
            if known == -1:
                self.members[pid] = known = start
            if known != start:
                continue  # the pid was reused by an unrelated process
            key = (pid, start)
            self.cpu[key] = cpu
            if key not in self.cmd:
                self.cmd[key] = _cmdline(pid)

    def total(self) -> float:
        return sum(self.cpu.values())


def run_demo(launcher: str, work: Path) -> dict:
    data = work / "data"
    home = data / "dagster_home"
    home.mkdir(parents=True)
    import yaml

    instance_settings = yaml.safe_load((ROOT / "config" / "dagster.yaml").read_text())
    instance_settings["run_launcher"] = LAUNCHERS[launcher]
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_settings))
    env = dict(
        os.environ,
        ML_ASSETS_DATA_DIR=str(data),
        DAGSTER_HOME=str(home),
        ML_ASSETS_SENSOR_INTERVAL="2",
        PYTHONDONTWRITEBYTECODE="",
    )
    for name in ("MLFLOW_TRACKING_URI", "ML_ASSETS_DUCKDB_PATH", "ML_ASSETS_MLFLOW_ARTIFACTS"):
        env.pop(name, None)
    summary_file = work / "summary.json"
    cmd = [
        str(Path(sys.executable).parent / "ml-assets"),
        "demo",
        *("--release-from", str(ROOT / "data" / "landing")),
        *("--summary-file", str(summary_file)),
    ]
    with open(work / "demo.log", "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        while proc.poll() is None:
            sampler.sample()
            time.sleep(0.5)
        wall = time.perf_counter() - started
    sampler.sample()
    if proc.returncode != 0:
        raise SystemExit(f"ml-assets demo failed with {launcher}: see {work / 'demo.log'}")
    facts = json.loads(summary_file.read_text())
    workers = [
        round(cpu, 1)
        for key, cpu in sampler.cpu.items()
        if ("multiprocessing" in sampler.cmd[key] or "run_forker" in sampler.cmd[key])
    ]
    return {
        "launcher": launcher,
        "wall_s": round(wall, 1),
        "cpu_s": round(sampler.total(), 1),
        "run_worker_cpu_s": sorted(workers),
        "days_scored_by_model": facts.get("predictions_by_model"),
        "failed_runs": facts.get("failed_runs"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="demos per launcher (default 2)")
    args = parser.parse_args(argv)
    rows = []
    for i in range(args.repeats):
        order = ["dagster", "preloaded"] if i % 2 == 0 else ["preloaded", "dagster"]
        for launcher in order:
            work = Path(tempfile.mkdtemp(prefix=f"bench-launcher-{launcher}-"))
            try:
                say(f"demo {i + 1}/{args.repeats} with the {launcher} launcher ...")
                row = run_demo(launcher, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            say(f"  {row['wall_s']} s, {row['cpu_s']} CPU-s; workers {row['run_worker_cpu_s']}")
            rows.append(row)
    by = {name: [r for r in rows if r["launcher"] == name] for name in LAUNCHERS}
    table = {
        name: {
            "wall_s_median": statistics.median(r["wall_s"] for r in rs),
            "cpu_s_median": statistics.median(r["cpu_s"] for r in rs),
        }
        for name, rs in by.items()
    }
    ratio = {
        key: round(table["preloaded"][key] / table["dagster"][key], 3)
        for key in ("wall_s_median", "cpu_s_median")
    }
    OUT.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": rows, "medians": table, "ratio": ratio}, indent=2))
    print(f"{'launcher':<10} {'wall s (median)':>16} {'CPU-s (median)':>15}")
    for name, t in table.items():
        print(f"{name:<10} {t['wall_s_median']:>16} {t['cpu_s_median']:>15}")
    print(f"preloaded / dagster: wall {ratio['wall_s_median']}, CPU {ratio['cpu_s_median']}")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
