"""The risk rules: a score from 0 to 100 and a decision, from facts gathered elsewhere.

Pure functions of their inputs (no Redis here), so every rule is unit-tested directly.

Normal mode adds up points per rule and rejects at `reject_score`; a few facts reject outright
(an amount over the hard limit, velocity over its limit). Degraded mode (Redis unreachable, so
velocity and first-payment facts are unknown) approves only amounts below `degraded_max_amount`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from apps.common.config import env

Decision = Literal["approve", "reject"]
Mode = Literal["normal", "degraded"]


@dataclass(frozen=True)
class Thresholds:
    """Rule thresholds; every one can be set by an environment variable (see from_env)."""

    # Above this amount (minor units) a payment is rejected whatever else is known.
    max_amount: int = 10_000_000
    # From this amount on, the amount rule adds `high_amount_points`.
    high_amount: int = 1_000_000
    high_amount_points: int = 40
    # Sliding window for per-user velocity, and the payments allowed in it (more is a reject).
    velocity_window_s: int = 60
    velocity_max: int = 10
    # Above half the velocity limit the rule adds points before it rejects.
    velocity_points: int = 30
    # A user's first payment ever adds these points.
    first_payment_points: int = 25
    # A total score at or above this rejects.
    reject_score: int = 70
    # Degraded mode approves only amounts strictly below this.
    degraded_max_amount: int = 50_000

    @classmethod
    def from_env(cls) -> Thresholds:
        defaults = cls()
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            values[name] = env(f"RISK_{name.upper()}", getattr(defaults, name), int)
        return cls(**values)


@dataclass(frozen=True)
class Assessment:
    decision: Decision
    score: int
    reasons: tuple[str, ...]
    mode: Mode

    def as_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "score": self.score,
            "reasons": list(self.reasons),
            "mode": self.mode,
        }


def assess(amount: int, recent_payments: int, first_payment: bool, t: Thresholds) -> Assessment:
    """Normal mode. `recent_payments` counts this user's payments in the window, this one included."""
    score = 0
    reasons: list[str] = []
    hard_reject = False
    if amount > t.max_amount:
        score, hard_reject = 100, True
        reasons.append("amount_over_limit")
    elif amount >= t.high_amount:
        score += t.high_amount_points
        reasons.append("high_amount")
    if recent_payments > t.velocity_max:
        score, hard_reject = 100, True
        reasons.append("velocity_exceeded")
    elif recent_payments > t.velocity_max // 2:
        score += t.velocity_points
        reasons.append("elevated_velocity")
    if first_payment:
        score += t.first_payment_points
        reasons.append("first_payment")
    score = min(score, 100)
    decision: Decision = "reject" if hard_reject or score >= t.reject_score else "approve"
    return Assessment(decision, score, tuple(reasons), "normal")


def assess_degraded(amount: int, t: Thresholds) -> Assessment:
    """Redis is unreachable: no velocity or history, so only small amounts pass."""
    if amount < t.degraded_max_amount:
        return Assessment("approve", 50, ("degraded_mode",), "degraded")
    return Assessment("reject", 100, ("degraded_mode", "amount_over_degraded_limit"), "degraded")
