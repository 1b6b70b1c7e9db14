"""Reference profiles and per-feature drift of a day against them.

The profile is computed from the training features when a model is trained and stored
with that model; a day is always compared with the current champion's profile.

The decision holds at any sample size because it asks two questions, not one:

* **Is the change large enough to matter?** An effect size against a floor that does not
  depend on the number of rows. Numeric features: the Wasserstein-1 distance between the
  day's values and the reference, in reference standard deviations (a pure shift of k SD
  has exactly k; a change of shape counts by how far the values move). Categorical
  features: the Jensen-Shannon distance (base 2, between 0 and 1) of the category shares,
  unseen values as their own category.
* **Is it more than sampling noise?** A two-sample test per feature -- Kolmogorov-Smirnov
  for continuous numeric features against a reference sample stored in the profile,
  Pearson's chi-square for categorical features and for numeric features with few distinct
  values (KS assumes continuous data and is very conservative with ties) -- and the
  Benjamini-Hochberg correction across the day's features.

Both tests take rows as independent. Rows of one day often are not: every flight of an hour
shares that hour's weather, a weekday is the same for a whole day, and one day's weather says
little about the next one's. With the date column, the reference profile records per feature
the intraclass correlation of its rows within a day (one-way ANOVA estimator, kept only when
the day effect is significant), and the tests use effective sample sizes
``n / (1 + (n - 1) * ICC)`` (Kish's design effect) on both sides: chi-square divided by the
matching design effect (Rao and Scott's first-order correction); a continuous feature tested
by the day's mean against the reference's (a z test on the effective sizes), since with a
handful of effective rows KS could only see a complete separation. A day of weather then
counts as about one observation, not as 900. A profile without ICCs (no date column, or an
older profile) keeps rows independent, as before.

A feature drifts when both answers are yes, or when a data-quality rule fires (null rate
jump, share of unseen categories). A p-value alone flags meaningless shifts once a day has
100,000 rows; an effect size alone flags noise when it has 1,000. The Population Stability
Index on the reference's bins is still reported (``psi``) for continuity and dashboards,
but does not decide.

Everything is vectorised numpy: one sort per numeric feature and day, then linear passes.
scipy is only used for distribution functions and is imported inside the functions that
need it, so importing this module stays cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml_assets.dataset import DatasetSpec, active_spec

# 2: adds bin/category counts, non-null counts, a ``discrete`` flag and the reference sample
# (``sample_values``/``sample_counts``) the KS test and the Wasserstein distance need.
# Format-1 profiles (older champions) are still read; see :func:`compute_drift`.
PROFILE_FORMAT = 2
NULL_CATEGORY = "__null__"
UNSEEN_CATEGORY = "__unseen__"
# Proportions are floored at this value before the log in PSI, so an empty bin on one
# side gives a large but finite contribution.
PSI_EPSILON = 1e-4
# The reference sample is drawn with this seed from the sorted values, so a profile depends
# only on the reference values, not on the order the warehouse returned them in.
SAMPLE_SEED = 20250101
# Above this many effective observations the KS p-value uses the Kolmogorov limit
# distribution: scipy's exact-n ``kstwo.sf`` takes up to seconds there, and the two differ
# by about 1 % (relative) or less. Profiles cap the reference sample at 10,000 values, so the
# effective size m*n/(m+n) stays below this and production p-values equal scipy's.
KS_LIMIT_N = 10_000

# DriftRules fields that shape the profile when a model is trained; the rest decide a day.
PROFILE_FIELDS = ("quantile_bins", "reference_sample_size")


@dataclass(frozen=True)
class DriftRules:
    """Thresholds of the drift decision.

    Parameters
    ----------
    alpha : float
        False discovery rate of the Benjamini-Hochberg correction across a day's features;
        a feature is significant when its adjusted p-value is at most ``alpha``. Under no
        drift this bounds the share of days with any significant feature by ``alpha`` (for
        independent or positively dependent tests).
    min_shift_sd : float
        Effect floor of numeric features: Wasserstein-1 distance in reference SDs.
    min_js_distance : float
        Effect floor of categorical features (and of numeric features of a format-1
        profile): Jensen-Shannon distance, base 2.
    null_rate_delta : float
        Absolute change of the null rate that counts as drift on its own.
    unseen_share : float
        Share of non-null values outside the reference categories that counts as drift on
        its own.
    min_drifted_features : int
        Drifted features needed for dataset drift.
    min_rows : int
        Days with fewer rows get no decision.
    quantile_bins : int
        Profile: number of quantile bins of numeric features (PSI, discrete detection).
    reference_sample_size : int or None
        Profile: at most this many non-null reference values per numeric feature are kept
        for the KS test and the Wasserstein distance; None keeps all.
    """

    alpha: float = 0.01
    min_shift_sd: float = 0.05
    min_js_distance: float = 0.02
    null_rate_delta: float = 0.10
    unseen_share: float = 0.05
    min_drifted_features: int = 1
    min_rows: int = 100
    quantile_bins: int = 10
    reference_sample_size: int | None = 10_000


# --------------------------------------------------------------------------- bins and PSI


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


def numeric_bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in bins ``(-inf, e0), [e0, e1), ..., [ek, inf)`` of sorted non-null values."""
    cuts = np.searchsorted(sorted_values, edges, side="left")
    return np.diff(np.r_[0, cuts, sorted_values.size]).astype(np.int64)


def numeric_bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of non-null values in each bin ``(-inf, e0), [e0, e1), ..., [ek, inf)``."""
    clean = np.sort(values[~np.isnan(values)])
    counts = numeric_bin_counts(clean, edges)
    total = counts.sum()
    return counts / total if total else np.zeros(len(edges) + 1)


def category_counts(values: pd.Series, categories: list[str]) -> tuple[np.ndarray, int]:
    """Counts of each known category, then of unseen values, and the number of nulls.

    One hash pass over the column (``value_counts``), so a million rows take a fraction of
    a second; values are compared as strings, as the profile stores them.
    """
    by_name: dict[str, int] = {}
    nulls = 0
    # A handful of distinct values: a Python loop over them is cheaper than pandas' groupby.
    for value, count in values.value_counts(dropna=False).items():
        if pd.isna(value):
            nulls += int(count)
        else:
            key = str(value)
            by_name[key] = by_name.get(key, 0) + int(count)
    known = np.array([by_name.get(c, 0) for c in categories], dtype=np.int64)
    unseen = sum(by_name.values()) - int(known.sum())
    return np.r_[known, unseen].astype(np.int64), nulls


def category_shares(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Share of each known category, then of unseen values, over non-null values."""
    counts, _ = category_counts(values, categories)
    total = counts.sum()
    return counts / total if total else np.zeros(len(categories) + 1)


def psi(reference: np.ndarray, current: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population Stability Index: sum of (cur - ref) * ln(cur / ref) over bins."""
    ref = np.maximum(np.asarray(reference, dtype=float), epsilon)
    cur = np.maximum(np.asarray(current, dtype=float), epsilon)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


# --------------------------------------------------------------------------- statistics


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two count or share vectors.

    Both vectors are normalised first, as :func:`scipy.spatial.distance.jensenshannon`
    does; empty cells contribute nothing.
    """
    p = np.asarray(reference, dtype=float)
    q = np.asarray(current, dtype=float)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return math.sqrt(max(0.5 * (kl_p + kl_q), 0.0) / math.log(2))


def ecdf_distances(
    ref_values: np.ndarray, ref_counts: np.ndarray, current_sorted: np.ndarray
) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 distance between a weighted reference and a sample.

    Parameters
    ----------
    ref_values : numpy.ndarray
        Sorted distinct reference values.
    ref_counts : numpy.ndarray
        How often each reference value occurs (positive integers).
    current_sorted : numpy.ndarray
        The day's non-null values, sorted ascending.

    Returns
    -------
    tuple of float
        ``(D, W1)``: the largest absolute difference of the two empirical CDFs (what
        :func:`scipy.stats.ks_2samp` reports on the expanded reference) and the area between
        them (:func:`scipy.stats.wasserstein_distance` with ``u_weights``).

    Notes
    -----
    The reference values are merged into the sorted day in linear time (``np.insert`` at
    ``searchsorted`` positions), so the cost is the day's sort plus O(n + m); each ECDF
    difference is an integer cumulative count divided by the sample size, the same
    arithmetic scipy uses, so the statistic matches it to the last bit.
    """
    v = np.asarray(ref_values, dtype=float)
    w = np.asarray(ref_counts, dtype=np.int64)
    c = np.asarray(current_sorted, dtype=float)
    m, n = int(w.sum()), c.size
    pos = np.searchsorted(c, v, side="left")
    merged = np.insert(c, pos, v)
    ref_cum = np.cumsum(np.insert(np.zeros(n, dtype=np.int64), pos, w))
    cur_cum = np.cumsum(np.insert(np.ones(n, dtype=np.int64), pos, 0))
    diff = ref_cum / m - cur_cum / n
    gaps = np.diff(merged)
    # Inside a run of equal values the running counts are partial; the ECDFs are only
    # defined after the run's last element.
    run_end = np.r_[gaps > 0, True]
    d = float(np.max(np.abs(diff[run_end])))
    w1 = float(np.sum(np.abs(diff[:-1]) * gaps))
    return d, w1


def ks_pvalue(d: float, n_reference: float, n_current: float) -> float:
    """Two-sided asymptotic KS p-value, as ``scipy.stats.ks_2samp(method='asymp')``.

    That is the exact-n Kolmogorov distribution ``kstwo`` at ``round(m*n/(m+n))`` (at least
    1); beyond :data:`KS_LIMIT_N` effective observations its limit ``kstwobign`` (see the
    constant). The sizes may be effective (fractional) sizes of correlated rows.
    """
    from scipy.stats import kstwo, kstwobign

    en = n_reference * n_current / (n_reference + n_current)
    p = kstwobign.sf(d * math.sqrt(en)) if en > KS_LIMIT_N else kstwo.sf(d, max(1, round(en)))
    return float(np.clip(p, 0.0, 1.0))


def chi2_homogeneity(
    ref_counts: np.ndarray, cur_counts: np.ndarray, design_effect: float = 1.0
) -> tuple[float, float]:
    """Pearson chi-square test that two count vectors come from the same distribution.

    The 2 x k contingency table without cells empty on both sides and without Yates'
    correction: ``scipy.stats.chi2_contingency(table, correction=False)``. Returns
    ``(statistic, p_value)``, both NaN when fewer than two cells are left or a side is
    empty. With correlated rows, the statistic is divided by their ``design_effect`` before
    the p-value (Rao and Scott's first-order correction); 1 leaves it as it is.
    """
    from scipy.stats import chi2

    table = np.vstack([ref_counts, cur_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] < 2 or (rows == 0).any():
        return float("nan"), float("nan")
    expected = np.outer(rows, table.sum(axis=0)) / rows.sum()
    stat = float(np.sum((table - expected) ** 2 / expected)) / design_effect
    return stat, float(chi2.sf(stat, table.shape[1] - 1))


def clustered_mean_test(
    mean_current: float, mean_reference: float, sd: float, n_reference: float, n_current: float
) -> tuple[float, float]:
    """Two-sided z test of two means on effective sample sizes: ``(z, p_value)``.

    ``z = (mean_current - mean_reference) / (sd * sqrt(1 / n_reference + 1 / n_current))``,
    with ``sd`` the reference's standard deviation and the sizes already divided by their
    design effects (so ``sd**2 / n_current`` is the variance of a day's mean of correlated
    rows: ``sd**2 * (ICC + (1 - ICC) / n)``).
    """
    from scipy.stats import norm

    z = (mean_current - mean_reference) / (sd * math.sqrt(1 / n_reference + 1 / n_current))
    return float(z), float(2 * norm.sf(abs(z)))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN (no test) stays NaN and is not counted."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    if tested.size == 0:
        return out
    order = tested[np.argsort(p[tested], kind="stable")]
    k = order.size
    scaled = p[order] * k / np.arange(1, k + 1)
    out[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return out


def reference_sample(
    values: np.ndarray, size: int | None, seed: int = SAMPLE_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic sample of non-null values as sorted distinct values and counts.

    Drawn without replacement from the *sorted* values, so it depends on the multiset of
    values only (not on row order); ``size`` None or at least the number of values keeps
    them all.
    """
    clean = np.sort(values[~np.isnan(values)])
    if size is not None and clean.size > size:
        pick = np.random.default_rng(seed).choice(clean.size, size=size, replace=False)
        clean = clean[np.sort(pick)]
    distinct, counts = np.unique(clean, return_counts=True)
    return distinct, counts


def intraclass_correlation(values: np.ndarray, days: np.ndarray, alpha: float) -> float:
    """Share of a feature's variance between days (one-way ANOVA estimator), or 0.

    ``(MSB - MSW) / (MSB + (n0 - 1) * MSW)`` over the days' non-null values, with ``n0`` the
    unbalanced-design mean group size; clipped to [0, 1]. It is 0 unless the F test of a day
    effect is significant at ``alpha``: rows stay independent unless the reference shows they
    are not, so independent data keeps its full power. A feature constant within each day but
    not across days (a weekday) gets 1.
    """
    from scipy.stats import f as f_dist

    keep = ~np.isnan(values)
    values, days = values[keep], days[keep]
    if values.size < 3:
        return 0.0
    codes, sizes = np.unique(days, return_inverse=True, return_counts=True)[1:]
    k, n = sizes.size, values.size
    if k < 2 or n <= k:
        return 0.0
    means = np.bincount(codes, weights=values, minlength=k) / sizes
    ssb = float(np.sum(sizes * (means - values.mean()) ** 2))
    ssw = float(np.sum((values - means[codes]) ** 2))
    msb, msw = ssb / (k - 1), ssw / (n - k)
    if msw == 0:
        return 1.0 if msb > 0 else 0.0
    if f_dist.sf(msb / msw, k - 1, n - k) > alpha:
        return 0.0
    n0 = (n - np.sum(sizes.astype(float) ** 2) / n) / (k - 1)
    return float(np.clip((msb - msw) / (msb + (n0 - 1) * msw), 0.0, 1.0))


def category_icc(series: pd.Series, days: np.ndarray, categories: list[str], alpha: float) -> float:
    """ICC of a categorical feature: Rao-Scott's mean of the categories' indicator ICCs.

    Weighted by ``(1 - share)`` over ``k - 1``, as the first-order correction of a chi-square
    over ``k`` cells weights the design effects of the cell shares.
    """
    if len(categories) < 2:
        return 0.0
    codes = pd.Categorical(series.astype(str).where(series.notna()), categories=categories).codes
    known = series.notna().to_numpy()
    total = 0.0
    for index in range(len(categories)):
        indicator = np.where(known, (codes == index).astype(float), np.nan)
        share = float(np.nanmean(indicator)) if known.any() else 0.0
        total += (1 - share) * intraclass_correlation(indicator, days, alpha)
    return total / (len(categories) - 1)


def design_effect(rows: float, icc: float, clusters: float = 1.0) -> float:
    """Kish's design effect of ``rows`` spread over ``clusters`` days: ``1 + (m - 1) * ICC``."""
    per_cluster = rows / max(clusters, 1.0)
    return 1.0 + max(per_cluster - 1.0, 0.0) * icc


def two_sample_design_effect(
    n_reference: float, n_current: float, icc: float, reference_days: float
) -> tuple[float, float, float]:
    """Design effects of a reference spread over ``reference_days`` days and of one day.

    Returns ``(d_reference, d_current, d_pair)``; ``d_pair`` is what a two-sample statistic
    is divided by: ``(d_ref / n_ref + d_cur / n_cur) / (1 / n_ref + 1 / n_cur)``, the ratio of
    the variance of a difference of two shares under clustering to that under independence.
    """
    d_ref = design_effect(n_reference, icc, reference_days)
    d_cur = design_effect(n_current, icc)
    if n_reference <= 0 or n_current <= 0:
        return d_ref, d_cur, 1.0
    pair = (d_ref / n_reference + d_cur / n_current) / (1 / n_reference + 1 / n_current)
    return d_ref, d_cur, pair


# --------------------------------------------------------------------------- profile


def build_reference_profile(
    features: pd.DataFrame,
    rules: DriftRules | None = None,
    model_version: int | None = None,
    day_column: str | None = None,
    spec: DatasetSpec | None = None,
) -> dict[str, Any]:
    """Summarise training features for later drift checks.

    Parameters
    ----------
    features : pandas.DataFrame
        Reference rows with the spec's numeric and categorical feature columns.
    rules : DriftRules or None
        Only ``quantile_bins`` and ``reference_sample_size`` are used; None for defaults.
    model_version : int or None
        Recorded in the profile (the registry overwrites it with the registered version).
    day_column : str or None
        The dataset's date column: when given, each feature's ``icc`` (rows of a day
        correlated, see :func:`intraclass_correlation`) and the profile's ``n_days`` are
        recorded, and the day's tests use effective sample sizes. None: rows independent.
    spec : DatasetSpec or None
        Which columns are numeric and categorical features; None for the active spec.

    Returns
    -------
    dict
        JSON-serialisable. Per numeric feature: bin ``edges``, ``shares`` and ``counts``,
        ``null_rate``, ``n_non_null``, ``mean``, ``std``, ``discrete`` (one bin per
        distinct value) and the reference sample as ``sample_values``/``sample_counts``; per
        categorical feature: ``categories``, ``shares`` and ``counts`` (unseen last, 0),
        ``null_rate`` and ``n_non_null``. With the default 10,000-value sample a profile of
        30,000 generated rows is about 0.55 MB of JSON; the sample caps its growth with the
        row count.
    """
    rules = rules or DriftRules()
    spec = spec if spec is not None else active_spec()
    profile: dict[str, Any] = {
        "format": PROFILE_FORMAT,
        "n_rows": len(features),
        "model_version": model_version,
        "reference_sample_size": rules.reference_sample_size,
        "numeric": {},
        "categorical": {},
    }
    days = None
    if day_column is not None:
        # Integer day codes: the ICCs group by them many times (once per category).
        codes, uniques = pd.factorize(pd.to_datetime(features[day_column]))
        days = codes
        profile["n_days"] = len(uniques)
    for col in spec.numeric_features:
        values = features[col].astype("float64").to_numpy()
        clean = np.sort(values[~np.isnan(values)])
        edges = numeric_bin_edges(clean, rules.quantile_bins)
        counts = numeric_bin_counts(clean, edges)
        sample_values, sample_counts = reference_sample(clean, rules.reference_sample_size)
        profile["numeric"][col] = {
            "edges": edges.tolist(),
            "shares": (counts / counts.sum() if clean.size else counts * 0.0).tolist(),
            "counts": counts.tolist(),
            "null_rate": float(np.isnan(values).mean()) if len(values) else 0.0,
            "n_non_null": int(clean.size),
            "mean": float(clean.mean()) if clean.size else None,
            "std": float(clean.std()) if clean.size else None,
            "discrete": bool(clean.size and np.unique(clean).size <= rules.quantile_bins),
            "sample_values": sample_values.tolist(),
            "sample_counts": sample_counts.tolist(),
        }
        if days is not None:
            profile["numeric"][col]["icc"] = intraclass_correlation(values, days, rules.alpha)
            profile["numeric"][col]["null_icc"] = intraclass_correlation(
                np.isnan(values).astype(float), days, rules.alpha
            )
    for col in spec.categorical_features:
        series = features[col]
        categories = sorted(series.dropna().astype(str).unique().tolist())
        counts, nulls = category_counts(series, categories)
        total = counts.sum()
        profile["categorical"][col] = {
            "categories": categories,
            "shares": (counts / total if total else counts * 0.0).tolist(),
            "counts": counts.tolist(),
            "null_rate": nulls / len(series) if len(series) else 0.0,
            "n_non_null": int(total),
        }
        if days is not None:
            profile["categorical"][col]["icc"] = category_icc(series, days, categories, rules.alpha)
            profile["categorical"][col]["null_icc"] = intraclass_correlation(
                series.isna().to_numpy(dtype=float), days, rules.alpha
            )
    return profile


# --------------------------------------------------------------------------- decision


def prepare_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """A copy of a profile with its lists as numpy arrays, for checking many days.

    :func:`compute_drift` accepts either form; converting the reference sample (up to
    10,000 values per feature) from JSON lists once instead of once per day saves a few
    milliseconds per day. The copy is not JSON-serialisable; store the original.
    """
    out = {**profile, "numeric": {}, "categorical": {}}
    for kind, float_keys in (
        ("numeric", ("edges", "shares", "sample_values")),
        ("categorical", ("shares",)),
    ):
        for col, entry in profile[kind].items():
            entry = dict(entry)
            for key in float_keys:
                if key in entry:
                    entry[key] = np.asarray(entry[key], dtype=float)
            for key in ("counts", "sample_counts"):
                if key in entry:
                    entry[key] = np.asarray(entry[key], dtype=np.int64)
            out[kind][col] = entry
    return out


@dataclass
class DriftOutcome:
    """One day's drift: the report rows, the dataset decision and why.

    ``decided`` is False when the day had fewer than ``min_rows`` rows; then
    ``dataset_drift`` is False and no feature is marked drifted.
    """

    report: pd.DataFrame
    dataset_drift: bool
    drifted_features: list[str]
    reasons: list[str] = field(default_factory=list)
    decided: bool = True


def _reference_counts(ref: dict[str, Any]) -> np.ndarray:
    """Bin or category counts of a profile entry; format 1 stored shares only."""
    if "counts" in ref:
        return np.asarray(ref["counts"], dtype=np.int64)
    n_non_null = ref.get("n_non_null")
    if n_non_null is None:  # format 1: rebuild from the row count and the null rate
        n_non_null = ref["_n_rows"] * (1.0 - ref["null_rate"])
    return np.rint(np.asarray(ref["shares"], dtype=float) * n_non_null).astype(np.int64)


def _numeric_stats(values: np.ndarray, ref: dict[str, Any]) -> dict[str, Any]:
    """Per-feature statistics of a numeric column (before the day's correction)."""
    nulls = np.isnan(values)
    clean = np.sort(values[~nulls])
    edges = np.asarray(ref["edges"], dtype=float)
    counts = numeric_bin_counts(clean, edges)
    out: dict[str, Any] = {
        "null_rate_current": float(nulls.mean()) if values.size else 0.0,
        "unseen_share": 0.0,
        "n_non_null": int(clean.size),
        "psi": psi(np.asarray(ref["shares"]), counts / clean.size) if clean.size else 0.0,
        "test": None,
        "statistic": float("nan"),
        "p_value": float("nan"),
        "effect_size": float("nan"),
        "effect": "shift",
        "n_effective": float(clean.size),
    }
    if clean.size == 0:
        return out
    ref_counts = _reference_counts(ref)
    icc, ref_days = float(ref.get("icc") or 0.0), float(ref.get("_n_days") or 1)
    if "sample_values" not in ref:
        # Format-1 profile: no reference sample, so neither KS nor Wasserstein; the bins
        # still allow a chi-square test and a JS distance.
        out["test"] = "chi2"
        out["statistic"], out["p_value"] = chi2_homogeneity(ref_counts, counts)
        out["effect_size"], out["effect"] = js_distance(ref_counts, counts), "js"
        return out
    sample_v = np.asarray(ref["sample_values"], dtype=float)
    sample_c = np.asarray(ref["sample_counts"], dtype=np.int64)
    if sample_c.sum() == 0:
        # The reference column was all null: nothing to compare with (the null-rate rule
        # still sees the change).
        return out
    d, w1 = ecdf_distances(sample_v, sample_c, clean)
    sd = ref.get("std") or 0.0
    # A constant reference: any movement at all is infinitely many SDs.
    out["effect_size"] = w1 / sd if sd > 0 else (math.inf if w1 > 0 else 0.0)
    if ref.get("discrete"):
        # One bin per reference value: chi-square uses every reference row, and is far more
        # powerful than KS for a 0/1 flag (KS treats ties conservatively).
        _, d_cur, pair = two_sample_design_effect(ref_counts.sum(), clean.size, icc, ref_days)
        out["test"] = "chi2"
        out["statistic"], out["p_value"] = chi2_homogeneity(ref_counts, counts, pair)
    elif icc > 0 and sd > 0:
        # A day of correlated rows is a handful of effective observations, too few for KS to
        # see anything but a complete separation; the day's mean against the reference mean,
        # each with its design effect, is the test that still has power for a shift.
        n_ref = float(ref.get("n_non_null") or ref_counts.sum())
        d_ref, d_cur, _ = two_sample_design_effect(n_ref, clean.size, icc, ref_days)
        out["test"] = "z"
        out["statistic"], out["p_value"] = clustered_mean_test(
            float(clean.mean()), float(ref["mean"]), sd, n_ref / d_ref, clean.size / d_cur
        )
    else:
        n_sample = float(sample_c.sum())
        d_ref, d_cur, _ = two_sample_design_effect(n_sample, clean.size, icc, ref_days)
        out["test"] = "ks"
        out["statistic"] = d
        out["p_value"] = ks_pvalue(d, n_sample / d_ref, clean.size / d_cur)
    out["n_effective"] = clean.size / d_cur
    return out


def _categorical_stats(series: pd.Series, ref: dict[str, Any]) -> dict[str, Any]:
    """Per-feature statistics of a categorical column (before the day's correction)."""
    counts, nulls = category_counts(series, ref["categories"])
    total = int(counts.sum())
    ref_counts = _reference_counts(ref)
    out: dict[str, Any] = {
        "null_rate_current": nulls / len(series) if len(series) else 0.0,
        "unseen_share": counts[-1] / total if total else 0.0,
        "n_non_null": total,
        "psi": psi(np.asarray(ref["shares"]), counts / total) if total else 0.0,
        "test": None,
        "statistic": float("nan"),
        "p_value": float("nan"),
        "effect_size": float("nan"),
        "effect": "js",
        "n_effective": float(total),
    }
    if total:
        icc, ref_days = float(ref.get("icc") or 0.0), float(ref.get("_n_days") or 1)
        _, d_cur, pair = two_sample_design_effect(ref_counts.sum(), total, icc, ref_days)
        # The unseen cell is empty in the reference; chi2_homogeneity keeps it only when
        # the day has unseen values.
        out["test"] = "chi2"
        out["statistic"], out["p_value"] = chi2_homogeneity(ref_counts, counts, pair)
        out["effect_size"] = js_distance(ref_counts, counts)
        out["n_effective"] = total / d_cur
    return out


def null_rate_p_value(ref: dict[str, Any], null_rate_current: float, n_current: int) -> float:
    """p-value of a null-rate change when nulls come in whole days or hours, else 0.

    A column that is missing for days at a time (a sensor down, a reading only taken in some
    weather) changes its daily null rate far more than independent rows would. With the
    profile's ``null_icc`` above 0, the change must also be significant on the effective
    sizes (:func:`clustered_mean_test` on the null indicator); without it the null-rate rule
    is a data-quality rule that fires on the change alone (returns 0).
    """
    icc = float(ref.get("null_icc") or 0.0)
    p_ref = float(ref["null_rate"])
    if icc <= 0 or not 0 < p_ref < 1 or n_current == 0:
        return 0.0
    n_ref = float(ref["_n_rows"])
    days = float(ref.get("_n_days") or 1)
    d_ref, d_cur, _ = two_sample_design_effect(n_ref, n_current, icc, days)
    sd = math.sqrt(p_ref * (1 - p_ref))
    return clustered_mean_test(null_rate_current, p_ref, sd, n_ref / d_ref, n_current / d_cur)[1]


_TEST_NAMES = {"ks": "KS", "chi2": "chi-square", "z": "z test of means"}


def _decide(
    row: dict[str, Any], ref: dict[str, Any], rules: DriftRules, decided: bool, n_cur: int
) -> tuple[bool, str]:
    """Whether a feature drifted, and a sentence saying why (or why not)."""
    if row["effect"] == "shift":
        floor = rules.min_shift_sd
        effect = f"Wasserstein {row['effect_size']:.3f} SD"
    else:
        floor = rules.min_js_distance
        effect = f"JS distance {row['effect_size']:.3f}"
    quality = []
    null_ref = float(ref["null_rate"])
    null_p = null_rate_p_value(ref, row["null_rate_current"], n_cur)
    if abs(row["null_rate_current"] - null_ref) >= rules.null_rate_delta and null_p <= rules.alpha:
        clustered_nulls = f", z test p {null_p:.2g}: nulls come in whole days or hours"
        quality.append(
            f"null rate {null_ref:.3f} -> {row['null_rate_current']:.3f} "
            f"(change >= {rules.null_rate_delta}{clustered_nulls if ref.get('null_icc') else ''})"
        )
    if row["unseen_share"] >= rules.unseen_share:
        quality.append(f"unseen categories {row['unseen_share']:.1%} (>= {rules.unseen_share:.1%})")

    p_adj = row["p_value_adjusted"]
    clustered = ""
    if ref.get("icc"):
        clustered = (
            f" (rows of a day correlated, ICC {ref['icc']:.2f}: "
            f"{row['n_effective']:.1f} effective rows of {row['n_non_null']})"
        )
    if row["test"] is None or math.isnan(p_adj):
        statistical, evidence = False, "no test (no non-null values or a single cell)"
    else:
        test = f"{_TEST_NAMES[row['test']]} p_adj {p_adj:.2g}{clustered}"
        large = row["effect_size"] >= floor
        significant = p_adj <= rules.alpha
        statistical = large and significant
        if statistical:
            evidence = f"{effect} >= {floor} and {test} <= {rules.alpha}"
        elif significant:
            evidence = (
                f"{effect} below the floor {floor} although {test} <= {rules.alpha}: "
                "real but too small to matter"
            )
        elif large:
            evidence = (
                f"{effect} >= {floor} but {test} > {rules.alpha}: "
                f"not distinguishable from noise with {row['n_effective']:.0f} effective rows"
            )
        else:
            evidence = f"{effect} below {floor}, {test} > {rules.alpha}"
    drifted = statistical or bool(quality)
    reason = "; ".join(([evidence] if statistical else []) + quality) if drifted else evidence
    if not decided:
        return False, f"too few rows to decide ({n_cur} < {rules.min_rows}); {reason}"
    return drifted, reason


def compute_drift(
    current: pd.DataFrame,
    profile: dict[str, Any],
    day: Any,
    rules: DriftRules,
    spec: DatasetSpec | None = None,
) -> DriftOutcome:
    """Compare one day's features with a reference profile; decide for the dataset.

    Parameters
    ----------
    current : pandas.DataFrame
        The day's feature rows (at least the profile's feature columns).
    profile : dict
        From :func:`build_reference_profile` (format 2), or a format-1 profile of an older
        champion: its numeric features are then tested with chi-square on the bins and
        judged by the JS distance (``min_js_distance``), as it holds no reference sample.
    day : date-like
        Written to every report row, in the spec's date column.
    rules : DriftRules
        Thresholds (the profile fields are ignored here).
    spec : DatasetSpec or None
        Names the report's date column; None for the active spec.

    Returns
    -------
    DriftOutcome
        ``report`` has the :class:`ml_assets.schemas.DriftReport` columns, one row per
        feature: ``psi`` (on the reference bins), ``effect_size`` (the gating effect: shift
        in reference SDs for numeric features, JS distance for categorical ones), ``test``
        (``ks`` or ``chi2``), ``statistic``, ``p_value`` and its Benjamini-Hochberg
        adjustment over the day's tests, null rates, unseen share, ``drifted`` and
        ``reason``. The dataset drifts when at least ``min_drifted_features`` features do;
        with fewer than ``min_rows`` rows nothing is decided (``decided`` False).
    """
    n_cur = len(current)
    n_ref = int(profile["n_rows"])
    n_days = profile.get("n_days")
    decided = n_cur >= rules.min_rows
    entries: list[tuple[str, str, dict[str, Any]]] = []
    for col, ref in profile["numeric"].items():
        entries.append((col, "numeric", {**ref, "_n_rows": n_ref, "_n_days": n_days}))
    for col, ref in profile["categorical"].items():
        entries.append((col, "categorical", {**ref, "_n_rows": n_ref, "_n_days": n_days}))

    stats = []
    for col, kind, ref in entries:
        if kind == "numeric":
            values = current[col].to_numpy(dtype="float64", na_value=np.nan)
            stats.append(_numeric_stats(values, ref))
        else:
            stats.append(_categorical_stats(current[col], ref))
    adjusted = benjamini_hochberg(np.array([s["p_value"] for s in stats]))

    rows = []
    for (col, kind, ref), row, p_adj in zip(entries, stats, adjusted, strict=True):
        row["p_value_adjusted"] = float(p_adj)
        drifted, reason = _decide(row, ref, rules, decided, n_cur)
        rows.append(
            {
                "feature": col,
                "kind": kind,
                "n_reference": n_ref,
                "n_current": n_cur,
                "psi": row["psi"],
                "effect_size": row["effect_size"],
                "test": row["test"],
                "statistic": row["statistic"],
                "p_value": row["p_value"],
                "p_value_adjusted": row["p_value_adjusted"],
                "null_rate_reference": float(ref["null_rate"]),
                "null_rate_current": float(row["null_rate_current"]),
                "unseen_share": float(row["unseen_share"]),
                "drifted": drifted,
                "reason": reason,
            }
        )
    report = pd.DataFrame(rows)
    for col in ("psi", "effect_size", "statistic", "p_value", "p_value_adjusted"):
        report[col] = report[col].astype("float64")
    report["test"] = report["test"].astype(object)
    date_column = (spec if spec is not None else active_spec()).date_column
    report.insert(0, date_column, pd.Timestamp(day))
    report.insert(3, "reference_model_version", int(profile.get("model_version") or 0))

    drifted_features = report.loc[report["drifted"], "feature"].tolist()
    if not decided:
        reasons = [f"too few rows to decide: {n_cur} rows, below the minimum {rules.min_rows}"]
        return DriftOutcome(
            report=report, dataset_drift=False, drifted_features=[], reasons=reasons, decided=False
        )
    dataset = len(drifted_features) >= rules.min_drifted_features
    reasons = [
        f"{len(drifted_features)} of {len(rows)} features drifted "
        f"(dataset drift needs {rules.min_drifted_features})"
    ]
    reasons += [f"{r['feature']}: {r['reason']}" for r in rows if r["drifted"]]
    return DriftOutcome(
        report=report, dataset_drift=dataset, drifted_features=drifted_features, reasons=reasons
    )
