"""The one feature function, shared by training, batch scoring and the served model.

Row-wise and stateless: a row's features depend only on that row, so the same function
can run on a whole day in the warehouse or on a single request, with identical results.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml_assets.schemas import LANDING_COLUMNS, CustomerFeatures

ID_COLUMNS = ["customer_id", "snapshot_date"]
LABEL = "churned"
CATEGORICAL_FEATURES = ["plan", "contract", "payment_method", "region"]
NUMERIC_FEATURES = [
    "tenure_days",
    "monthly_charges",
    "total_charges",
    "charges_per_tenure_month",
    "support_calls_30d",
    "logins_30d",
    "avg_session_minutes",
    "engagement_minutes_30d",
    "days_since_last_login",
    "auto_renew",
    "is_new_customer",
]
MODEL_FEATURES = CATEGORICAL_FEATURES + NUMERIC_FEATURES
FEATURE_COLUMNS: list[str] = list(CustomerFeatures.to_schema().columns)
NEW_CUSTOMER_DAYS = 30
# What a serving request carries: the landing schema without the label.
SERVING_COLUMNS = [c for c in LANDING_COLUMNS if c != LABEL]


def build_customer_features(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Derive model features from landing-schema rows.

    Parameters
    ----------
    snapshots
        Rows with the landing schema's columns (extra columns are ignored; ``churned`` may
        be absent, as in a serving request).

    Returns
    -------
    pandas.DataFrame
        The ``features.customer_features`` columns, in order.
    """
    snapshot_date = pd.to_datetime(snapshots["snapshot_date"])
    signup_date = pd.to_datetime(snapshots["signup_date"])
    tenure_days = (snapshot_date - signup_date).dt.days.astype("int64")
    monthly = snapshots["monthly_charges"].astype("float64")
    total = snapshots["total_charges"].astype("float64")
    tenure_months = np.maximum(tenure_days.to_numpy() / 30.44, 1.0)
    logins = snapshots["logins_30d"].astype("int64")
    session = snapshots["avg_session_minutes"].astype("float64")
    churned = (
        snapshots[LABEL].astype("Int64")
        if LABEL in snapshots
        else pd.Series(pd.NA, index=snapshots.index, dtype="Int64")
    )
    features = pd.DataFrame(
        {
            "customer_id": snapshots["customer_id"].astype(str),
            "snapshot_date": snapshot_date,
            "plan": snapshots["plan"].astype(str),
            "contract": snapshots["contract"].astype(str),
            "payment_method": snapshots["payment_method"].astype(str),
            "region": snapshots["region"].astype(str),
            "tenure_days": tenure_days,
            "monthly_charges": monthly,
            "total_charges": total,
            "charges_per_tenure_month": total / tenure_months,
            "support_calls_30d": snapshots["support_calls_30d"].astype("int64"),
            "logins_30d": logins,
            "avg_session_minutes": session,
            "engagement_minutes_30d": logins * session,
            "days_since_last_login": snapshots["days_since_last_login"].astype("int64"),
            "auto_renew": snapshots["auto_renew"].astype(bool).astype("int64"),
            "is_new_customer": (tenure_days < NEW_CUSTOMER_DAYS).astype("int64"),
            "churned": churned,
        },
        index=snapshots.index,
    )
    return features[FEATURE_COLUMNS]


def model_inputs(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Feature columns the estimator sees, from landing-schema rows (the serving path)."""
    return build_customer_features(snapshots)[MODEL_FEATURES]


def features_to_landing_rows(features: pd.DataFrame) -> pd.DataFrame:
    """Landing-schema rows that :func:`build_customer_features` maps back to ``features``.

    Used for the model's input example: the registered model takes raw rows, and the
    training set stores features.
    """
    snapshot_date = pd.to_datetime(features["snapshot_date"])
    rows = pd.DataFrame(
        {
            "customer_id": features["customer_id"].astype(str),
            "snapshot_date": snapshot_date,
            "signup_date": snapshot_date - pd.to_timedelta(features["tenure_days"], unit="D"),
            **{c: features[c] for c in LANDING_COLUMNS[3:13]},
            "auto_renew": features["auto_renew"].astype(bool),
            "churned": features[LABEL].astype("Int64"),
        },
        index=features.index,
    )
    return rows[LANDING_COLUMNS]
