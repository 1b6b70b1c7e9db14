"""The promotion gate: does a challenger replace the champion?

Plain functions, so the rule is testable on constructed cases without MLflow or Dagster.
The comparison is paired: both models are scored on the same test rows and the same
bootstrap resamples, so the interval is about the difference itself, not about two noisy
numbers compared by eye.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ml_assets.resampling import bootstrap_weights, weighted_auc


@dataclass(frozen=True)
class GateRules:
    """Absolute floors, the non-inferiority margin and the evidence the gate needs."""

    min_auc: float = 0.70
    max_brier: float = 0.20
    auc_margin: float = 0.01
    confidence: float = 0.95
    segment_alpha: float = 0.05
    min_test_rows: int = 200
    min_test_positives: int = 20
    min_segment_positives: int = 10
    n_resamples: int = 1000
    seed: int = 0


@dataclass
class PairedComparison:
    """Challenger minus champion AUC on the same rows, with a bootstrap interval."""

    difference: float
    ci_low: float  # one-sided lower bound at the rules' confidence
    ci_high: float  # matching upper bound (two-sided interval at 2*confidence - 1)
    p_value: float  # bootstrap p-value of H0: difference <= -margin
    n_rows: int
    n_positives: int


def paired_auc_difference(
    y: np.ndarray, challenger: np.ndarray, champion: np.ndarray, rules: GateRules
) -> PairedComparison:
    """Paired bootstrap of AUC(challenger) - AUC(champion) on the same test rows."""
    y = np.asarray(y).astype(int)
    weights = bootstrap_weights(len(y), rules.n_resamples, rules.seed)
    ones = np.ones((1, len(y)))
    point = float(weighted_auc(y, challenger, ones)[0] - weighted_auc(y, champion, ones)[0])
    diffs = weighted_auc(y, challenger, weights) - weighted_auc(y, champion, weights)
    diffs = diffs[~np.isnan(diffs)]
    alpha = 1 - rules.confidence
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    p_value = float((np.sum(diffs <= -rules.auc_margin) + 1) / (len(diffs) + 1))
    return PairedComparison(point, float(low), float(high), p_value, len(y), int(y.sum()))


def holm_adjust(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment (family-wise error control), in the input order."""
    m = len(p_values)
    order = np.argsort(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()


def segment_comparisons(
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    segments: pd.DataFrame,
    rules: GateRules,
) -> list[dict]:
    """Per segment: is the challenger significantly worse than the champion? (Holm)

    The one-sided bootstrap p-value of H0 "not worse" is the share of resampled
    differences at or above zero. Segments with fewer than ``min_segment_positives``
    positives or negatives cannot be judged and are listed as skipped.
    """
    y = np.asarray(y).astype(int)
    results = []
    for column in segments.columns:
        if column == "overall":
            continue
        for value, index in segments.groupby(column, sort=True).indices.items():
            ys = y[index]
            entry = {
                "segment_column": column,
                "segment_value": str(value),
                "n_rows": len(index),
                "n_positives": int(ys.sum()),
            }
            if min(ys.sum(), len(ys) - ys.sum()) < rules.min_segment_positives:
                entry.update(skipped=True, difference=math.nan, p_value=math.nan)
                results.append(entry)
                continue
            weights = bootstrap_weights(len(index), rules.n_resamples, rules.seed)
            ones = np.ones((1, len(index)))
            diffs = weighted_auc(ys, challenger[index], weights) - weighted_auc(
                ys, champion[index], weights
            )
            diffs = diffs[~np.isnan(diffs)]
            point = (
                weighted_auc(ys, challenger[index], ones)[0]
                - weighted_auc(ys, champion[index], ones)[0]
            )
            entry.update(
                skipped=False,
                difference=float(point),
                p_value=float((np.sum(diffs >= 0) + 1) / (len(diffs) + 1)),
            )
            results.append(entry)
    tested = [r for r in results if not r["skipped"]]
    for r, adj in zip(tested, holm_adjust([r["p_value"] for r in tested]), strict=True):
        r["p_adjusted"] = adj
        r["worse"] = adj <= rules.segment_alpha
    for r in results:
        r.setdefault("p_adjusted", math.nan)
        r.setdefault("worse", False)
    return results


@dataclass
class GateDecision:
    promote: bool
    challenger_version: int
    champion_version: int | None
    reasons: list[str] = field(default_factory=list)
    comparison: PairedComparison | None = None
    worse_segments: list[str] = field(default_factory=list)


def decide_promotion(
    challenger_version: int,
    challenger: dict[str, float],
    champion_version: int | None,
    n_test_rows: int,
    n_test_positives: int,
    rules: GateRules,
    comparison: PairedComparison | None = None,
    segments: list[dict] | None = None,
) -> GateDecision:
    """Floors, then non-inferiority on the same rows, then no significantly worse segment.

    A challenger below the floors may still replace a champion it is significantly better
    than (lower bound of the paired AUC difference above zero).

    ``challenger`` holds overall metrics (``auc``, ``brier``). With a champion, the
    challenger is promoted only if the lower confidence bound of the paired AUC difference
    is above ``-auc_margin`` and no segment is significantly worse after Holm's correction.
    The gate fails closed: missing numbers or too little evidence mean no promotion.
    """
    decision = GateDecision(False, challenger_version, champion_version, comparison=comparison)
    reasons = decision.reasons
    if champion_version is not None and champion_version == challenger_version:
        reasons.append(f"version {challenger_version} is already the champion")
        return decision
    if n_test_rows < rules.min_test_rows or n_test_positives < rules.min_test_positives:
        reasons.append(
            f"too little evidence to decide: {n_test_rows} test rows / {n_test_positives} "
            f"positives, need {rules.min_test_rows} / {rules.min_test_positives}"
        )
        return decision
    auc = challenger.get("auc", math.nan)
    brier = challenger.get("brier", math.nan)
    if math.isnan(auc) or math.isnan(brier):
        reasons.append("challenger metrics are undefined on the test split")
        return decision
    ok = True
    if auc < rules.min_auc:
        ok = False
        reasons.append(f"AUC {auc:.4f} is below the floor {rules.min_auc:.2f}")
    if brier > rules.max_brier:
        ok = False
        reasons.append(f"Brier {brier:.4f} is above the ceiling {rules.max_brier:.2f}")
    if ok:
        reasons.append(
            f"passes floors (AUC {auc:.4f} >= {rules.min_auc:.2f}, "
            f"Brier {brier:.4f} <= {rules.max_brier:.2f})"
        )
    if champion_version is None:
        if ok:
            reasons.append("no champion yet: the first model that passes the floors is promoted")
        decision.promote = ok
        return decision
    if comparison is None:
        reasons.append("no paired comparison with the champion: not promoted (fail closed)")
        return decision
    level = f"{rules.confidence:.0%}"
    if not ok and comparison.ci_low > 0:
        # The floors keep a weak first model out. Once a champion serves, refusing a model
        # that is significantly better than it keeps the worse one in place (after concept
        # drift, say, when both fall below the floor): the comparison decides instead.
        ok = True
        reasons.append(
            f"below the floors, but significantly better than champion v{champion_version}: "
            f"{level} lower bound of the AUC difference {comparison.ci_low:+.4f} > 0, so the "
            "floors do not block replacing it"
        )
    if comparison.ci_low <= -rules.auc_margin:
        ok = False
        reasons.append(
            f"not shown non-inferior: AUC difference {comparison.difference:+.4f}, {level} lower "
            f"bound {comparison.ci_low:+.4f} is not above -{rules.auc_margin:.3f} "
            f"(p = {comparison.p_value:.3g})"
        )
    else:
        reasons.append(
            f"non-inferior: AUC difference {comparison.difference:+.4f}, {level} lower bound "
            f"{comparison.ci_low:+.4f} > -{rules.auc_margin:.3f} (p = {comparison.p_value:.3g})"
        )
    worse = [f"{s['segment_column']}={s['segment_value']}" for s in segments or [] if s["worse"]]
    decision.worse_segments = worse
    if worse:
        ok = False
        reasons.append(
            f"significantly worse in {', '.join(worse)} (Holm, alpha {rules.segment_alpha})"
        )
    elif segments:
        tested = sum(not s["skipped"] for s in segments)
        reasons.append(
            f"no segment significantly worse ({tested} tested, Holm, alpha {rules.segment_alpha})"
        )
    decision.promote = ok
    return decision
