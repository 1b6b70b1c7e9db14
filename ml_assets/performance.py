"""Performance drift: the champion's realised AUC on a labelled day against its baseline.

Input drift cannot see concept drift (same inputs, a new relation to the target); labels can.
When a day's rows carry the target, the champion's predictions for that day are scored and compared
with the AUC it had on its test split when it was promoted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml_assets.resampling import bootstrap_auc, weighted_auc


@dataclass(frozen=True)
class PerformanceRules:
    margin: float = 0.02
    alpha: float = 0.01
    min_rows: int = 100
    min_positives: int = 10
    n_resamples: int = 500
    seed: int = 0


def performance_drift(
    y: np.ndarray, p: np.ndarray, baseline_auc: float | None, rules: PerformanceRules
) -> dict:
    """Is the day's AUC significantly below ``baseline_auc - margin``?

    The one-sided bootstrap p-value of H0 "the day's AUC is at least baseline - margin" is
    the share of resampled day AUCs at or above that level. Too few labelled rows or
    positives, or no baseline, give no decision (``drifted`` False, with the reason).
    """
    mask = ~np.isnan(y)
    y, p = y[mask].astype(int), p[mask]
    out = {
        "labelled_rows": len(y),
        "realised_auc": float("nan"),
        "auc_ci_low": float("nan"),
        "auc_ci_high": float("nan"),
        "p_value": float("nan"),
        "baseline_auc": float("nan") if baseline_auc is None else float(baseline_auc),
        "drifted": False,
    }
    positives = int(y.sum())
    if baseline_auc is None:
        return {**out, "reason": "no baseline AUC for the champion: no decision"}
    if len(y) < rules.min_rows or min(positives, len(y) - positives) < rules.min_positives:
        return {
            **out,
            "reason": f"too few labelled rows to decide ({len(y)} rows, {positives} positives)",
        }
    realised = float(weighted_auc(y, p, np.ones((1, len(y))))[0])
    boot = bootstrap_auc(y, p, rules.n_resamples, rules.seed)
    boot = boot[~np.isnan(boot)]
    floor = baseline_auc - rules.margin
    p_value = float((np.sum(boot >= floor) + 1) / (len(boot) + 1))
    low, high = np.quantile(boot, [0.025, 0.975])
    drifted = p_value <= rules.alpha
    verdict = "significantly below" if drifted else "not significantly below"
    return {
        **out,
        "realised_auc": realised,
        "auc_ci_low": float(low),
        "auc_ci_high": float(high),
        "p_value": p_value,
        "drifted": drifted,
        "reason": f"realised AUC {realised:.3f} is {verdict} baseline {baseline_auc:.3f} - "
        f"margin {rules.margin} (p = {p_value:.3g})",
    }
