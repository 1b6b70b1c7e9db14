"""The generic feature function on the churn spec gives exactly the features the hand-written
churn function gave; the served model's first step refuses rows that break the spec."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ml_assets.dataset import active_spec
from ml_assets.dataset.schemas import features_model
from ml_assets.dataset.spec import spec_from_dict, spec_to_dict
from ml_assets.features import (
    FeatureError,
    ServingInputError,
    build_features,
    features_to_landing_rows,
    model_inputs,
)
from ml_assets_examples.churn import generator

SPEC = active_spec()


def reference_churn_features(snapshots: pd.DataFrame) -> pd.DataFrame:
    """The churn feature function as it was written before the dataset spec (the reference)."""
    snapshot_date = pd.to_datetime(snapshots["snapshot_date"])
    signup_date = pd.to_datetime(snapshots["signup_date"])
    tenure_days = (snapshot_date - signup_date).dt.days.astype("int64")
    total = snapshots["total_charges"].astype("float64")
    tenure_months = np.maximum(tenure_days.to_numpy() / 30.44, 1.0)
    logins = snapshots["logins_30d"].astype("int64")
    session = snapshots["avg_session_minutes"].astype("float64")
    churned = (
        snapshots["churned"].astype("Int64")
        if "churned" in snapshots
        else pd.Series(pd.NA, index=snapshots.index, dtype="Int64")
    )
    return pd.DataFrame(
        {
            "customer_id": snapshots["customer_id"].astype(str),
            "snapshot_date": snapshot_date,
            "plan": snapshots["plan"].astype(str),
            "contract": snapshots["contract"].astype(str),
            "payment_method": snapshots["payment_method"].astype(str),
            "region": snapshots["region"].astype(str),
            "tenure_days": tenure_days,
            "monthly_charges": snapshots["monthly_charges"].astype("float64"),
            "total_charges": total,
            "charges_per_tenure_month": total / tenure_months,
            "support_calls_30d": snapshots["support_calls_30d"].astype("int64"),
            "logins_30d": logins,
            "avg_session_minutes": session,
            "engagement_minutes_30d": logins * session,
            "days_since_last_login": snapshots["days_since_last_login"].astype("int64"),
            "auto_renew": snapshots["auto_renew"].astype(bool).astype("int64"),
            "is_new_customer": (tenure_days < 30).astype("int64"),
            "churned": churned,
        },
        index=snapshots.index,
    )


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    config = generator.GeneratorConfig(rows_per_day=600)
    return generator.generate_day(config, dt.date(2025, 2, 3))[0]


def test_generic_features_equal_the_hand_written_churn_features(rows):
    got = build_features(rows, SPEC)
    pd.testing.assert_frame_equal(got, reference_churn_features(rows))
    assert list(got.columns) == SPEC.feature_table_columns
    features_model(SPEC).validate(got)
    # Without the label (a serving request) the target is unknown, not an error.
    no_label = build_features(rows.drop(columns=["churned"]), SPEC)
    assert no_label["churned"].isna().all()
    pd.testing.assert_frame_equal(
        no_label.drop(columns="churned"), got.drop(columns="churned"), check_dtype=True
    )


def test_landing_rows_round_trip(rows):
    features = build_features(rows, SPEC)
    again = features_to_landing_rows(features, SPEC)
    assert list(again.columns) == SPEC.landing_columns
    pd.testing.assert_frame_equal(build_features(again, SPEC), features)


def test_spec_survives_the_plain_dict_stored_in_the_model():
    assert spec_from_dict(spec_to_dict(SPEC)) == SPEC


def test_model_inputs_score_valid_rows_like_batch_features(rows):
    served = model_inputs(rows[SPEC.serving_columns], spec_to_dict(SPEC))
    pd.testing.assert_frame_equal(served, build_features(rows, SPEC)[SPEC.model_features])


def test_model_inputs_refuse_rows_that_break_the_spec(rows):
    request = rows[SPEC.serving_columns].head(4).copy()
    request.loc[request.index[1], "plan"] = "gold"
    request.loc[request.index[3], "monthly_charges"] = -71.5
    with pytest.raises(ServingInputError) as info:
        model_inputs(request, spec_to_dict(SPEC))
    message = str(info.value)
    assert "row 1, column plan: value 'gold' breaks rule 'isin(" in message
    assert "row 3, column monthly_charges: value -71.5 breaks rule 'greater_than_or_equal_to(0" in (
        message
    )
    assert "row 0" not in message and "row 2" not in message
    # The scoring server answers an MlflowException's code: 400 for this one.
    assert info.value.get_http_status_code() == 400
    with pytest.raises(ServingInputError, match="missing column"):
        model_inputs(request.drop(columns=["region"]), SPEC)


def test_a_derive_function_that_raises_is_named(rows, tmp_path):
    (tmp_path / "broken_derive_for_test.py").write_text(
        "def derive(rows):\n    raise ZeroDivisionError('boom')\n"
    )
    spec_text = SPEC.path.read_text().replace(
        "ml_assets_examples.churn.features:derive", "broken_derive_for_test:derive"
    )
    (tmp_path / "spec.yaml").write_text(spec_text)
    from ml_assets.dataset import load_spec

    broken = load_spec(tmp_path / "spec.yaml")
    with pytest.raises(FeatureError) as info:
        build_features(rows, broken)
    assert "features.derive: broken_derive_for_test:derive raised ZeroDivisionError: boom" in str(
        info.value
    )
