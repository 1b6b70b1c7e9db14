"""Synthetic daily customer-snapshot landing files for the churn pipeline.

The generator simulates a subscription business: a fixed population ("pool") of customers
with stable attributes (signup date, region, plan, contract, payment method, auto-renew and
two latent traits, engagement and dissatisfaction), of which ``rows_per_day`` distinct
customers are observed each day with fresh noise on their behaviour. Each observed row gets
a true churn probability from a logistic model with non-linear effects and a label drawn
from it (with a little label noise). One file per day is written to the landing folder as
``customers_YYYY-MM-DD.csv`` (or ``.parquet``), and the ground truth the pipeline must never
see -- ``p_true`` per row plus a description of the scenario -- goes to a separate truth
folder.

Determinism
-----------
Everything derives from ``numpy.random.SeedSequence(seed)`` through fixed spawn keys: one
stream for the population, one per day index (days counted from ``start``), one per day for
drift-only randomness and one for the pre-onset reference. A day's file therefore depends
only on the seed, ``start``, ``rows_per_day``, the scenario settings and the day itself:
generating 10 days gives the same day-5 file as generating 60 days, and, because the
drift-only randomness has its own stream, the pre-onset days of a drift scenario are
byte-identical to those of scenario ``none`` with the same seed (and the post-onset days
observe the same customers with the same noise, which makes paired comparisons exact).

Scenarios
---------
``none``
    No drift. A ``drift_start`` may still be given: it then acts as a placebo onset, which
    is useful to measure a monitor's false-alarm rate.
``covariate``
    From ``drift_start`` on, each drift column is shifted by ``drift_magnitude`` times its
    standard deviation in the pre-onset population. Integer columns stay integers and every
    value is clipped at zero. Churn is computed from the shifted inputs with the unchanged
    relation, so the label rate moves but a perfect model stays perfect.
``category_mix``
    A share ``drift_magnitude`` of the customers (a fixed, customer-level choice) move to one
    category of the drift column: ``contract`` -> ``monthly``, ``plan`` -> ``premium``,
    ``payment_method`` -> ``invoice``, ``region`` -> ``west``. Churn follows the new value
    through the unchanged relation.
``concept``
    Inputs keep their distribution; the churn effect of each drift column is scaled by
    ``1 - 2 * drift_magnitude`` (0.5 removes it, 1.0 reverses it) around its pre-onset mean,
    so the overall churn rate stays roughly where it was while the relation changes.
``null_spike``
    Each non-null value of the drift column becomes null with probability
    ``drift_magnitude``, on top of the usual nulls.

Truth files
-----------
``<truth_dir>/truth.parquet`` (customer_id, snapshot_date, p_true) and
``<truth_dir>/scenario.json`` describe the most recent :func:`generate` call; a later call
into the same truth folder overwrites both, while its landing files only replace the files
of the days it generates.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ml_assets.dataset import load_spec

# The landing schema, value sets and column types come from the churn spec beside this file,
# so the generator cannot drift from what ingest accepts.
_SPEC = load_spec(Path(__file__).with_name("spec.yaml"))
LANDING_COLUMNS: list[str] = list(_SPEC.landing_columns)


def _values(column: str) -> tuple[str, ...]:
    return tuple(_SPEC.column(column).values)


def _of_type(kind: str) -> tuple[str, ...]:
    return tuple(c.name for c in _SPEC.columns if c.type == kind and c.name != _SPEC.target.column)


PLANS = _values("plan")
CONTRACTS = _values("contract")
PAYMENT_METHODS = _values("payment_method")
REGIONS = _values("region")
SCENARIOS: tuple[str, ...] = ("none", "covariate", "category_mix", "concept", "null_spike")
FORMATS: tuple[str, ...] = ("csv", "parquet")

FLOAT_COLUMNS = _of_type("float")
INT_COLUMNS = _of_type("int")
NULLABLE_COLUMNS = tuple(c.name for c in _SPEC.columns if c.nullable)

_CATEGORIES: dict[str, tuple[str, ...]] = {
    "plan": PLANS,
    "contract": CONTRACTS,
    "payment_method": PAYMENT_METHODS,
    "region": REGIONS,
}
# The category a ``category_mix`` drift pushes customers towards. Each is a plausible
# business change (a promotion for monthly contracts, an upsell campaign, ...).
_MIX_TARGET: dict[str, str] = {
    "contract": "monthly",
    "plan": "premium",
    "payment_method": "invoice",
    "region": "west",
}
# Columns whose effect on churn a ``concept`` drift can change: the keys of the logit terms.
_CONCEPT_COLUMNS: tuple[str, ...] = (
    "support_calls_30d",
    "monthly_charges",
    "days_since_last_login",
    "logins_30d",
    "contract",
    "auto_renew",
    "payment_method",
)
DRIFTABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "none": (),
    "covariate": FLOAT_COLUMNS + INT_COLUMNS,
    "category_mix": tuple(_CATEGORIES),
    "concept": _CONCEPT_COLUMNS,
    "null_spike": NULLABLE_COLUMNS,
}
DEFAULT_DRIFT_COLUMNS: dict[str, tuple[str, ...]] = {
    "none": (),
    "covariate": ("monthly_charges", "support_calls_30d"),
    "category_mix": ("contract",),
    "concept": ("support_calls_30d", "monthly_charges"),
    "null_spike": ("avg_session_minutes",),
}

# Pool size relative to rows_per_day: large enough that a customer is seen on about one
# day in five, so days overlap in customers without being copies of each other.
POOL_FACTOR = 5
# Share of the pool that signs up after ``start`` (spread over the following year), so new
# customers (tenure < 30 days, null total_charges) keep appearing throughout a run.
_FUTURE_SIGNUP_SHARE = 0.10
_FUTURE_SIGNUP_DAYS = 365
LABEL_FLIP_RATE = 0.03
LABEL_NULL_RATE = 0.01
SESSION_NULL_RATE = 0.02
NEW_CUSTOMER_DAYS = 30
# Intercept of the churn logit, calibrated once by root finding on 200k rows of the
# default population (seed 42, spread over 60 days) so that the mean true probability is
# about 19 %; the 3 % label flips lift the observed rate to about 21 %.
CHURN_INTERCEPT = -1.34

# Spawn keys of the independent random streams (see the module docstring).
_STREAM_POPULATION = 0
_STREAM_DAY = 1
_STREAM_DRIFT = 2
_STREAM_REFERENCE = 3


# ---------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that determines the generated data.

    Parameters
    ----------
    start : datetime.date
        First snapshot date; tenures of the population are anchored here.
    days : int
        Number of consecutive daily files :func:`generate` writes.
    rows_per_day : int
        Customers observed per day (the pool holds ``POOL_FACTOR`` times as many).
    seed : int
        Seed of every random stream.
    scenario : str
        One of :data:`SCENARIOS`.
    drift_start : datetime.date or None
        First day with drift; required unless ``scenario == "none"`` and never before
        ``start``. With scenario ``none`` it is a placebo onset (only used to split the
        oracle AUC).
    drift_columns : tuple of str
        Columns the drift acts on; empty means :data:`DEFAULT_DRIFT_COLUMNS` of the
        scenario.
    drift_magnitude : float
        Strength of the drift; its meaning depends on the scenario (see module docstring).

    Raises
    ------
    ValueError
        When a setting is invalid; the message says which and why.
    """

    start: dt.date = dt.date(2025, 1, 1)
    days: int = 60
    rows_per_day: int = 1000
    seed: int = 42
    scenario: str = "none"
    drift_start: dt.date | None = None
    drift_columns: tuple[str, ...] = field(default=())
    drift_magnitude: float = 0.5

    def __post_init__(self) -> None:
        # Accept lists for convenience but store a tuple so the config stays hashable
        # (it keys the caches of the population and the reference statistics).
        if not isinstance(self.drift_columns, tuple):
            object.__setattr__(self, "drift_columns", tuple(self.drift_columns))
        if self.scenario not in SCENARIOS:
            raise ValueError(
                f"unknown scenario {self.scenario!r}; choose one of {', '.join(SCENARIOS)}"
            )
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if self.rows_per_day < 1:
            raise ValueError(f"rows_per_day must be at least 1, got {self.rows_per_day}")
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")
        if not math.isfinite(self.drift_magnitude):
            raise ValueError(f"drift magnitude must be a finite number, got {self.drift_magnitude}")
        if self.scenario != "none" and self.drift_start is None:
            raise ValueError(f"scenario {self.scenario!r} needs a drift start date")
        if self.drift_start is not None and self.drift_start < self.start:
            raise ValueError(
                f"drift start {self.drift_start.isoformat()} is before the start date "
                f"{self.start.isoformat()}"
            )
        if self.scenario == "none" and self.drift_columns:
            raise ValueError("drift columns were given but scenario 'none' has no drift")
        allowed = DRIFTABLE_COLUMNS[self.scenario]
        unknown = [c for c in self.drift_columns if c not in allowed]
        if unknown:
            raise ValueError(
                f"unknown drift column(s) {', '.join(unknown)} for scenario "
                f"{self.scenario!r}; choose from {', '.join(allowed)}"
            )
        if len(set(self.drift_columns)) != len(self.drift_columns):
            raise ValueError(f"drift columns repeat a column: {', '.join(self.drift_columns)}")
        if self.scenario in ("category_mix", "null_spike") and not 0 <= self.drift_magnitude <= 1:
            raise ValueError(
                f"scenario {self.scenario!r} takes a drift magnitude between 0 and 1 (a share "
                f"of rows), got {self.drift_magnitude}"
            )

    @property
    def end(self) -> dt.date:
        """The last generated day (inclusive)."""
        return self.start + dt.timedelta(days=self.days - 1)

    @property
    def resolved_drift_columns(self) -> tuple[str, ...]:
        """The drift columns, or the scenario's defaults when none were given."""
        return self.drift_columns or DEFAULT_DRIFT_COLUMNS[self.scenario]

    @property
    def pool_size(self) -> int:
        """Number of customers in the population."""
        return POOL_FACTOR * self.rows_per_day

    def is_drifted(self, day: dt.date) -> bool:
        """Whether drift applies on ``day``."""
        return self.scenario != "none" and self.drift_start is not None and day >= self.drift_start


# ---------------------------------------------------------------------------------------
# Population
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Population:
    """Customer-level attributes, one entry per pool member (index = customer number)."""

    customer_id: np.ndarray  # object array of str, sorted in index order
    signup_offset: np.ndarray  # signup day relative to start (negative = before start)
    plan: np.ndarray  # codes into PLANS
    contract: np.ndarray
    payment_method: np.ndarray
    region: np.ndarray
    auto_renew: np.ndarray  # bool
    base_charges: np.ndarray  # monthly charges before daily noise
    login_rate: np.ndarray  # expected logins per 30 days
    session_mean: np.ndarray  # expected minutes per session
    support_rate: np.ndarray  # expected support calls per 30 days
    dissatisfaction: np.ndarray  # latent, unobserved driver of churn
    engagement: np.ndarray  # latent, drives logins and recency
    mix_u: np.ndarray  # (n, n_categorical) uniforms deciding category_mix switches


def _stream(seed: int, *key: int) -> np.random.Generator:
    # Fixed spawn keys rather than SeedSequence.spawn(): a stream then depends only on its
    # own key, never on how many other streams were created before it.
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _choice_codes(rng: np.random.Generator, probs: Sequence[float], n: int) -> np.ndarray:
    return rng.choice(len(probs), size=n, p=np.asarray(probs) / np.sum(probs)).astype(np.int8)


@functools.lru_cache(maxsize=4)
def _population(seed: int, pool_size: int) -> _Population:
    """Draw the customer pool; depends on the seed and pool size only (not on ``days``)."""
    rng = _stream(seed, _STREAM_POPULATION)
    n = pool_size

    # Tenure at ``start`` from an exact mix of segments (exact counts, so every day has at
    # least ``rows_per_day`` eligible customers even for tiny pools): customers who sign up
    # in the year after start, as many who signed up in the year before (a constant
    # signup rate, so the share of new customers does not trend within a run) and an
    # established base with a long right tail.
    n_future = int(n * _FUTURE_SIGNUP_SHARE)
    n_recent = n_future
    segment = np.zeros(n, dtype=np.int8)
    segment[:n_future] = 2
    segment[n_future : n_future + n_recent] = 1
    segment = rng.permutation(segment)
    year = float(_FUTURE_SIGNUP_DAYS)
    established = year + np.minimum(rng.exponential(800.0, n), 3300.0)
    recent = rng.uniform(0.0, year, n)
    future = -rng.uniform(0.0, year, n) - 1e-9
    tenure0 = np.select([segment == 0, segment == 1], [established, recent], future)
    tenure0 = np.floor(tenure0).astype(np.int64)
    signup_offset = -tenure0
    tenure_years = np.maximum(tenure0, 0) / 365.25

    region = _choice_codes(rng, [0.30, 0.25, 0.25, 0.20], n)
    plan = _choice_codes(rng, [0.45, 0.35, 0.20], n)

    # Long-tenured customers more often hold annual / two-year contracts: a multinomial
    # logit in tenure years, sampled with the Gumbel-max trick to stay vectorised.
    contract_logits = np.stack(
        [
            0.9 - 0.55 * tenure_years,
            np.zeros(n),
            -1.1 + 0.45 * tenure_years,
        ],
        axis=1,
    )
    contract = np.argmax(contract_logits + rng.gumbel(size=(n, 3)), axis=1).astype(np.int8)

    payment_method = _choice_codes(rng, [0.40, 0.25, 0.20, 0.15], n)
    # Customers who committed to a long contract also tend to leave auto-renew on.
    renew_p = np.array([0.40, 0.75, 0.85])[contract]
    auto_renew = rng.random(n) < renew_p

    engagement = rng.standard_normal(n)
    # Disengaged customers are somewhat more dissatisfied, but the two are distinct traits.
    dissatisfaction = -0.35 * engagement + math.sqrt(1 - 0.35**2) * rng.standard_normal(n)

    plan_base = np.array([25.0, 55.0, 95.0])[plan]
    discount = np.where(contract == 2, 0.90, np.where(contract == 1, 0.95, 1.0))
    add_ons = rng.gamma(2.0, 4.0, n)
    base_charges = np.maximum(
        plan_base * discount * np.exp(rng.normal(0.0, 0.10, n)) + add_ons, 5.0
    )

    login_rate = np.exp(2.2 + 0.55 * engagement)
    session_mean = np.exp(2.4 + 0.25 * engagement + 0.10 * plan)
    support_rate = np.exp(-0.6 + 0.55 * dissatisfaction + 0.15 * (plan == 0))

    mix_u = rng.random((n, len(_CATEGORIES)))

    width = max(7, len(str(n)))
    customer_id = np.array([f"C{i + 1:0{width}d}" for i in range(n)], dtype=object)

    return _Population(
        customer_id=customer_id,
        signup_offset=signup_offset,
        plan=plan,
        contract=contract,
        payment_method=payment_method,
        region=region,
        auto_renew=auto_renew,
        base_charges=base_charges,
        login_rate=login_rate,
        session_mean=session_mean,
        support_rate=support_rate,
        dissatisfaction=dissatisfaction,
        engagement=engagement,
        mix_u=mix_u,
    )


# ---------------------------------------------------------------------------------------
# Daily behaviour and churn
# ---------------------------------------------------------------------------------------


def _behaviour(
    pop: _Population, idx: np.ndarray, day_index: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Observed columns (as numpy arrays, categories as codes) of customers ``idx``.

    NaN marks nulls in float columns. Values are already rounded as they will be written,
    so the churn model sees exactly what lands in the file.
    """
    n = idx.size
    tenure = day_index - pop.signup_offset[idx]
    months = tenure / 30.44
    # Customers younger than 30 days have had less time to log in.
    exposure = np.clip(tenure, 1, 30) / 30.0

    monthly = np.round(pop.base_charges[idx] * np.exp(rng.normal(0.0, 0.02, n)), 2)
    total = np.round(monthly * months * np.exp(rng.normal(0.0, 0.06, n)), 2)
    total = np.where(tenure < NEW_CUSTOMER_DAYS, np.nan, total)

    logins = rng.poisson(pop.login_rate[idx] * exposure * np.exp(rng.normal(0.0, 0.25, n)))

    session = rng.gamma(4.0, pop.session_mean[idx] / 4.0)
    session = np.round(session, 2)
    session_null = (logins == 0) | (rng.random(n) < SESSION_NULL_RATE)
    session = np.where(session_null, np.nan, session)

    # Recency: with k logins in 30 days the gap to the last one is roughly geometric with
    # mean 30/k; without logins it is beyond the window, longer for disengaged customers.
    active_p = np.clip(logins / 30.0, 1.0 / 30.0, 1.0)
    recent_gap = np.minimum(rng.geometric(active_p) - 1, 29)
    idle_gap = 30 + rng.poisson(15.0 * np.exp(-0.5 * pop.engagement[idx]))
    since_login = np.where(logins > 0, recent_gap, idle_gap)
    # Nobody can have been away for longer than they have been a customer.
    since_login = np.minimum(since_login, tenure)

    # Onboarding brings extra support calls for new customers.
    call_rate = pop.support_rate[idx] * (1.0 + np.exp(-tenure / 60.0))
    calls = rng.poisson(call_rate * np.exp(rng.normal(0.0, 0.30, n)))

    return {
        "tenure_days": tenure.astype(np.int64),
        "plan": pop.plan[idx].copy(),
        "contract": pop.contract[idx].copy(),
        "payment_method": pop.payment_method[idx].copy(),
        "region": pop.region[idx].copy(),
        "monthly_charges": monthly,
        "total_charges": total,
        "support_calls_30d": calls.astype(np.int64),
        "logins_30d": logins.astype(np.int64),
        "avg_session_minutes": session,
        "days_since_last_login": since_login.astype(np.int64),
        "auto_renew": pop.auto_renew[idx].copy(),
        "dissatisfaction": pop.dissatisfaction[idx],
    }


def _logit_terms(x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Additive terms of the churn logit, keyed by the input they depend on.

    The shapes are deliberately non-linear so that a linear model on raw columns leaves
    performance on the table: an exponentially decaying new-customer risk, a threshold
    and quadratic effect of support calls, a logarithmic recency effect and an
    interaction of high charges with month-to-month contracts.
    """
    calls = x["support_calls_30d"].astype(float)
    charges = x["monthly_charges"]
    is_monthly = x["contract"] == 0
    excess_calls = np.minimum(np.maximum(calls - 2.0, 0.0), 4.0)
    return {
        "tenure": 2.0 * np.exp(-x["tenure_days"] / 180.0),
        "support_calls_30d": 0.10 * calls + 0.20 * excess_calls**2,
        "days_since_last_login": 0.55 * np.log1p(x["days_since_last_login"]),
        "logins_30d": -0.15 * np.log1p(x["logins_30d"]),
        "monthly_charges": 0.006 * (charges - 60.0)
        + 0.04 * np.maximum(charges - 70.0, 0.0) * is_monthly,
        "contract": np.array([0.0, -0.7, -1.4])[x["contract"]],
        "auto_renew": -0.6 * x["auto_renew"],
        "payment_method": np.array([0.0, -0.2, 0.05, 0.6])[x["payment_method"]],
        # Unobserved: caps what any model can learn from the landing columns.
        "latent": 0.7 * x["dissatisfaction"],
    }


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def rank_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC from ranks (the Mann-Whitney U statistic), ties counted as one half.

    Parameters
    ----------
    scores : array-like of float
        Higher means more likely positive.
    labels : array-like of {0, 1} or bool
        True classes, same length as ``scores``.

    Returns
    -------
    float
        The AUC, or NaN when only one class is present.
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels).astype(bool)
    if s.shape != y.shape:
        raise ValueError(f"scores and labels differ in shape: {s.shape} vs {y.shape}")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    # 1-based rank of each distinct value, averaged over its ties.
    avg_rank = np.cumsum(counts) - (counts - 1) / 2.0
    rank_sum = avg_rank[inverse][y].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


# ---------------------------------------------------------------------------------------
# Drift
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reference:
    """Pre-onset population statistics the drift scenarios are defined against."""

    sd: dict[str, float]
    term_mean: dict[str, float]


@functools.lru_cache(maxsize=8)
def _reference(config: GeneratorConfig) -> _Reference:
    """Statistics of the whole eligible pool on the day before onset, without drift.

    Uses its own random stream so it neither depends on nor disturbs the daily streams,
    and covers the whole pool (not one day's sample) so the shift is a population SD.
    """
    assert config.drift_start is not None
    pop = _population(config.seed, config.pool_size)
    day_index = (config.drift_start - config.start).days - 1
    idx = np.flatnonzero(pop.signup_offset <= day_index)
    x = _behaviour(pop, idx, day_index, _stream(config.seed, _STREAM_REFERENCE))
    sd = {c: float(np.nanstd(x[c].astype(float), ddof=1)) for c in FLOAT_COLUMNS + INT_COLUMNS}
    term_mean = {k: float(np.mean(v)) for k, v in _logit_terms(x).items()}
    return _Reference(sd=sd, term_mean=term_mean)


def _apply_covariate(
    config: GeneratorConfig, x: dict[str, np.ndarray], rng: np.random.Generator
) -> None:
    ref = _reference(config)
    for col in config.resolved_drift_columns:
        delta = config.drift_magnitude * ref.sd[col]
        shifted = x[col] + delta
        if col in INT_COLUMNS:
            # Stochastic rounding keeps the expected shift at exactly delta; plain rounding
            # would swallow shifts below 0.5 for counts that are mostly 0 or 1.
            shifted = np.floor(shifted + rng.random(shifted.size)).astype(np.int64)
            x[col] = np.maximum(shifted, 0)
        else:
            # NaN (null) stays NaN through the arithmetic and the clip.
            x[col] = np.round(np.maximum(shifted, 0.0), 2)


def _apply_category_mix(
    config: GeneratorConfig, x: dict[str, np.ndarray], idx: np.ndarray, pop: _Population
) -> None:
    names = list(_CATEGORIES)
    for col in config.resolved_drift_columns:
        # A customer-level draw, so the same customers have switched on every drifted day.
        switch = pop.mix_u[idx, names.index(col)] < config.drift_magnitude
        target = _CATEGORIES[col].index(_MIX_TARGET[col])
        x[col] = np.where(switch, target, x[col]).astype(np.int8)


def _concept_terms(config: GeneratorConfig, terms: dict[str, np.ndarray]) -> None:
    ref = _reference(config)
    factor = 1.0 - 2.0 * config.drift_magnitude
    for col in config.resolved_drift_columns:
        # Scale around the pre-onset mean: the relation changes, the average risk does not.
        mean = ref.term_mean[col]
        terms[col] = mean + factor * (terms[col] - mean)


# ---------------------------------------------------------------------------------------
# One day
# ---------------------------------------------------------------------------------------


def _day_index(config: GeneratorConfig, day: dt.date) -> int:
    index = (day - config.start).days
    if index < 0:
        raise ValueError(f"day {day.isoformat()} is before the start date {config.start}")
    return index


def generate_day(config: GeneratorConfig, day: dt.date) -> tuple[pd.DataFrame, np.ndarray]:
    """Landing rows of one day and the true churn probability of each row.

    Parameters
    ----------
    config : GeneratorConfig
        Generator settings; ``config.days`` is not used, so any ``day`` on or after
        ``config.start`` can be generated.
    day : datetime.date
        The snapshot date.

    Returns
    -------
    frame : pandas.DataFrame
        ``rows_per_day`` rows sorted by customer_id with columns :data:`LANDING_COLUMNS`:
        strings as object, dates as ``datetime64[ns]``, floats rounded to 2 decimals with
        NaN for nulls, counts as int64, ``auto_renew`` as bool and ``churned`` as nullable
        ``Int64``.
    p_true : numpy.ndarray
        Churn probability each label was drawn from (before the label-noise flip).
    """
    day_index = _day_index(config, day)
    pop = _population(config.seed, config.pool_size)
    rng = _stream(config.seed, _STREAM_DAY, day_index)
    drift_rng = _stream(config.seed, _STREAM_DRIFT, day_index)

    eligible = np.flatnonzero(pop.signup_offset <= day_index)
    idx = np.sort(rng.choice(eligible, size=config.rows_per_day, replace=False))
    x = _behaviour(pop, idx, day_index, rng)

    drifted = config.is_drifted(day)
    if drifted and config.scenario == "covariate":
        _apply_covariate(config, x, drift_rng)
    elif drifted and config.scenario == "category_mix":
        _apply_category_mix(config, x, idx, pop)

    terms = _logit_terms(x)
    if drifted and config.scenario == "concept":
        _concept_terms(config, terms)
    p_true = _sigmoid(CHURN_INTERCEPT + sum(terms.values()))

    # Always draw the same uniforms, whatever the scenario, to keep the streams aligned.
    n = idx.size
    label = rng.random(n) < p_true
    label ^= rng.random(n) < LABEL_FLIP_RATE
    label_null = rng.random(n) < LABEL_NULL_RATE

    if drifted and config.scenario == "null_spike":
        for col in config.resolved_drift_columns:
            spike = drift_rng.random(n) < config.drift_magnitude
            if col == "churned":
                label_null |= spike
            else:
                x[col] = np.where(spike, np.nan, x[col])

    churned = pd.array(label.astype(np.int64), dtype="Int64")
    churned[label_null] = pd.NA
    snapshot = np.datetime64(day, "D")
    signup = snapshot - x["tenure_days"].astype("timedelta64[D]")

    frame = pd.DataFrame(
        {
            "customer_id": pop.customer_id[idx],
            "snapshot_date": np.full(n, snapshot).astype("datetime64[ns]"),
            "signup_date": signup.astype("datetime64[ns]"),
            "plan": np.array(PLANS, dtype=object)[x["plan"]],
            "contract": np.array(CONTRACTS, dtype=object)[x["contract"]],
            "payment_method": np.array(PAYMENT_METHODS, dtype=object)[x["payment_method"]],
            "region": np.array(REGIONS, dtype=object)[x["region"]],
            "monthly_charges": x["monthly_charges"],
            "total_charges": x["total_charges"],
            "support_calls_30d": x["support_calls_30d"],
            "logins_30d": x["logins_30d"],
            "avg_session_minutes": x["avg_session_minutes"],
            "days_since_last_login": x["days_since_last_login"],
            "auto_renew": x["auto_renew"].astype(bool),
            "churned": churned,
        },
        columns=LANDING_COLUMNS,
    )
    return frame, p_true


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------


def landing_file_name(day: dt.date, fmt: str = "csv") -> str:
    """File name of a day's landing file, e.g. ``customers_2025-01-01.csv``."""
    return f"customers_{day.isoformat()}.{fmt}"


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    # A dot-prefixed temp name in the same folder: ignored by the landing file pattern and
    # on the same file system, so os.replace is atomic and a watcher never sees a partial
    # file.
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    """The contract's CSV rendering of a landing frame.

    pyarrow's writer is about seven times faster than ``DataFrame.to_csv`` with a float
    format and already renders dates as YYYY-MM-DD, booleans as true/false and nulls as
    empty fields. Floats go through a 2-decimal decimal type so they always show exactly
    two decimals (``55.70``), as ``%.2f`` would.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    table = _arrow_table(frame)
    columns = []
    for column in table.columns:
        if pa.types.is_floating(column.type):
            column = pc.cast(pc.round(column, 2), pa.decimal128(18, 2), safe=False)
        columns.append(column)
    table = pa.table(columns, names=table.column_names)
    sink = pa.BufferOutputStream()
    # No quoting: no value of the contract can hold a comma, quote or newline. The header
    # is written by hand because pyarrow always quotes header names.
    options = pcsv.WriteOptions(include_header=False, quoting_style="none")
    pcsv.write_csv(table, sink, options)
    header = (",".join(table.column_names) + "\n").encode("utf-8")
    return header + sink.getvalue().to_pybytes()


def _arrow_table(frame: pd.DataFrame):  # -> pyarrow.Table (pyarrow imported lazily)
    """Arrow table with the contract's types: dates as date32, text as string.

    The pandas metadata is kept so ``pandas.read_parquet`` restores ``churned`` as
    nullable ``Int64`` instead of float.
    """
    import pyarrow as pa

    fields = []
    for col in frame.columns:
        dtype = frame[col].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            fields.append(pa.field(col, pa.date32()))
        elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            fields.append(pa.field(col, pa.string()))
        elif isinstance(dtype, pd.Int64Dtype):
            fields.append(pa.field(col, pa.int64()))
        else:
            fields.append(pa.field(col, pa.from_numpy_dtype(dtype)))
    return pa.Table.from_pandas(frame, schema=pa.schema(fields), preserve_index=False)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(_arrow_table(frame), path)


def write_landing_file(
    frame: pd.DataFrame, landing_dir: Path, day: dt.date, fmt: str = "csv"
) -> Path:
    """Write one day's rows atomically as CSV or Parquet and return the file's path.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows as returned by :func:`generate_day`.
    landing_dir : pathlib.Path
        Target folder (created when missing).
    day : datetime.date
        The snapshot date, which names the file.
    fmt : {"csv", "parquet"}
        File format.

    Returns
    -------
    pathlib.Path
        Path of the written file.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    landing_dir.mkdir(parents=True, exist_ok=True)
    path = landing_dir / landing_file_name(day, fmt)
    if fmt == "csv":
        data = _csv_bytes(frame)
        _atomic_write(path, lambda tmp: tmp.write_bytes(data))
    else:
        _atomic_write(path, lambda tmp: _write_parquet(frame, tmp))
    return path


def _nan_to_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 6)


def generate(
    config: GeneratorConfig,
    landing_dir: Path,
    truth_dir: Path,
    fmt: str = "csv",
    progress: Callable[[str], None] | None = print,
) -> dict:
    """Write every day's landing file and the truth files.

    Parameters
    ----------
    config : GeneratorConfig
        What to generate.
    landing_dir : pathlib.Path
        Folder for ``customers_YYYY-MM-DD.<fmt>``; existing files of other days are left
        alone, files of the generated days are replaced.
    truth_dir : pathlib.Path
        Folder for ``truth.parquet`` and ``scenario.json``; both are overwritten, so they
        always describe the latest call. Keep it outside the landing folder.
    fmt : {"csv", "parquet"}
        Landing file format.
    progress : callable or None
        Receives a progress line about every 10 days; None for silence.

    Returns
    -------
    dict
        ``files`` (paths as str), ``n_files``, ``rows``, ``churn_rate`` (among labelled
        rows), ``mean_p_true``, ``oracle_auc``, ``oracle_auc_pre_onset`` and
        ``oracle_auc_post_onset`` (None when undefined), ``truth_file``, ``scenario_file``
        and ``seconds``.
    """
    import time

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    landing_dir, truth_dir = Path(landing_dir), Path(truth_dir)
    landing_abs, truth_abs = landing_dir.resolve(), truth_dir.resolve()
    if truth_abs == landing_abs or landing_abs in truth_abs.parents:
        # The pipeline must never be able to ingest the answers.
        raise ValueError(
            f"the truth folder {truth_dir} must be outside the landing folder {landing_dir}"
        )
    began = time.perf_counter()

    files: list[str] = []
    ids: list[np.ndarray] = []
    dates: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    labels: list[np.ndarray] = []  # -1 for unknown
    for i in range(config.days):
        day = config.start + dt.timedelta(days=i)
        frame, p_true = generate_day(config, day)
        files.append(str(write_landing_file(frame, landing_dir, day, fmt)))
        ids.append(frame["customer_id"].to_numpy())
        dates.append(frame["snapshot_date"].to_numpy())
        probs.append(p_true)
        labels.append(frame["churned"].fillna(-1).to_numpy(dtype=np.int64))
        if progress is not None and ((i + 1) % 10 == 0 or i + 1 == config.days):
            progress(f"generated {i + 1}/{config.days} days (through {day.isoformat()})")

    p_all = np.concatenate(probs)
    y_all = np.concatenate(labels)
    d_all = np.concatenate(dates)
    known = y_all >= 0
    onset = np.datetime64(config.drift_start, "ns") if config.drift_start else None
    pre = known & (d_all < onset) if onset is not None else known
    post = known & (d_all >= onset) if onset is not None else np.zeros_like(known)

    def auc(mask: np.ndarray) -> float | None:
        return _nan_to_none(rank_auc(p_all[mask], y_all[mask])) if mask.any() else None

    churn_rate = float(y_all[known].mean()) if known.any() else float("nan")
    summary = {
        "files": files,
        "n_files": len(files),
        "rows": int(p_all.size),
        "churn_rate": _nan_to_none(churn_rate),
        "mean_p_true": _nan_to_none(float(p_all.mean())),
        "oracle_auc": auc(known),
        "oracle_auc_pre_onset": auc(pre),
        "oracle_auc_post_onset": auc(post),
    }

    truth_dir.mkdir(parents=True, exist_ok=True)
    truth = pd.DataFrame(
        {
            "customer_id": np.concatenate(ids),
            "snapshot_date": d_all,
            "p_true": p_all,
        }
    )
    truth_path = truth_dir / "truth.parquet"
    _atomic_write(truth_path, lambda tmp: _write_parquet(truth, tmp))

    scenario = {
        "scenario": config.scenario,
        "drift_start": config.drift_start.isoformat() if config.drift_start else None,
        "drift_columns": list(config.resolved_drift_columns),
        "drift_magnitude": config.drift_magnitude,
        "seed": config.seed,
        "start": config.start.isoformat(),
        "end": config.end.isoformat(),
        "days": config.days,
        "rows_per_day": config.rows_per_day,
        "pool_size": config.pool_size,
        "format": fmt,
        "rows": summary["rows"],
        "churn_rate": summary["churn_rate"],
        "mean_p_true": summary["mean_p_true"],
        "oracle_auc": summary["oracle_auc"],
        "oracle_auc_pre_onset": summary["oracle_auc_pre_onset"],
        "oracle_auc_post_onset": summary["oracle_auc_post_onset"],
        "label_flip_rate": LABEL_FLIP_RATE,
    }
    if config.scenario == "covariate":
        ref = _reference(config)
        # The exact shift per column, so a monitor's estimate can be checked against it.
        scenario["shift"] = {
            c: {
                "reference_sd": round(ref.sd[c], 6),
                "delta": round(config.drift_magnitude * ref.sd[c], 6),
            }
            for c in config.resolved_drift_columns
        }
    scenario_path = truth_dir / "scenario.json"
    text = json.dumps(scenario, indent=2) + "\n"
    _atomic_write(scenario_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    summary["truth_file"] = str(truth_path)
    summary["scenario_file"] = str(scenario_path)
    summary["seconds"] = round(time.perf_counter() - began, 3)
    return summary


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------


def default_data_dir() -> Path:
    """``$ML_ASSETS_DATA_DIR``, or the ``data`` folder at the project root, resolved exactly
    as the pipeline resolves it (``ml_assets.settings.data_dir``: a relative path is relative
    to the project root, not to the current directory)."""
    from ml_assets import settings

    return settings.data_dir()


def _date_arg(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in the form YYYY-MM-DD: {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ml-assets generate``."""
    parser = argparse.ArgumentParser(
        prog="ml-assets generate",
        description="Write synthetic daily customer-snapshot landing files and their truth.",
    )
    parser.add_argument(
        "--start",
        type=_date_arg,
        default=GeneratorConfig.start,
        help="first snapshot date, YYYY-MM-DD (default: %(default)s)",
    )
    parser.add_argument(
        "--days",
        type=_positive_int,
        default=GeneratorConfig.days,
        help="number of daily files (default: %(default)s)",
    )
    parser.add_argument(
        "--rows-per-day",
        type=_positive_int,
        default=GeneratorConfig.rows_per_day,
        help="customers per daily file (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=GeneratorConfig.seed, help="random seed (default: %(default)s)"
    )
    parser.add_argument(
        "--scenario",
        default="none",
        help=f"drift scenario: {', '.join(SCENARIOS)} (default: %(default)s)",
    )
    parser.add_argument(
        "--drift-start",
        type=_date_arg,
        default=None,
        help="first drifted day, YYYY-MM-DD (required unless scenario none)",
    )
    parser.add_argument(
        "--drift-columns",
        default="",
        help="comma-separated columns the drift acts on (default: depends on the scenario)",
    )
    parser.add_argument(
        "--drift-magnitude",
        type=float,
        default=GeneratorConfig.drift_magnitude,
        help="drift strength: SDs for covariate, a share for category_mix and "
        "null_spike, effect change for concept (default: %(default)s)",
    )
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=FORMATS,
        default="csv",
        help="landing file format (default: %(default)s)",
    )
    parser.add_argument(
        "--landing-dir",
        type=Path,
        default=None,
        help="landing folder (default: <data dir>/landing)",
    )
    parser.add_argument(
        "--truth-dir", type=Path, default=None, help="truth folder (default: <data dir>/truth)"
    )
    return parser


def cli_main(argv: list[str] | None = None) -> int:
    """Run ``ml-assets generate``.

    Parameters
    ----------
    argv : list of str or None
        Arguments after ``generate``; None reads ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 on invalid arguments (the message goes to stderr). argparse's own
        exits (``--help``, malformed options) are returned as codes, not raised.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.scenario not in SCENARIOS:
            parser.error(
                f"unknown scenario {args.scenario!r}; choose one of {', '.join(SCENARIOS)}"
            )
        columns = tuple(c.strip() for c in args.drift_columns.split(",") if c.strip())
        end = args.start + dt.timedelta(days=args.days - 1)
        if args.scenario != "none" and args.drift_start is None:
            parser.error(f"scenario {args.scenario!r} needs --drift-start YYYY-MM-DD")
        if args.drift_start is not None and not args.start <= args.drift_start <= end:
            parser.error(
                f"--drift-start {args.drift_start.isoformat()} is outside the generated range "
                f"{args.start.isoformat()} .. {end.isoformat()}"
            )
        try:
            config = GeneratorConfig(
                start=args.start,
                days=args.days,
                rows_per_day=args.rows_per_day,
                seed=args.seed,
                scenario=args.scenario,
                drift_start=args.drift_start,
                drift_columns=columns,
                drift_magnitude=args.drift_magnitude,
            )
        except ValueError as exc:
            parser.error(str(exc))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2

    data_dir = default_data_dir()
    landing_dir = args.landing_dir or data_dir / "landing"
    truth_dir = args.truth_dir or data_dir / "truth"
    try:
        summary = generate(config, landing_dir, truth_dir, fmt=args.fmt)
    except ValueError as exc:
        print(f"ml-assets generate: error: {exc}", file=sys.stderr)
        return 2

    def fmt_num(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    print(
        f"wrote {summary['n_files']} files ({summary['rows']} rows) to {landing_dir}; "
        f"churn rate {fmt_num(summary['churn_rate'])}, oracle AUC "
        f"{fmt_num(summary['oracle_auc'])} (pre-onset {fmt_num(summary['oracle_auc_pre_onset'])}); "
        f"truth in {truth_dir}"
    )
    return 0


__all__ = [
    "CONTRACTS",
    "DEFAULT_DRIFT_COLUMNS",
    "DRIFTABLE_COLUMNS",
    "LANDING_COLUMNS",
    "PAYMENT_METHODS",
    "PLANS",
    "REGIONS",
    "SCENARIOS",
    "GeneratorConfig",
    "cli_main",
    "generate",
    "generate_day",
    "landing_file_name",
    "rank_auc",
    "write_landing_file",
]
