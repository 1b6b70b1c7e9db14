"""Reference profiles and per-feature drift of a day against them.

The profile is computed from the training features when a model is trained and stored
with that model; a day is always compared with the current champion's profile. This
first version measures the Population Stability Index on the reference's quantile bins
(numeric) or categories (categorical), null-rate change and the share of unseen
categories; the report's columns already leave room for significance tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml_assets.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

PROFILE_FORMAT = 1
NULL_CATEGORY = "__null__"
UNSEEN_CATEGORY = "__unseen__"
# Proportions are floored at this value before the log in PSI, so an empty bin on one
# side gives a large but finite contribution.
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class DriftRules:
    """Thresholds of the drift decision (defaults justified in the README)."""

    psi_threshold: float = 0.2
    null_rate_delta: float = 0.10
    unseen_share: float = 0.05
    min_drifted_features: int = 1
    min_rows: int = 100
    quantile_bins: int = 10


def numeric_bin_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Interior bin edges at the reference's quantiles.

    A column with at most ``bins`` distinct values (a flag, a small count) gets one bin per
    value instead: quantile edges would merge a rare value with a common one, and a shift
    from 1 % to 100 % of the rare value would go unseen.
    """
    clean = values[~np.isnan(values)]
    if clean.size == 0:
        return np.array([], dtype=float)
    distinct = np.unique(clean)
    if distinct.size <= bins:
        return distinct
    qs = np.linspace(0, 1, bins + 1)[1:-1]
    return np.unique(np.quantile(clean, qs))


def numeric_bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of non-null values in each bin ``(-inf, e0), [e0, e1), ..., [ek, inf)``."""
    clean = values[~np.isnan(values)]
    counts = np.bincount(np.searchsorted(edges, clean, side="right"), minlength=len(edges) + 1)
    total = counts.sum()
    return counts / total if total else np.zeros(len(edges) + 1)


def category_shares(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Share of each known category, then of unseen values, over non-null values."""
    clean = values.dropna().astype(str)
    counts = clean.value_counts()
    known = np.array([counts.get(c, 0) for c in categories], dtype=float)
    unseen = float(len(clean)) - known.sum()
    shares = np.r_[known, unseen]
    return shares / shares.sum() if shares.sum() else np.zeros(len(categories) + 1)


def psi(reference: np.ndarray, current: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population Stability Index: sum of (cur - ref) * ln(cur / ref) over bins."""
    ref = np.maximum(np.asarray(reference, dtype=float), epsilon)
    cur = np.maximum(np.asarray(current, dtype=float), epsilon)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def build_reference_profile(
    features: pd.DataFrame, rules: DriftRules | None = None, model_version: int | None = None
) -> dict[str, Any]:
    """Summarise training features: bins and shares, categories, null rates, row count."""
    rules = rules or DriftRules()
    profile: dict[str, Any] = {
        "format": PROFILE_FORMAT,
        "n_rows": len(features),
        "model_version": model_version,
        "numeric": {},
        "categorical": {},
    }
    for col in NUMERIC_FEATURES:
        values = features[col].astype("float64").to_numpy()
        edges = numeric_bin_edges(values, rules.quantile_bins)
        profile["numeric"][col] = {
            "edges": edges.tolist(),
            "shares": numeric_bin_shares(values, edges).tolist(),
            "null_rate": float(np.isnan(values).mean()) if len(values) else 0.0,
            "mean": float(np.nanmean(values)) if np.isfinite(values).any() else None,
            "std": float(np.nanstd(values)) if np.isfinite(values).any() else None,
        }
    for col in CATEGORICAL_FEATURES:
        series = features[col]
        categories = sorted(series.dropna().astype(str).unique().tolist())
        profile["categorical"][col] = {
            "categories": categories,
            "shares": category_shares(series, categories).tolist(),
            "null_rate": float(series.isna().mean()) if len(series) else 0.0,
        }
    return profile


@dataclass
class DriftOutcome:
    report: pd.DataFrame
    dataset_drift: bool
    drifted_features: list[str]
    reasons: list[str] = field(default_factory=list)


def _feature_row(feature: str, kind: str, ref: dict, cur_shares: np.ndarray, null_cur: float,
                 unseen: float, n_ref: int, n_cur: int, rules: DriftRules) -> dict[str, Any]:
    value = psi(np.asarray(ref["shares"]), cur_shares)
    why = []
    if value >= rules.psi_threshold:
        why.append(f"PSI {value:.3f} >= {rules.psi_threshold}")
    if abs(null_cur - ref["null_rate"]) >= rules.null_rate_delta:
        why.append(f"null rate {ref['null_rate']:.3f} -> {null_cur:.3f}")
    if unseen >= rules.unseen_share:
        why.append(f"unseen categories {unseen:.1%}")
    return {
        "feature": feature,
        "kind": kind,
        "n_reference": n_ref,
        "n_current": n_cur,
        "psi": value,
        "effect_size": value,
        "test": None,
        "statistic": None,
        "p_value": None,
        "p_value_adjusted": None,
        "null_rate_reference": float(ref["null_rate"]),
        "null_rate_current": float(null_cur),
        "unseen_share": float(unseen),
        "drifted": bool(why),
        "reason": "; ".join(why) if why else f"PSI {value:.3f} below {rules.psi_threshold}",
    }


def compute_drift(
    current: pd.DataFrame, profile: dict[str, Any], snapshot_date: Any, rules: DriftRules
) -> DriftOutcome:
    """Compare one day's features with a reference profile; decide for the dataset."""
    n_cur = len(current)
    n_ref = int(profile["n_rows"])
    rows = []
    for col, ref in profile["numeric"].items():
        values = current[col].astype("float64").to_numpy()
        shares = numeric_bin_shares(values, np.asarray(ref["edges"], dtype=float))
        null_cur = float(np.isnan(values).mean()) if n_cur else 0.0
        rows.append(_feature_row(col, "numeric", ref, shares, null_cur, 0.0, n_ref, n_cur, rules))
    for col, ref in profile["categorical"].items():
        series = current[col]
        shares = category_shares(series, ref["categories"])
        null_cur = float(series.isna().mean()) if n_cur else 0.0
        rows.append(_feature_row(col, "categorical", ref, shares, null_cur, float(shares[-1]),
                                 n_ref, n_cur, rules))
    report = pd.DataFrame(rows)
    for col in ("statistic", "p_value", "p_value_adjusted"):
        report[col] = report[col].astype("float64")
    report["test"] = report["test"].astype(object)
    report.insert(0, "snapshot_date", pd.Timestamp(snapshot_date))
    report.insert(3, "reference_model_version", int(profile.get("model_version") or 0))
    drifted = report.loc[report["drifted"], "feature"].tolist()
    reasons = []
    if n_cur < rules.min_rows:
        dataset = False
        reasons.append(f"only {n_cur} rows, below the minimum {rules.min_rows}: no decision")
    else:
        dataset = len(drifted) >= rules.min_drifted_features
        reasons.append(
            f"{len(drifted)} of {len(rows)} features drifted "
            f"(dataset drift needs {rules.min_drifted_features})"
        )
    return DriftOutcome(report=report, dataset_drift=dataset, drifted_features=drifted,
                        reasons=reasons)
