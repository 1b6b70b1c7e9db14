"""Drift detection against ground truth: false alarms, detection rate, days to detect.

Run from the project root::

    make drift-eval                                     # installs the bench extra, then:
    .venv/bin/python -m bench.drift_eval                # both sizes, Evidently quick, ~5 min CPU
    .venv/bin/python -m bench.drift_eval --sizes 1000   # only 1,000 rows per day
    .venv/bin/python -m bench.drift_eval --evidently full   # Evidently at both sizes, ~30 min
    .venv/bin/python -m bench.drift_eval --evidently off    # without Evidently

Evidently (setup.py extra ``bench``, installed by ``make bench-deps``) is imported from the
project's own virtualenv. It is slow -- about 3 s for a 1,000-row day and about 29 s for a
100,000-row day against a 1M-row reference -- so the default (``--evidently quick``) judges
only the first :attr:`SizePlan.evidently_days_quick` days of each scenario at 1,000 rows/day
(about 2 minutes), which keeps ``make drift-eval`` under 10 minutes. ``--evidently full``
judges :attr:`SizePlan.evidently_days_full` days per scenario at both sizes, including
100,000 rows/day; its table is the one in docs/drift.md. Evidently's days are always the first
replicate's, i.e. the very same days our rule judges there.

What it does
------------
For each size (rows per day) and each *replicate* (an independent generator seed, i.e. an
independent customer base), the reference is the 30 days before day 30 -- the training
window -- (at 100,000 rows/day every third of those days, 1M rows, to keep the run short;
the spread over time is the same) and its profile is built exactly as the training asset
builds it. Scenario days then start at day 30 (the onset): no drift, covariate shifts of
0.02 / 0.1 / 0.2 / 0.5 reference SD in ``monthly_charges`` and in four columns at once
(:data:`MULTI`), 20 % of customers moving to monthly contracts, 20 % extra nulls in
``avg_session_minutes`` and a concept drift (inputs unchanged). Each scenario's days are
generated once and judged by

* **ours**: :func:`ml_assets.drift.compute_drift` with the default :class:`DriftRules`
  (effect floor AND Benjamini-Hochberg-significant, or a data-quality rule), against the
  profile as stored with a model (10,000-value reference sample);
* **naive**: the same per-feature tests (KS; chi-square for categorical and few-valued
  columns) against the *whole* reference, a day flagged when any column has p < 0.05 --
  no correction, no effect floor, no data-quality rules; what KS/chi-square monitors do;
* **Evidently** (optional): the default ``DataDriftPreset`` of Evidently, when importable,
  reference = the same training-window features (all rows, not a sample), current = the day.
  Reported per day both as "any column drifted" and as Evidently's dataset decision (drift
  share >= 0.5), with the days to the first flag of the first replicate's episode.

Why days right after the reference
----------------------------------
The generator's customer base is fixed, so customers age: ``tenure_days`` and
``total_charges`` drift by about 0.8 days per day, i.e. 0.04 reference SD two months after
the reference window and 0.2 SD after eight. That is real drift, and a stale reference
*should* eventually flag it; in production the weekly retrain refreshes the reference. The
no-drift days are therefore the 14 days after the reference (two retrain periods), and the
200+ no-drift days come from independent replicates, not from one long stretch.

Days to detect
--------------
Each replicate of a drift scenario is one episode with onset on day 30. Days to detect is
1 + the index of the first flagged day (1 = flagged on the onset day); an episode without
any flag in its days counts as missed and is left out of the mean (the number of missed
episodes is printed). Episodes come from different replicates, so they are independent.
For scenarios that should not be flagged the same column shows the days to the first
(false) flag.

Results go to ``bench/drift_eval_results.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_assets.drift import DriftRules, build_reference_profile, compute_drift, prepare_profile
from ml_assets.features import (
    CATEGORICAL_FEATURES,
    MODEL_FEATURES,
    NUMERIC_FEATURES,
    build_customer_features,
)
from ml_assets_examples.churn.generator import GeneratorConfig, generate_day

START = dt.date(2025, 1, 1)
ONSET_INDEX = 30  # days 0..29 are the reference (training) window
NAIVE_ALPHA = 0.05
RESULTS = Path(__file__).resolve().parent / "drift_eval_results.json"
MULTI = ("monthly_charges", "support_calls_30d", "logins_30d", "days_since_last_login")


@dataclass(frozen=True)
class Scenario:
    """One scenario family: generator settings and whether input drift should be flagged."""

    name: str
    scenario: str = "none"
    columns: tuple[str, ...] = ()
    magnitude: float = 0.0
    should_flag: bool = True


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("no drift", should_flag=False),
    Scenario("monthly_charges +0.02 SD", "covariate", ("monthly_charges",), 0.02, False),
    Scenario("monthly_charges +0.1 SD", "covariate", ("monthly_charges",), 0.1),
    Scenario("monthly_charges +0.2 SD", "covariate", ("monthly_charges",), 0.2),
    Scenario("monthly_charges +0.5 SD", "covariate", ("monthly_charges",), 0.5),
    Scenario("4 columns +0.02 SD", "covariate", MULTI, 0.02, False),
    Scenario("4 columns +0.1 SD", "covariate", MULTI, 0.1),
    Scenario("4 columns +0.2 SD", "covariate", MULTI, 0.2),
    Scenario("4 columns +0.5 SD", "covariate", MULTI, 0.5),
    Scenario("contract mix: 20% -> monthly", "category_mix", ("contract",), 0.2),
    Scenario("avg_session_minutes +20% nulls", "null_spike", ("avg_session_minutes",), 0.2),
    # Same inputs, changed relation to churn: input drift must NOT be flagged; catching
    # it needs labels (the evaluation report / weekly retrain), not a drift monitor.
    Scenario(
        "concept (calls, charges reversed)",
        "concept",
        ("support_calls_30d", "monthly_charges"),
        1.0,
        False,
    ),
)


@dataclass(frozen=True)
class SizePlan:
    """How many days of what each size generates."""

    rows: int
    replicates: int  # independent seeds; each has its own reference and no-drift days
    reference_days: tuple[int, ...]  # day indices of the reference window used
    calm_days: int  # no-drift days per replicate
    drift_replicates: int  # episodes per drift scenario
    drift_days: int  # days per episode
    evidently_days_quick: int  # days per scenario (first replicate) Evidently judges by default
    evidently_days_full: int  # the same with --evidently full


PLANS = {
    1000: SizePlan(
        1000,
        replicates=15,
        reference_days=tuple(range(30)),
        calm_days=14,
        drift_replicates=10,
        drift_days=8,
        evidently_days_quick=3,
        evidently_days_full=8,
    ),
    100_000: SizePlan(
        100_000,
        replicates=8,
        reference_days=tuple(range(0, 30, 3)),
        calm_days=14,
        drift_replicates=2,
        drift_days=8,
        evidently_days_quick=0,
        evidently_days_full=2,
    ),
}


def day_of(index: int) -> dt.date:
    return START + dt.timedelta(days=index)


def features_of(config: GeneratorConfig, index: int) -> pd.DataFrame:
    frame, _ = generate_day(config, day_of(index))
    return build_customer_features(frame)[MODEL_FEATURES]


# --------------------------------------------------------------------------- Evidently


class Evidently:
    """Evidently's default DataDriftPreset on the same days, when it can be imported."""

    def __init__(self) -> None:
        self.version: str | None = None
        self.error: str | None = None
        # No usage telemetry from a benchmark (Evidently reports through iterative-telemetry).
        os.environ.setdefault("DO_NOT_TRACK", "1")
        try:
            import evidently
            from evidently import DataDefinition, Dataset, Report
            from evidently.presets import DataDriftPreset
        except Exception as exc:  # ImportError, or a broken install
            self.error = f"{type(exc).__name__}: {exc}"
            return
        self.version = evidently.__version__
        self._dataset, self._report, self._preset = Dataset, Report, DataDriftPreset
        self._definition = DataDefinition(
            numerical_columns=NUMERIC_FEATURES, categorical_columns=CATEGORICAL_FEATURES
        )
        self._reference = None

    @property
    def available(self) -> bool:
        return self.version is not None

    def set_reference(self, reference: pd.DataFrame) -> None:
        self._reference = self._dataset.from_pandas(reference, data_definition=self._definition)

    def judge(self, current: pd.DataFrame) -> tuple[bool, bool]:
        """(any column drifted, Evidently's dataset drift) for one day."""
        current_ds = self._dataset.from_pandas(current, data_definition=self._definition)
        snapshot = self._report([self._preset()]).run(current_ds, self._reference)
        any_column, dataset = False, False
        for metric in snapshot.dict()["metrics"]:
            config, value = metric["config"], metric["value"]
            if config.get("type", "").endswith("DriftedColumnsCount"):
                dataset = value["share"] >= config.get("drift_share", 0.5)
            elif config.get("type", "").endswith("ValueDrift"):
                # p-value methods drift below the threshold, distances at or above it.
                if "p_value" in config["method"]:
                    any_column |= value < config["threshold"]
                else:
                    any_column |= value >= config["threshold"]
        return any_column, dataset


# --------------------------------------------------------------------------- evaluation


def naive_flag(report: pd.DataFrame) -> bool:
    """Any column with an unadjusted p-value below 0.05."""
    return bool((report["p_value"] < NAIVE_ALPHA).any())


def run_size(
    plan: SizePlan,
    rules: DriftRules,
    evidently: Evidently | None,
    evidently_days: int,
    seed0: int,
    log,
) -> dict[str, Any]:
    """Every scenario at one size; per-day flags of each detector."""
    flags: dict[str, dict[str, list]] = {
        s.name: {
            "ours": [],
            "naive": [],
            "evidently_any": [],
            "evidently_dataset": [],
            "episodes_ours": [],
            "episodes_naive": [],
            "episodes_evidently_any": [],
            "episodes_evidently_dataset": [],
            "false_alarm_features": [],
            "naive_false_alarm_features": [],
        }
        for s in SCENARIOS
    }
    timing = {"generate": 0.0, "ours": 0.0, "naive": 0.0, "evidently": 0.0, "profile": 0.0}
    full_rules = replace(rules, reference_sample_size=None)
    first_profile: dict[str, Any] | None = None
    for rep in range(plan.replicates):
        seed = seed0 + rep
        base = GeneratorConfig(start=START, rows_per_day=plan.rows, seed=seed)
        t = time.perf_counter()
        reference = pd.concat(
            [features_of(base, i) for i in plan.reference_days], ignore_index=True
        )
        timing["generate"] += time.perf_counter() - t
        t = time.perf_counter()
        stored = build_reference_profile(reference, rules, model_version=1)
        if rep == 0:
            first_profile = stored
        profile = prepare_profile(stored)
        full = prepare_profile(build_reference_profile(reference, full_rules, model_version=1))
        timing["profile"] += time.perf_counter() - t
        use_evidently = (
            evidently is not None and evidently.available and rep == 0 and evidently_days > 0
        )
        if use_evidently:
            evidently.set_reference(reference)
        del reference
        for scenario in SCENARIOS:
            calm = scenario.scenario == "none"
            if not calm and rep >= plan.drift_replicates:
                continue
            config = (
                base
                if calm
                else GeneratorConfig(
                    start=START,
                    rows_per_day=plan.rows,
                    seed=seed,
                    scenario=scenario.scenario,
                    drift_start=day_of(ONSET_INDEX),
                    drift_columns=scenario.columns,
                    drift_magnitude=scenario.magnitude,
                )
            )
            n_days = plan.calm_days if calm else plan.drift_days
            entry = flags[scenario.name]
            first = {"ours": None, "naive": None, "evidently_any": None, "evidently_dataset": None}
            for k in range(n_days):
                index = ONSET_INDEX + k
                t = time.perf_counter()
                current = features_of(config, index)
                timing["generate"] += time.perf_counter() - t
                t = time.perf_counter()
                outcome = compute_drift(current, profile, day_of(index), rules)
                timing["ours"] += time.perf_counter() - t
                t = time.perf_counter()
                naive_report = compute_drift(current, full, day_of(index), rules).report
                naive = naive_flag(naive_report)
                timing["naive"] += time.perf_counter() - t
                if naive and not scenario.should_flag:
                    entry["naive_false_alarm_features"].extend(
                        naive_report.loc[naive_report["p_value"] < NAIVE_ALPHA, "feature"]
                    )
                entry["ours"].append(outcome.dataset_drift)
                entry["naive"].append(naive)
                if outcome.dataset_drift and not scenario.should_flag:
                    entry["false_alarm_features"].extend(outcome.drifted_features)
                for name, flagged in (("ours", outcome.dataset_drift), ("naive", naive)):
                    if flagged and first[name] is None:
                        first[name] = k + 1
                if use_evidently and k < evidently_days:
                    t = time.perf_counter()
                    any_column, dataset = evidently.judge(current)
                    timing["evidently"] += time.perf_counter() - t
                    entry["evidently_any"].append(any_column)
                    entry["evidently_dataset"].append(dataset)
                    for name, flagged in (
                        ("evidently_any", any_column),
                        ("evidently_dataset", dataset),
                    ):
                        if flagged and first[name] is None:
                            first[name] = k + 1
            if not calm:
                entry["episodes_ours"].append(first["ours"])
                entry["episodes_naive"].append(first["naive"])
                if use_evidently:
                    entry["episodes_evidently_any"].append(first["evidently_any"])
                    entry["episodes_evidently_dataset"].append(first["evidently_dataset"])
        log(
            f"  {plan.rows:>7,} rows/day: replicate {rep + 1}/{plan.replicates} done "
            f"({sum(timing.values()):.0f} s so far)"
        )
    return {"flags": flags, "timing": timing, "profile": first_profile}


def summarise(plan: SizePlan, raw: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for scenario in SCENARIOS:
        entry = raw["flags"][scenario.name]
        row: dict[str, Any] = {
            "scenario": scenario.name,
            "should_flag": scenario.should_flag,
            "days": len(entry["ours"]),
        }
        for name in ("ours", "naive"):
            row[f"{name}_rate"] = float(np.mean(entry[name]))
            episodes = entry.get(f"episodes_{name}", [])
            detected = [e for e in episodes if e is not None]
            row[f"{name}_episodes"] = len(episodes)
            row[f"{name}_missed"] = len(episodes) - len(detected)
            row[f"{name}_mean_days_to_detect"] = float(np.mean(detected)) if detected else None
            row[f"{name}_within_2_days"] = (
                sum(e is not None and e <= 2 for e in episodes) / len(episodes)
                if episodes
                else None
            )
        for name in ("evidently_any", "evidently_dataset"):
            row[f"{name}_days"] = len(entry[name])
            row[f"{name}_rate"] = float(np.mean(entry[name])) if entry[name] else None
            episodes = entry[f"episodes_{name}"]
            detected = [e for e in episodes if e is not None]
            row[f"{name}_episodes"] = len(episodes)
            row[f"{name}_missed"] = len(episodes) - len(detected)
            row[f"{name}_mean_days_to_detect"] = float(np.mean(detected)) if detected else None
        if not scenario.should_flag:
            # Which features the false alarms came from: a diagnosis, not a metric.
            for key, name in (
                ("ours_flagged_features", "false_alarm_features"),
                ("naive_flagged_features", "naive_false_alarm_features"),
            ):
                counts = pd.Series(entry[name], dtype=object).value_counts()
                row[key] = {str(k): int(v) for k, v in counts.items()}
        rows.append(row)
    return rows


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:6.1%}"


def fmt_days(row: dict[str, Any], name: str) -> str:
    mean = row[f"{name}_mean_days_to_detect"]
    if not row[f"{name}_episodes"]:
        return "-"
    text = "none" if mean is None else f"{mean:.2f}"
    if row[f"{name}_missed"]:
        text += f" ({row[f'{name}_missed']} missed)"
    return text


def print_table(plan: SizePlan, rows: list[dict[str, Any]], with_evidently: bool) -> None:
    print(
        f"\n{plan.rows:,} rows per day ({plan.replicates} replicates x {plan.calm_days} "
        f"no-drift days; drift: {plan.drift_replicates} episodes x {plan.drift_days} days)"
    )
    head = (
        f"{'scenario':<36} {'flag?':>5} {'days':>5}  {'ours':>6} {'days to detect':>16}"
        f"  {'naive':>6} {'days to detect':>16}"
    )
    if with_evidently:
        head += f"  {'Ev.days':>7} {'Ev. any':>7} {'to detect':>9} {'Ev. set':>7} {'to detect':>9}"
    print(head)
    print("-" * len(head))
    for row in rows:
        line = (
            f"{row['scenario']:<36} {'yes' if row['should_flag'] else 'no':>5} "
            f"{row['days']:>5}  {fmt_rate(row['ours_rate'])} {fmt_days(row, 'ours'):>16}"
            f"  {fmt_rate(row['naive_rate'])} {fmt_days(row, 'naive'):>16}"
        )
        if with_evidently:
            line += (
                f"  {row['evidently_any_days']:>7} {fmt_rate(row['evidently_any_rate']):>7}"
                f" {fmt_days(row, 'evidently_any'):>9}"
                f" {fmt_rate(row['evidently_dataset_rate']):>7}"
                f" {fmt_days(row, 'evidently_dataset'):>9}"
            )
        print(line)
    print(
        "rate = share of days flagged: the false-alarm rate where flag? is no, the "
        "detection rate where it is yes."
    )


def time_million_rows(profile: dict[str, Any], rules: DriftRules, seed: int) -> dict[str, Any]:
    """Seconds compute_drift takes for 1,000,000 rows x 15 features (best of 3).

    The day is ten 100,000-row days of the first replicate stacked together; the profile is
    that replicate's, once as stored (JSON lists, what a single call in the asset gets) and
    once prepared (arrays).
    """
    base = GeneratorConfig(start=START, rows_per_day=100_000, seed=seed)
    current = pd.concat([features_of(base, ONSET_INDEX + k) for k in range(10)], ignore_index=True)
    out: dict[str, Any] = {"rows": len(current), "features": len(MODEL_FEATURES)}
    for name, prof in (("json_profile", profile), ("prepared_profile", prepare_profile(profile))):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            compute_drift(current, prof, day_of(ONSET_INDEX), rules)
            times.append(time.perf_counter() - t)
        out[f"seconds_{name}"] = round(min(times), 3)
    return out


def check_targets(results: dict[int, list[dict[str, Any]]]) -> list[tuple[str, bool, str]]:
    """The issue's targets, each with its verdict and the numbers behind it."""
    checks = []
    by = {size: {r["scenario"]: r for r in rows} for size, rows in results.items()}
    for size, rows in by.items():
        calm = rows["no drift"]
        checks.append(
            (
                f"false alarms <= 1% of no-drift days at {size:,} rows/day",
                calm["ours_rate"] <= 0.01,
                f"{calm['ours_rate']:.2%} of {calm['days']} days",
            )
        )
    if 1000 in by:
        row = by[1000]["monthly_charges +0.2 SD"]
        ok = row["ours_within_2_days"] == 1.0
        checks.append(
            (
                "0.2 SD shift in monthly_charges detected within 2 days at 1,000 rows",
                ok,
                f"{row['ours_within_2_days']:.0%} of {row['ours_episodes']} episodes "
                f"within 2 days, mean {row['ours_mean_days_to_detect']} days",
            )
        )
    if 100_000 in by:
        rows = by[100_000]
        tenth = [r for name, r in rows.items() if "+0.1 SD" in name]
        ok = all(r["ours_rate"] == 1.0 for r in tenth)
        checks.append(
            (
                "every 0.1 SD shift caught at 100,000 rows",
                ok,
                ", ".join(
                    f"{r['scenario']}: {r['ours_rate']:.0%} of {r['days']} days" for r in tenth
                ),
            )
        )
        small = [r for name, r in rows.items() if "+0.02 SD" in name]
        ok = all(r["ours_rate"] <= 0.10 for r in small)
        checks.append(
            (
                "0.02 SD shift flagged on <= 10% of days at 100,000 rows",
                ok,
                ", ".join(
                    f"{r['scenario']}: {r['ours_rate']:.0%} (naive {r['naive_rate']:.0%})"
                    for r in small
                ),
            )
        )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.drift_eval", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sizes", default="1000,100000", help="comma-separated rows per day (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=1000, help="first replicate's seed")
    parser.add_argument(
        "--evidently",
        choices=("quick", "full", "off"),
        default="quick",
        help="Evidently on the first replicate: quick = a few days per scenario "
        "at 1,000 rows/day (default), full = more days and 100,000 "
        "rows/day too (~30 min), off = not at all",
    )
    parser.add_argument(
        "--skip-timing", action="store_true", help="skip timing compute_drift on 1,000,000 rows"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in PLANS]
    if unknown:
        parser.error(f"no plan for rows per day {unknown}; choose from {sorted(PLANS)}")

    began = time.perf_counter()
    rules = DriftRules()
    evidently = None if args.evidently == "off" else Evidently()
    with_evidently = evidently is not None and evidently.available
    if evidently is not None and not evidently.available:
        print(
            f"Evidently not importable ({evidently.error}); skipping it. Install the "
            "optional bench extra with `make bench-deps`."
        )

    def evidently_days(plan: SizePlan) -> int:
        if not with_evidently:
            return 0
        return plan.evidently_days_full if args.evidently == "full" else plan.evidently_days_quick

    def log(text: str) -> None:
        print(text, flush=True)

    results, timings, million = {}, {}, None
    for size in sizes:
        plan = PLANS[size]
        log(f"{size:,} rows per day ...")
        raw = run_size(plan, rules, evidently, evidently_days(plan), args.seed, log)
        results[size] = summarise(plan, raw)
        timings[size] = {k: round(v, 2) for k, v in raw["timing"].items()}
        if size == 100_000 and not args.skip_timing:
            log("timing compute_drift on 1,000,000 rows ...")
            million = time_million_rows(raw["profile"], rules, args.seed)
    wall = time.perf_counter() - began

    for size in sizes:
        print_table(PLANS[size], results[size], with_evidently)
    print(
        f"\nours  = effect floor (Wasserstein >= {rules.min_shift_sd} SD, JS distance >= "
        f"{rules.min_js_distance}) AND Benjamini-Hochberg p_adj <= {rules.alpha}, or a null "
        "rate / unseen rule; any drifted feature flags the day"
    )
    print(
        "naive = KS / chi-square per column against the whole reference, p < 0.05, any "
        "column, no correction, no effect floor"
    )
    if with_evidently:
        print(
            f"Ev.   = Evidently {evidently.version} DataDriftPreset defaults, first replicate "
            "only: 'any' = any column drifted, 'set' = its dataset decision (share >= 0.5)"
        )
    checks = check_targets(results)
    print("\nTargets (default rules):")
    for text, ok, detail in checks:
        print(f"  [{'PASS' if ok else 'FAIL'}] {text}: {detail}")
    for size in sizes:
        calm = {r["scenario"]: r for r in results[size]}["no drift"]
        print(
            f"features behind false alarms at {size:,} rows/day: ours "
            f"{calm['ours_flagged_features'] or 'none'}; naive {calm['naive_flagged_features']}"
        )
    if million:
        print(
            f"compute_drift on {million['rows']:,} rows x {million['features']} features: "
            f"{million['seconds_prepared_profile']:.2f} s (prepared profile), "
            f"{million['seconds_json_profile']:.2f} s (profile as JSON lists)"
        )
    print(f"\nwall time {wall:.0f} s; seconds per part: {timings}")

    payload = {
        "rules": rules.__dict__,
        "plans": {size: PLANS[size].__dict__ for size in sizes},
        "scenarios": [s.__dict__ for s in SCENARIOS],
        "results": {str(size): rows for size, rows in results.items()},
        "targets": [{"target": t, "met": ok, "detail": d} for t, ok, d in checks],
        "evidently_version": evidently.version if with_evidently else None,
        "evidently_mode": args.evidently if with_evidently else "off",
        "wall_seconds": round(wall, 1),
        "timing_seconds": {str(k): v for k, v in timings.items()},
        "million_rows": million,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.output.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    print(f"results written to {args.output}")
    return 0 if all(ok for _, ok, _ in checks) else 1


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
