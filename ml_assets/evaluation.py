"""Classification metrics, overall and per segment, in plain numpy.

Written out rather than taken from sklearn so that tests can check them against sklearn
as an independent reference, and so that bootstrap resampling (many evaluations) stays
cheap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml_assets.dataset import DatasetSpec, active_spec

METRICS = (
    "auc",
    "pr_auc",
    "log_loss",
    "brier",
    "precision",
    "recall",
    "f1",
    "positive_rate",
    "accuracy",
    "ece",
    "capture_top_decile",
    "lift_top_decile",
)
DEFAULT_RESAMPLES = 400
# Higher is better for these; the gate uses this to read a difference the right way round.
HIGHER_IS_BETTER = {
    "auc": True,
    "pr_auc": True,
    "log_loss": False,
    "brier": False,
    "precision": True,
    "recall": True,
    "f1": True,
    "accuracy": True,
    "ece": False,
    "capture_top_decile": True,
    "lift_top_decile": True,
}


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve via the Mann-Whitney rank statistic (ties get half credit)."""
    from scipy.stats import rankdata

    y = np.asarray(y, dtype=bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the precision-recall curve as a step sum over distinct score cut-offs."""
    y = np.asarray(y, dtype=float)
    n_pos = y.sum()
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-np.asarray(p), kind="mergesort")
    p_sorted = np.asarray(p)[order]
    tp = np.cumsum(y[order])
    seen = np.arange(1, len(y) + 1)
    last_of_run = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    tp, seen = tp[last_of_run], seen[last_of_run]
    precision = tp / seen
    recall = tp / n_pos
    recall_step = np.diff(np.r_[0.0, recall])
    return float(np.sum(recall_step * precision))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood, probabilities clipped to the float64 epsilon."""
    eps = np.finfo(np.float64).eps
    p = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)
    y = np.asarray(y, dtype=float)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=float) - np.asarray(y, dtype=float)) ** 2))


def threshold_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall, F1 and accuracy of the rule ``p >= threshold`` (0 where undefined)."""
    y = np.asarray(y, dtype=bool)
    pred = np.asarray(p) >= threshold
    tp = float(np.sum(pred & y))
    fp = float(np.sum(pred & ~y))
    fn = float(np.sum(~pred & y))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "positive_rate": float(pred.mean()) if len(pred) else 0.0,
        "accuracy": float(np.mean(pred == y)) if len(pred) else 0.0,
    }


def metrics_table(
    test: pd.DataFrame,
    proba: np.ndarray,
    threshold: float,
    model_version: int,
    model_run_id: str,
    role: str,
    min_segment_rows: int = 1,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    spec: DatasetSpec | None = None,
) -> pd.DataFrame:
    """Long table of metrics overall and per segment, each with a bootstrap 95 % interval.

    ``test`` needs the spec's target column and the columns its segments slice. The
    interval is the 2.5-97.5 percentile range of the metric over ``n_resamples`` bootstrap
    resamples of the segment's rows (seeded, so the report is reproducible).
    """
    from ml_assets.resampling import all_metrics, bootstrap_weights

    spec = spec if spec is not None else active_spec()
    y = test[spec.target.column].astype(int).to_numpy()
    p = np.asarray(proba, dtype=np.float64)
    segments = segment_frame(test, spec)
    rows = []
    for seg_col in segments.columns:
        for seg_value, index in segments.groupby(seg_col, sort=True).indices.items():
            if len(index) < min_segment_rows:
                continue
            ys, ps = y[index], p[index]
            point = all_metrics(ys, ps, np.ones((1, len(index))), threshold)
            boot = all_metrics(ys, ps, bootstrap_weights(len(index), n_resamples, seed), threshold)
            for metric in METRICS:
                value = float(point[metric][0])
                sample = boot[metric][~np.isnan(boot[metric])]
                low, high = (
                    np.percentile(sample, [2.5, 97.5]) if len(sample) >= 20 else (np.nan, np.nan)
                )
                rows.append(
                    {
                        "model_version": int(model_version),
                        "model_run_id": model_run_id,
                        "role": role,
                        "segment_column": seg_col,
                        "segment_value": str(seg_value),
                        "metric": metric,
                        "value": value,
                        "ci_low": float(low),
                        "ci_high": float(high),
                        "n_rows": len(index),
                        "n_positives": int(ys.sum()),
                        "threshold": float(threshold),
                    }
                )
    out = pd.DataFrame(rows)
    for col in ("value", "ci_low", "ci_high"):
        out[col] = out[col].astype("float64")
    return out


def segment_frame(test: pd.DataFrame, spec: DatasetSpec | None = None) -> pd.DataFrame:
    """The segment label of every test row: 'overall', then one column per spec segment (a
    column's values, or the band of a binned numeric column, 'unknown' outside the bins)."""
    spec = spec if spec is not None else active_spec()
    frame = pd.DataFrame({"overall": "all"}, index=range(len(test)))
    for segment in spec.segments:
        frame[segment.name] = segment.values_of(test).astype(str).to_numpy()
    return frame


def headline(report: pd.DataFrame, role: str = "challenger") -> dict[str, float]:
    """Overall metrics of one role as a flat dict (for metadata and the gate)."""
    rows = report[(report["role"] == role) & (report["segment_column"] == "overall")]
    return {r.metric: r.value for r in rows.itertuples()}
