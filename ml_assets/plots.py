"""Evaluation plots as PNG bytes (matplotlib imported lazily, Agg backend, no display)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd


def _figure(width: float = 4.2, height: float = 3.4):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=90)
    return plt, fig, ax


def _png(plt, fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-p, kind="mergesort")
    ys = y[order].astype(float)
    tpr = np.r_[0, np.cumsum(ys) / max(ys.sum(), 1)]
    fpr = np.r_[0, np.cumsum(1 - ys) / max((1 - ys).sum(), 1)]
    return fpr, tpr


def roc_png(y: np.ndarray, curves: dict[str, np.ndarray]) -> bytes:
    plt, fig, ax = _figure()
    for label, p in curves.items():
        fpr, tpr = _roc_points(y, p)
        ax.plot(fpr, tpr, label=label)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right", fontsize=8)
    return _png(plt, fig)


def pr_png(y: np.ndarray, curves: dict[str, np.ndarray]) -> bytes:
    plt, fig, ax = _figure()
    for label, p in curves.items():
        order = np.argsort(-p, kind="mergesort")
        ys = y[order].astype(float)
        tp = np.cumsum(ys)
        ax.plot(tp / max(ys.sum(), 1), tp / np.arange(1, len(ys) + 1), label=label)
    ax.axhline(float(np.mean(y)), color="grey", lw=0.8, ls="--")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0, 1))
    ax.legend(loc="upper right", fontsize=8)
    return _png(plt, fig)


def calibration_png(curves: dict[str, list[dict]]) -> bytes:
    plt, fig, ax = _figure()
    for label, points in curves.items():
        ax.plot(
            [c["predicted"] for c in points],
            [c["observed"] for c in points],
            marker="o",
            label=label,
        )
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(
        xlabel="mean predicted probability",
        ylabel="observed churn rate",
        title="Calibration",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left", fontsize=8)
    return _png(plt, fig)


def segment_png(report: pd.DataFrame, metric: str = "auc") -> bytes:
    rows = report[(report["metric"] == metric) & (report["role"] == "challenger")]
    rows = rows.assign(label=rows["segment_column"] + "=" + rows["segment_value"])
    plt, fig, ax = _figure(5.2, 0.28 * len(rows) + 1.2)
    ypos = np.arange(len(rows))
    err = np.vstack([rows["value"] - rows["ci_low"], rows["ci_high"] - rows["value"]])
    ax.errorbar(rows["value"], ypos, xerr=np.nan_to_num(err), fmt="o", ms=3, capsize=2)
    ax.set_yticks(ypos, rows["label"], fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel=f"{metric} (95 % bootstrap interval)", title=f"{metric} by segment")
    return _png(plt, fig)
