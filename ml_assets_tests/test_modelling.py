"""Tests of ml_assets.modelling: the hash split, the training window, threshold and pipeline."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, roc_auc_score
from threadpoolctl import threadpool_limits

from ml_assets import modelling as mdl
from ml_assets.features import (
    FEATURE_COLUMNS,
    SERVING_COLUMNS,
    build_customer_features,
    features_to_landing_rows,
)
from ml_assets.schemas import TrainingSet
from ml_assets_examples.churn.generator import GeneratorConfig, generate_day

START = dt.date(2025, 1, 1)


# --------------------------------------------------------------------------- split


def ids(n, prefix="C"):
    return pd.Series([f"{prefix}{i:07d}" for i in range(n)])


def test_split_is_deterministic_and_independent_of_order_and_company():
    base = ids(2000)
    first = mdl.split_by_customer(base)
    assert first.equals(mdl.split_by_customer(base))
    # Shuffled rows, and extra customers mixed in, give every id the same split.
    shuffled = base.sample(frac=1.0, random_state=1).reset_index(drop=True)
    mixed = pd.concat([ids(500, "X"), shuffled], ignore_index=True)
    expected = dict(zip(base, first, strict=True))
    for series in (shuffled, mixed):
        split = mdl.split_by_customer(series)
        for cid, part in zip(series, split, strict=True):
            if cid in expected:
                assert part == expected[cid]


def test_split_keeps_index_and_labels():
    series = pd.Series(["a", "b", "c"], index=[10, 20, 30])
    split = mdl.split_by_customer(series)
    assert list(split.index) == [10, 20, 30]
    assert set(split) <= {"train", "test"}


def test_split_depends_on_salt():
    base = ids(2000)
    assert not mdl.split_by_customer(base).equals(mdl.split_by_customer(base, salt="other"))


def test_same_customer_same_split_across_days():
    config = GeneratorConfig(start=START, rows_per_day=400, seed=9)
    frames = [generate_day(config, START + dt.timedelta(days=i))[0] for i in range(5)]
    rows = pd.concat(frames, ignore_index=True)
    rows["split"] = mdl.split_by_customer(rows["customer_id"])
    per_customer = rows.groupby("customer_id")["split"].nunique()
    assert rows["customer_id"].duplicated().any()  # customers do recur across days
    assert (per_customer == 1).all()


def test_test_share_is_near_the_fraction():
    for fraction in (0.2, 0.35):
        share = (mdl.split_by_customer(ids(20_000), fraction) == "test").mean()
        assert abs(share - fraction) < 0.015  # binomial sd is about 0.003 here


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_rejects_invalid_fractions(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        mdl.split_by_customer(ids(3), fraction)


# --------------------------------------------------------------------------- window


def labelled_frame():
    """Five days; day 5 has no labels, day 4 is half labelled."""
    rows = []
    for d in range(1, 6):
        for c in range(4):
            if d == 5:
                label = pd.NA
            elif d == 4:
                label = 1 if c < 2 else pd.NA
            else:
                label = c % 2
            rows.append(
                {
                    "customer_id": f"C{c}",
                    "snapshot_date": pd.Timestamp(2025, 1, d),
                    "churned": label,
                }
            )
    frame = pd.DataFrame(rows)
    frame["churned"] = frame["churned"].astype("Int64")
    return frame.sample(frac=1.0, random_state=0)  # order must not matter


def test_window_takes_most_recent_labelled_days():
    window = mdl.select_training_window(labelled_frame(), 2)
    days = sorted(window["snapshot_date"].dt.day.unique())
    assert days == [3, 4]
    assert window["churned"].notna().all()
    assert (window["snapshot_date"].dt.day == 4).sum() == 2  # only the labelled half of day 4
    assert list(window.index) == list(range(len(window)))
    assert window.equals(window.sort_values(["snapshot_date", "customer_id"], ignore_index=True))


def test_window_larger_than_history_takes_all_labelled_rows():
    frame = labelled_frame()
    window = mdl.select_training_window(frame, 30)
    assert len(window) == frame["churned"].notna().sum()


def test_window_without_labels_or_days_is_refused():
    frame = labelled_frame()
    frame["churned"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    with pytest.raises(ValueError, match="No labelled rows"):
        mdl.select_training_window(frame, 3)
    with pytest.raises(ValueError, match="window_days"):
        mdl.select_training_window(labelled_frame(), 0)


# --------------------------------------------------------------------------- threshold


def brute_force_f1(y, proba):
    """Best F1 of the rules proba >= t over every distinct score t, with sklearn's f1_score."""
    cuts = np.unique(proba)
    scores = np.array([f1_score(y, (proba >= t).astype(int), zero_division=0) for t in cuts])
    return cuts, scores


@pytest.mark.parametrize("rounded", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("seed", range(4))
def test_f1_optimal_threshold_matches_brute_force(seed, rounded):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 100))
    y = (rng.random(n) < 0.3).astype(int)
    proba = np.clip(0.25 * y + 0.75 * rng.random(n), 0, 1)
    if rounded:
        proba = np.round(proba, 1)
    cut = mdl.f1_optimal_threshold(y, proba)
    cuts, scores = brute_force_f1(y, proba)
    assert cut in cuts
    best = scores.max()
    assert f1_score(y, (proba >= cut).astype(int)) == pytest.approx(best, abs=1e-12)


def test_f1_optimal_threshold_ties_resolve_to_lowest_cut():
    # Cuts 0.9 and 0.6 both give F1 = 2/3 (0.8 and 0.7 give less).
    y = np.array([1, 0, 0, 1])
    proba = np.array([0.9, 0.8, 0.7, 0.6])
    cuts, scores = brute_force_f1(y, proba)
    lowest_best = cuts[np.isclose(scores, scores.max())].min()
    assert lowest_best == 0.6
    assert mdl.f1_optimal_threshold(y, proba) == lowest_best


# --------------------------------------------------------------------------- training


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """One OpenMP thread: gradient boosting stalls badly on a shared, busy machine."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def features():
    config = GeneratorConfig(start=START, rows_per_day=1000, seed=21)
    rows = pd.concat(
        [generate_day(config, START + dt.timedelta(days=i))[0] for i in range(8)], ignore_index=True
    )
    return build_customer_features(rows), rows


@pytest.fixture(scope="module")
def trained(features):
    training_set = mdl.build_training_set(features[0], window_days=8, test_fraction=0.2)
    train = training_set[training_set["split"] == "train"]
    params = mdl.ModelParams(max_iter=60)
    return training_set, mdl.train_churn_model(train, params, cv_folds=2)


def test_training_set_fits_its_schema_and_split(trained):
    training_set, _ = trained
    TrainingSet.validate(training_set)
    expected = mdl.split_by_customer(training_set["customer_id"])
    assert (training_set["split"] == expected).all()
    share = (training_set["split"] == "test").mean()
    assert 0.15 < share < 0.25


def test_trained_model_ranks_test_customers_well(trained):
    training_set, model = trained
    train = training_set[training_set["split"] == "train"]
    test = training_set[training_set["split"] == "test"]
    assert set(train["customer_id"]).isdisjoint(test["customer_id"])
    proba = mdl.predict_from_features(model.pipeline, test)
    assert roc_auc_score(test["churned"].astype(int), proba) > 0.7
    assert model.train_rows == len(train)
    assert model.train_positives == int(train["churned"].sum())
    assert 0 < model.threshold < 1


def test_full_pipeline_on_raw_rows_equals_features_path(trained, features):
    _, model = trained
    _, rows = features
    sample = rows.iloc[::7]
    raw = sample[SERVING_COLUMNS]
    from_raw = model.pipeline.predict_proba(raw)[:, 1]
    from_features = mdl.predict_from_features(model.pipeline, build_customer_features(raw))
    np.testing.assert_allclose(from_raw, from_features, rtol=0, atol=0)
    assert from_raw.std() > 0.05  # real predictions, not a constant


def test_train_refuses_empty_or_single_class(features):
    feats = features[0][features[0]["churned"].notna()]
    with pytest.raises(ValueError, match="empty"):
        mdl.train_churn_model(feats.iloc[0:0], mdl.ModelParams())
    single = feats[feats["churned"] == 0]
    with pytest.raises(ValueError, match="single class"):
        mdl.train_churn_model(single, mdl.ModelParams())


def test_features_to_landing_rows_round_trips(features):
    feats = features[0]
    rows = features_to_landing_rows(feats)
    again = build_customer_features(rows)
    assert list(again.columns) == FEATURE_COLUMNS
    pd.testing.assert_frame_equal(again, feats)
    # The rebuilt landing rows equal the generator's own rows where they overlap.
    original = features[1]
    for col in ("signup_date", "monthly_charges", "logins_30d", "auto_renew"):
        pd.testing.assert_series_equal(rows[col], original[col], check_dtype=False)
