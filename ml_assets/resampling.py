"""Metrics on weighted rows, so one code path gives point estimates and bootstrap intervals.

A bootstrap resample is a vector of row counts (how often each row was drawn). Every metric
here takes a matrix ``weights`` of shape (resamples, rows) and returns one value per
resample; with a single row of ones it is the plain metric. Rows are sorted by score once,
so a resample costs a few vectorised passes instead of a sort.
"""

from __future__ import annotations

import numpy as np

CALIBRATION_BINS = 10
TOP_SHARE = 0.10


def bootstrap_weights(n_rows: int, n_resamples: int, seed: int) -> np.ndarray:
    """Row counts of ``n_resamples`` bootstrap resamples of ``n_rows`` rows (float matrix)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_rows, size=(n_resamples, n_rows))
    # One bincount over (resample, row) cells: the same counts as np.add.at, several times
    # faster.
    cells = (np.arange(n_resamples)[:, None] * n_rows + draws).ravel()
    counts = np.bincount(cells, minlength=n_resamples * n_rows)
    return counts.reshape(n_resamples, n_rows).astype(np.float64)


# Cells (resamples x rows) drawn at once by :func:`bootstrap_auc`: bounds its memory.
_BATCH_CELLS = 1 << 22


def bootstrap_auc(y: np.ndarray, p: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """``weighted_auc(y, p, bootstrap_weights(len(y), n_resamples, seed))``, in O(rows) memory.

    The same random draws (taken from the generator in batches of resamples, which yields
    the same stream), but never the dense weight matrix: each draw is mapped to its score
    group and label, and one ``bincount`` per resample gives its negatives and positives per
    group. All counts are integers, so the result equals the dense version bit for bit; at
    a million rows it needs megabytes instead of gigabytes, and is several times faster.
    """
    n = len(y)
    order = np.argsort(p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order].astype(bool)
    new_group = np.r_[True, p_sorted[1:] != p_sorted[:-1]]
    groups = int(new_group.sum())
    code = np.empty(n, dtype=np.intp)
    code[order] = 2 * (np.cumsum(new_group) - 1) + y_sorted
    rng = np.random.default_rng(seed)
    per_batch = max(1, _BATCH_CELLS // max(n, 1))
    numerator, denominator = np.empty(n_resamples), np.empty(n_resamples)
    i = 0
    for start in range(0, n_resamples, per_batch):
        for draws in rng.integers(0, n, size=(min(per_batch, n_resamples - start), n)):
            counts = np.bincount(code[draws], minlength=2 * groups)
            neg, pos = counts[0::2], counts[1::2]
            # Twice the numerator of weighted_auc, in integers: exact, then halved.
            numerator[i] = np.dot(pos, 2 * (np.cumsum(neg) - neg) + neg) / 2.0
            denominator[i] = float(pos.sum() * neg.sum())
            i += 1
    return _safe_divide(numerator, denominator)


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def weighted_auc(y: np.ndarray, p: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC per weight row: P(score of a positive > score of a negative), ties half."""
    order = np.argsort(p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order].astype(bool)
    w = weights[:, order]
    starts = np.flatnonzero(np.r_[True, p_sorted[1:] != p_sorted[:-1]])
    neg = np.add.reduceat(w * ~y_sorted, starts, axis=1)
    pos = np.add.reduceat(w * y_sorted, starts, axis=1)
    neg_below = np.cumsum(neg, axis=1) - neg
    numerator = np.sum(pos * (neg_below + 0.5 * neg), axis=1)
    return _safe_divide(numerator, pos.sum(axis=1) * neg.sum(axis=1))


def weighted_average_precision(y: np.ndarray, p: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Area under the precision-recall curve (step sum over distinct cut-offs) per weight row."""
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order].astype(np.float64)
    w = weights[:, order]
    ends = np.flatnonzero(np.r_[p_sorted[1:] != p_sorted[:-1], True])
    tp = np.cumsum(w * y_sorted, axis=1)[:, ends]
    seen = np.cumsum(w, axis=1)[:, ends]
    positives = tp[:, -1:]
    precision = _safe_divide(tp, seen)
    recall = _safe_divide(tp, np.broadcast_to(positives, tp.shape))
    step = np.diff(np.concatenate([np.zeros((len(w), 1)), recall], axis=1), axis=1)
    return np.where(positives[:, 0] > 0, np.nansum(step * np.nan_to_num(precision), axis=1), np.nan)


def weighted_means(
    y: np.ndarray, p: np.ndarray, weights: np.ndarray, threshold: float
) -> dict[str, np.ndarray]:
    """Log loss, Brier, precision, recall, F1, positive rate and accuracy per weight row."""
    eps = np.finfo(np.float64).eps
    pc = np.clip(p, eps, 1 - eps)
    yf = y.astype(np.float64)
    total = weights.sum(axis=1)
    log_loss = weights @ -(yf * np.log(pc) + (1 - yf) * np.log(1 - pc))
    brier = weights @ (p - yf) ** 2
    pred = (p >= threshold).astype(np.float64)
    tp = weights @ (pred * yf)
    fp = weights @ (pred * (1 - yf))
    fn = weights @ ((1 - pred) * yf)
    return {
        "log_loss": _safe_divide(log_loss, total),
        "brier": _safe_divide(brier, total),
        "precision": np.nan_to_num(_safe_divide(tp, tp + fp)),
        "recall": np.nan_to_num(_safe_divide(tp, tp + fn)),
        "f1": np.nan_to_num(_safe_divide(2 * tp, 2 * tp + fp + fn)),
        "positive_rate": _safe_divide(weights @ pred, total),
        "accuracy": _safe_divide(weights @ (pred == yf).astype(np.float64), total),
    }


def weighted_calibration(
    y: np.ndarray, p: np.ndarray, weights: np.ndarray, bins: int = CALIBRATION_BINS
) -> np.ndarray:
    """Expected calibration error on equal-width probability bins, per weight row."""
    index = np.minimum((p * bins).astype(int), bins - 1)
    onehot = np.zeros((len(p), bins))
    onehot[np.arange(len(p)), index] = 1.0
    count = weights @ onehot
    observed = weights @ (onehot * y[:, None].astype(np.float64))
    predicted = weights @ (onehot * p[:, None])
    gap = np.abs(observed - predicted)
    return _safe_divide(gap.sum(axis=1), count.sum(axis=1))


def weighted_top_share(
    y: np.ndarray, p: np.ndarray, weights: np.ndarray, share: float = TOP_SHARE
) -> dict[str, np.ndarray]:
    """Capture (share of positives) and lift in the top ``share`` of rows by score."""
    order = np.argsort(-p, kind="mergesort")
    w = weights[:, order]
    yf = y[order].astype(np.float64)
    total = w.sum(axis=1, keepdims=True)
    before = np.cumsum(w, axis=1) - w
    in_top = before < share * total
    positives = w @ yf
    capture = _safe_divide((w * in_top) @ yf, positives)
    return {"capture_top_decile": capture, "lift_top_decile": capture / share}


def all_metrics(
    y: np.ndarray, p: np.ndarray, weights: np.ndarray, threshold: float
) -> dict[str, np.ndarray]:
    """Every report metric per weight row."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    out = {"auc": weighted_auc(y, p, weights), "pr_auc": weighted_average_precision(y, p, weights)}
    out.update(weighted_means(y, p, weights, threshold))
    out["ece"] = weighted_calibration(y, p, weights)
    out.update(weighted_top_share(y, p, weights))
    return out


def reliability_curve(
    y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS
) -> list[dict[str, float]]:
    """Mean predicted and observed event rate per equal-width probability bin."""
    index = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    curve = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            curve.append(
                {
                    "bin_low": b / bins,
                    "bin_high": (b + 1) / bins,
                    "n": int(mask.sum()),
                    "predicted": float(np.mean(p[mask])),
                    "observed": float(np.mean(y[mask])),
                }
            )
    return curve
