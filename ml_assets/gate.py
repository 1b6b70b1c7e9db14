"""The promotion gate: does a challenger replace the champion?

Plain functions over the evaluation report's numbers, so the rule is testable on
constructed cases without MLflow or Dagster.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class GateRules:
    """Absolute floors and the allowed loss against the champion."""

    min_auc: float = 0.70
    max_brier: float = 0.20
    auc_margin: float = 0.01
    min_test_rows: int = 200
    min_test_positives: int = 20


@dataclass
class GateDecision:
    promote: bool
    challenger_version: int
    champion_version: int | None
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def decide_promotion(
    challenger_version: int,
    challenger: dict[str, float],
    champion_version: int | None,
    champion: dict[str, float] | None,
    n_test_rows: int,
    n_test_positives: int,
    rules: GateRules,
) -> GateDecision:
    """Apply the floors, then the non-inferiority margin on the same test rows.

    ``challenger`` and ``champion`` hold overall metrics (``auc``, ``brier``) computed on
    the same test rows. The gate fails closed: missing or undefined numbers, or too little
    evidence, mean no promotion, with the reason recorded.
    """
    decision = GateDecision(False, challenger_version, champion_version)
    reasons = decision.reasons
    if champion_version is not None and champion_version == challenger_version:
        reasons.append(f"version {challenger_version} is already the champion")
        return decision
    if n_test_rows < rules.min_test_rows or n_test_positives < rules.min_test_positives:
        reasons.append(
            f"too little evidence: {n_test_rows} test rows / {n_test_positives} positives, "
            f"need {rules.min_test_rows} / {rules.min_test_positives}"
        )
        return decision
    auc = challenger.get("auc", math.nan)
    brier = challenger.get("brier", math.nan)
    if math.isnan(auc) or math.isnan(brier):
        reasons.append("challenger metrics are undefined on the test split")
        return decision
    ok = True
    if auc < rules.min_auc:
        ok = False
        reasons.append(f"AUC {auc:.4f} is below the floor {rules.min_auc:.2f}")
    if brier > rules.max_brier:
        ok = False
        reasons.append(f"Brier {brier:.4f} is above the ceiling {rules.max_brier:.2f}")
    if ok:
        reasons.append(f"passes floors (AUC {auc:.4f} >= {rules.min_auc:.2f}, "
                       f"Brier {brier:.4f} <= {rules.max_brier:.2f})")
    if champion_version is None:
        if ok:
            reasons.append("no champion yet: the first model that passes the floors is promoted")
        decision.promote = ok
        return decision
    champ_auc = (champion or {}).get("auc", math.nan)
    if math.isnan(champ_auc):
        reasons.append("champion AUC is undefined on these test rows; comparison skipped")
    elif auc < champ_auc - rules.auc_margin:
        ok = False
        reasons.append(f"AUC {auc:.4f} is worse than the champion's {champ_auc:.4f} by more "
                       f"than the margin {rules.auc_margin:.3f}")
    else:
        reasons.append(f"AUC {auc:.4f} vs champion {champ_auc:.4f}: within the margin "
                       f"{rules.auc_margin:.3f} or better")
    decision.promote = ok
    return decision
