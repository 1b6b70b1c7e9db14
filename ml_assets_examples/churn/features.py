"""The churn example's derived features (the spec's ``features.derive``).

Row-wise and stateless: each output row depends only on its input row, so the same function
runs on a whole day in the warehouse and inside the served model on a single request.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NEW_CUSTOMER_DAYS = 30
DAYS_PER_MONTH = 30.44
# The landing columns each derived column is computed from (the features asset's column
# lineage in the UI; ml_assets.assets.features.feature_sources reads it).
SOURCES = {
    "tenure_days": ["snapshot_date", "signup_date"],
    "charges_per_tenure_month": ["total_charges", "snapshot_date", "signup_date"],
    "engagement_minutes_30d": ["logins_30d", "avg_session_minutes"],
    "is_new_customer": ["snapshot_date", "signup_date"],
}


def derive(rows: pd.DataFrame) -> pd.DataFrame:
    """Tenure, charges per month of tenure, 30-day engagement and the new-customer flag.

    ``rows`` has the landing columns, typed (dates as datetimes); the result has the four
    derived columns on the same index.
    """
    snapshot_date = pd.to_datetime(rows["snapshot_date"])
    signup_date = pd.to_datetime(rows["signup_date"])
    tenure_days = (snapshot_date - signup_date).dt.days.astype("int64")
    tenure_months = np.maximum(tenure_days.to_numpy() / DAYS_PER_MONTH, 1.0)
    total = rows["total_charges"].astype("float64")
    logins = rows["logins_30d"].astype("int64")
    session = rows["avg_session_minutes"].astype("float64")
    return pd.DataFrame(
        {
            "tenure_days": tenure_days,
            "charges_per_tenure_month": total / tenure_months,
            "engagement_minutes_30d": logins * session,
            "is_new_customer": (tenure_days < NEW_CUSTOMER_DAYS).astype("int64"),
        },
        index=rows.index,
    )


def restore_landing(features: pd.DataFrame) -> pd.DataFrame:
    """The landing column the feature table does not carry (signup_date, from tenure_days):
    with the copied columns, rows that :func:`derive` maps back to ``features``."""
    snapshot_date = pd.to_datetime(features["snapshot_date"])
    return pd.DataFrame(
        {"signup_date": snapshot_date - pd.to_timedelta(features["tenure_days"], unit="D")},
        index=features.index,
    )
