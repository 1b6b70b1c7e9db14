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
from ml_assets.dataset import DatasetSpec, active_spec
from ml_assets.dataset.spec import spec_to_dict
from ml_assets.features import model_inputs

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

SPLIT_SALT = "ml_assets-split-v1"


def _spec(spec: DatasetSpec | None) -> DatasetSpec:
    return spec if spec is not None else active_spec()


def is_test_id(entity_id: str, test_fraction: float, salt: str = SPLIT_SALT) -> bool:
    """Whether an id belongs to the test split: a stable hash, not a random draw."""
    digest = hashlib.blake2b(f"{salt}:{entity_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < test_fraction


def split_by_id(ids: pd.Series, test_fraction: float = 0.2, salt: str = SPLIT_SALT) -> pd.Series:
    """'train' or 'test' per row, by a hash of the spec's id column.

    Every row of an id lands in the same split, so the test split never holds an id the
    model saw in training; the same id always gets the same split, whatever the window or
    the machine.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    unique = pd.unique(ids.astype(str))
    lookup = {value: is_test_id(value, test_fraction, salt) for value in unique}
    is_test = ids.astype(str).map(lookup).to_numpy(dtype=bool)
    return pd.Series(np.where(is_test, "test", "train"), index=ids.index, dtype=object)


def date_test_days(n_days: int, test_fraction: float, test_days: int | None = None) -> int:
    """How many of a window's ``n_days`` latest days a split by date tests on: ``test_days``
    when set, else the test fraction of the days (at least one); always leaving one day to
    train on."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    wanted = test_days if test_days is not None else max(1, round(n_days * test_fraction))
    return max(0, min(wanted, n_days - 1))


def split_by_date(
    dates: pd.Series, test_fraction: float = 0.2, test_days: int | None = None
) -> pd.Series:
    """'train' or 'test' per row: the window's latest days are the test split.

    For data whose rows share a day's conditions (the flights of an hour share its weather),
    a test row drawn from a training day is not new data: the test metrics, the
    performance-drift baseline and the gate are then measured on days after every training
    day, as the model will be used. Deterministic: it depends on the dates alone.
    """
    days = pd.to_datetime(dates).dt.normalize()
    unique = np.sort(days.unique())
    if len(unique) < 2:
        raise ValueError(
            f"A split by date needs at least 2 labelled days in the window, found {len(unique)}; "
            "widen window_days or use split: {by: id} in the dataset spec."
        )
    n_test = date_test_days(len(unique), test_fraction, test_days)
    is_test = days.isin(unique[len(unique) - n_test :]).to_numpy(dtype=bool)
    return pd.Series(np.where(is_test, "test", "train"), index=dates.index, dtype=object)


def split_rows(frame: pd.DataFrame, test_fraction: float, spec: DatasetSpec) -> pd.Series:
    """The spec's test split of a window's rows (``split:`` key; by id hash by default)."""
    if spec.split.by == "date":
        return split_by_date(frame[spec.date_column], test_fraction, spec.split.test_days)
    return split_by_id(frame[spec.id_column], test_fraction)


# Earlier names, kept for callers written before the dataset spec.
is_test_customer = is_test_id
split_by_customer = split_by_id


def select_training_window(
    features: pd.DataFrame,
    window_days: int,
    since: dt.date | None = None,
    min_rows: int = 0,
    spec: DatasetSpec | None = None,
) -> pd.DataFrame:
    """Labelled rows of the ``window_days`` most recent days that carry labels.

    With ``since``, days before it are left out, so a retrain after a change in the relation
    between inputs and the target learns only the new relation. When the days from ``since`` on
    hold fewer than ``min_rows`` labelled rows, the most recent earlier days of the window are
    kept, one at a time, until they do (the gate needs enough test rows to decide), and
    until at least the spec's ``retrain: {min_days: N}`` days are kept (0 by default).
    """
    spec = _spec(spec)
    date, label = spec.date_column, spec.target.column
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, got {window_days}")
    labelled = features[features[label].notna()]
    days = np.sort(labelled[date].unique())
    if len(days) == 0:
        raise ValueError(
            f"No labelled rows in {spec.names.features_table}; ingest days whose landing files "
            f"carry the {label} column before training."
        )
    chosen = days[-window_days:]
    if since is not None:
        counts = labelled[date].value_counts()
        first = int(np.searchsorted(chosen, np.datetime64(since, "ns")))
        # Reach back over earlier days only while the rows since the change are too few.
        while first > 0 and counts[chosen[first:]].sum() < min_rows:
            first -= 1
        # A day or two of rows that share their days' conditions is too few to learn from,
        # and too few to judge on: keep at least min_days days (the window caps it).
        first = min(first, max(0, len(chosen) - spec.retrain_min_days))
        chosen = chosen[first:]
        if len(chosen) == 0:
            raise ValueError(
                f"No labelled day on or after {since} among the {window_days} most recent "
                "labelled days; ingest the days since the drift before retraining, or clear "
                "the since setting."
            )
    window = labelled[labelled[date].isin(chosen)]
    return window.sort_values([date, spec.id_column]).reset_index(drop=True)


def build_training_set(
    features: pd.DataFrame,
    window_days: int,
    test_fraction: float,
    since: dt.date | None = None,
    min_rows: int = 0,
    spec: DatasetSpec | None = None,
) -> pd.DataFrame:
    """The training-set table: a labelled window plus the split column."""
    spec = _spec(spec)
    window = select_training_window(features, window_days, since, min_rows, spec)
    out = window[spec.feature_table_columns].copy()
    label = spec.target.column
    out[label] = out[label].astype("Int64")
    out["split"] = split_rows(out, test_fraction, spec)
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


def _estimator_pipeline(params: ModelParams, spec: DatasetSpec) -> Pipeline:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    parts = []
    if spec.numeric_features:
        parts.append(
            (
                "numeric",
                SimpleImputer(strategy="median", add_indicator=True),
                list(spec.numeric_features),
            )
        )
    if spec.categorical_features:
        parts.append(
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(spec.categorical_features),
            )
        )
    preprocess = ColumnTransformer(parts)
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


def full_pipeline(fitted_estimator: Pipeline, spec: DatasetSpec | None = None) -> Pipeline:
    """Raw landing rows -> probability: the feature function in front of the estimator.

    The spec travels inside the pipeline as plain data, so the served model checks request
    rows against the spec's landing rules and runs the spec's derive function by itself.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    features = FunctionTransformer(model_inputs, kw_args={"spec": spec_to_dict(_spec(spec))})
    return Pipeline([("features", features), ("estimator", fitted_estimator)])


def estimator_of(pipeline: Pipeline) -> Pipeline:
    """The part of a full pipeline that takes feature rows (batch scoring reads features)."""
    return pipeline.named_steps["estimator"]


def compute_threads():
    """A context limiting OpenMP threads (see ``settings.compute_threads``)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=settings.compute_threads(), user_api="openmp")


def predict_from_features(pipeline: Pipeline, features: pd.DataFrame) -> np.ndarray:
    """Event probabilities for rows of the feature table (the columns the model was fitted on)."""
    estimator = estimator_of(pipeline)
    with compute_threads():
        return estimator.predict_proba(features[list(estimator.feature_names_in_)])[:, 1]


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


def _out_of_fold(
    params: ModelParams, x: pd.DataFrame, y: np.ndarray, folds, spec: DatasetSpec
) -> np.ndarray:
    from sklearn.model_selection import cross_val_predict

    pipeline = _estimator_pipeline(params, spec)
    return cross_val_predict(pipeline, x, y, cv=folds, method="predict_proba")[:, 1]


def train_model(
    train: pd.DataFrame,
    params: ModelParams,
    cv_folds: int = 3,
    candidates: list[ModelParams] | None = None,
    spec: DatasetSpec | None = None,
) -> TrainedModel:
    """Fit the pipeline on the train split; choose parameters and threshold on it alone.

    With ``candidates``, each is scored by the AUC of its out-of-fold predictions (same
    stratified folds for all, seeded), and the best is refitted on the whole train split.
    The operating threshold maximises F1 on the chosen candidate's out-of-fold predictions,
    so the test split plays no part in any choice.
    """
    from sklearn.model_selection import StratifiedKFold

    from ml_assets.evaluation import roc_auc

    spec = _spec(spec)
    if train.empty:
        raise ValueError("The train split is empty; widen the training window.")
    y = train[spec.target.column].astype(int).to_numpy()
    if len(np.unique(y)) < 2:
        raise ValueError("The train split holds a single class; widen the training window.")
    x = train[spec.model_features]
    folds = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=params.seed)
    search, best, best_oof, best_auc = [], params, None, -np.inf
    with compute_threads():
        for candidate in candidates or [params]:
            oof = _out_of_fold(candidate, x, y, folds, spec)
            auc = roc_auc(y, oof)
            search.append({**candidate.as_dict(), "cv_auc": auc, "cv_folds": cv_folds})
            if auc > best_auc:
                best, best_oof, best_auc = candidate, oof, auc
        estimator = _estimator_pipeline(best, spec).fit(x, y)
    threshold = f1_optimal_threshold(y, best_oof)
    return TrainedModel(
        pipeline=full_pipeline(estimator, spec),
        params=best,
        threshold=threshold,
        train_rows=len(train),
        train_positives=int(y.sum()),
        metrics={"cv_auc": best_auc},
        search=search,
    )


train_churn_model = train_model  # the earlier name
