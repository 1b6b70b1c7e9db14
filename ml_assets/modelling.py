"""Training set assembly, the deterministic split and the sklearn Pipeline.

sklearn is imported inside functions: this module is imported by the code location, and
the UI, the daemon and sensor ticks should not pay for sklearn at load time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ml_assets import settings
from ml_assets.features import (
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    LABEL,
    MODEL_FEATURES,
    NUMERIC_FEATURES,
    model_inputs,
)

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

SPLIT_SALT = "ml_assets-split-v1"


def is_test_customer(customer_id: str, test_fraction: float, salt: str = SPLIT_SALT) -> bool:
    """Whether a customer belongs to the test split: a stable hash, not a random draw."""
    digest = hashlib.blake2b(f"{salt}:{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < test_fraction


def split_by_customer(
    customer_ids: pd.Series, test_fraction: float = 0.2, salt: str = SPLIT_SALT
) -> pd.Series:
    """'train' or 'test' per row, by customer id hash.

    Every snapshot of a customer lands in the same split, so the test split never holds a
    customer the model saw in training; the same id always gets the same split, whatever
    the window or the machine.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    unique = pd.unique(customer_ids.astype(str))
    lookup = {cid: is_test_customer(cid, test_fraction, salt) for cid in unique}
    is_test = customer_ids.astype(str).map(lookup).to_numpy(dtype=bool)
    return pd.Series(np.where(is_test, "test", "train"), index=customer_ids.index, dtype=object)


def select_training_window(
    features: pd.DataFrame, window_days: int, since: dt.date | None = None, min_rows: int = 0
) -> pd.DataFrame:
    """Labelled rows of the ``window_days`` most recent days that carry labels.

    With ``since``, days before it are left out, so a retrain after a change in the relation
    between inputs and churn learns only the new relation. When the days from ``since`` on
    hold fewer than ``min_rows`` labelled rows, the most recent earlier days of the window are
    kept, one at a time, until they do (the gate needs enough test rows to decide).
    """
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, got {window_days}")
    labelled = features[features[LABEL].notna()]
    days = np.sort(labelled["snapshot_date"].unique())
    if len(days) == 0:
        raise ValueError(
            "No labelled rows in features.customer_features; ingest days whose landing files "
            "carry the churned column before training."
        )
    chosen = days[-window_days:]
    if since is not None:
        counts = labelled["snapshot_date"].value_counts()
        first = int(np.searchsorted(chosen, np.datetime64(since, "ns")))
        # Reach back over earlier days only while the rows since the change are too few.
        while first > 0 and counts[chosen[first:]].sum() < min_rows:
            first -= 1
        chosen = chosen[first:]
        if len(chosen) == 0:
            raise ValueError(
                f"No labelled day on or after {since} among the {window_days} most recent "
                "labelled days; ingest the days since the drift before retraining, or clear "
                "the since setting."
            )
    window = labelled[labelled["snapshot_date"].isin(chosen)]
    return window.sort_values(["snapshot_date", "customer_id"]).reset_index(drop=True)


def build_training_set(
    features: pd.DataFrame,
    window_days: int,
    test_fraction: float,
    since: dt.date | None = None,
    min_rows: int = 0,
) -> pd.DataFrame:
    """The ``training.training_set`` table: a labelled window plus the split column."""
    window = select_training_window(features, window_days, since, min_rows)
    out = window[FEATURE_COLUMNS].copy()
    out[LABEL] = out[LABEL].astype("Int64")
    out["split"] = split_by_customer(out["customer_id"], test_fraction)
    return out


@dataclass(frozen=True)
class ModelParams:
    """Hyper-parameters of the gradient-boosted estimator."""

    learning_rate: float = 0.05
    max_iter: int = 250
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    seed: int = 7

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _estimator_pipeline(params: ModelParams) -> Pipeline:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    preprocess = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median", add_indicator=True), NUMERIC_FEATURES),
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                CATEGORICAL_FEATURES,
            ),
        ]
    )
    estimator = HistGradientBoostingClassifier(
        learning_rate=params.learning_rate,
        max_iter=params.max_iter,
        max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        early_stopping=False,
        random_state=params.seed,
    )
    return Pipeline([("preprocess", preprocess), ("classifier", estimator)])


def full_pipeline(fitted_estimator: Pipeline) -> Pipeline:
    """Raw landing rows -> probability: the feature function in front of the estimator."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    return Pipeline(
        [("features", FunctionTransformer(model_inputs)), ("estimator", fitted_estimator)]
    )


def estimator_of(pipeline: Pipeline) -> Pipeline:
    """The part of a full pipeline that takes feature rows (batch scoring reads features)."""
    return pipeline.named_steps["estimator"]


def compute_threads():
    """A context limiting OpenMP threads (see ``settings.compute_threads``)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=settings.compute_threads(), user_api="openmp")


def predict_from_features(pipeline: Pipeline, features: pd.DataFrame) -> np.ndarray:
    """Churn probabilities for rows of ``features.customer_features``."""
    with compute_threads():
        return estimator_of(pipeline).predict_proba(features[MODEL_FEATURES])[:, 1]


@dataclass
class TrainedModel:
    pipeline: Pipeline
    params: ModelParams
    threshold: float
    train_rows: int
    train_positives: int
    metrics: dict[str, float] = field(default_factory=dict)
    search: list[dict[str, Any]] = field(default_factory=list)


def f1_optimal_threshold(y: np.ndarray, proba: np.ndarray) -> float:
    """The probability cut that maximises F1 (ties: the lowest such cut)."""
    order = np.argsort(-proba, kind="mergesort")
    y_sorted = y[order].astype(float)
    p_sorted = proba[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(1 - y_sorted)
    positives = y_sorted.sum()
    f1 = 2 * tp / (tp + fp + positives)
    # Only cut between distinct scores: a threshold cannot separate equal probabilities.
    last_of_run = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    f1 = np.where(last_of_run, f1, -1)
    # The last maximum in descending score order is the lowest cut among ties.
    best = len(f1) - 1 - int(np.argmax(f1[::-1]))
    return float(p_sorted[best])


def search_space(base: ModelParams) -> list[ModelParams]:
    """The documented search budget: 2 learning rates x 2 tree sizes around ``base``.

    Four candidates, each scored by k-fold CV on the train split: 4 x k fits plus the final
    fit, so a retrain stays within a minute on a laptop.
    """
    return [
        replace(base, learning_rate=lr, max_leaf_nodes=leaves)
        for lr in (base.learning_rate, base.learning_rate * 2)
        for leaves in (max(4, base.max_leaf_nodes // 2), base.max_leaf_nodes)
    ]


def _out_of_fold(params: ModelParams, x: pd.DataFrame, y: np.ndarray, folds) -> np.ndarray:
    from sklearn.model_selection import cross_val_predict

    return cross_val_predict(_estimator_pipeline(params), x, y, cv=folds, method="predict_proba")[
        :, 1
    ]


def train_churn_model(
    train: pd.DataFrame,
    params: ModelParams,
    cv_folds: int = 3,
    candidates: list[ModelParams] | None = None,
) -> TrainedModel:
    """Fit the pipeline on the train split; choose parameters and threshold on it alone.

    With ``candidates``, each is scored by the AUC of its out-of-fold predictions (same
    stratified folds for all, seeded), and the best is refitted on the whole train split.
    The operating threshold maximises F1 on the chosen candidate's out-of-fold predictions,
    so the test split plays no part in any choice.
    """
    from sklearn.model_selection import StratifiedKFold

    from ml_assets.evaluation import roc_auc

    if train.empty:
        raise ValueError("The train split is empty; widen the training window.")
    y = train[LABEL].astype(int).to_numpy()
    if len(np.unique(y)) < 2:
        raise ValueError("The train split holds a single class; widen the training window.")
    x = train[MODEL_FEATURES]
    folds = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=params.seed)
    search, best, best_oof, best_auc = [], params, None, -np.inf
    with compute_threads():
        for candidate in candidates or [params]:
            oof = _out_of_fold(candidate, x, y, folds)
            auc = roc_auc(y, oof)
            search.append({**candidate.as_dict(), "cv_auc": auc, "cv_folds": cv_folds})
            if auc > best_auc:
                best, best_oof, best_auc = candidate, oof, auc
        estimator = _estimator_pipeline(best).fit(x, y)
    threshold = f1_optimal_threshold(y, best_oof)
    return TrainedModel(
        pipeline=full_pipeline(estimator),
        params=best,
        threshold=threshold,
        train_rows=len(train),
        train_positives=int(y.sum()),
        metrics={"cv_auc": best_auc},
        search=search,
    )
