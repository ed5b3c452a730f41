"""The risk rules as pure functions, and their thresholds from the environment."""

from __future__ import annotations

import pytest

from apps.common.config import ConfigError
from apps.risk.rules import Thresholds, assess, assess_degraded

T = Thresholds()


def test_ordinary_payment_is_approved_with_no_reasons() -> None:
    result = assess(1_000, recent_payments=1, first_payment=False, t=T)
    assert (result.decision, result.score, result.reasons, result.mode) == ("approve", 0, (), "normal")


def test_amount_over_the_hard_limit_rejects() -> None:
    result = assess(T.max_amount + 1, 1, False, T)
    assert (result.decision, result.score) == ("reject", 100)
    assert "amount_over_limit" in result.reasons
    assert assess(T.max_amount, 1, False, T).decision == "approve"  # the limit itself passes


def test_velocity_elevated_then_exceeded() -> None:
    elevated = assess(1_000, T.velocity_max // 2 + 1, False, T)
    assert elevated.reasons == ("elevated_velocity",) and elevated.score == T.velocity_points
    assert elevated.decision == "approve"
    at_limit = assess(1_000, T.velocity_max, False, T)
    assert at_limit.decision == "approve"
    over = assess(1_000, T.velocity_max + 1, False, T)
    assert (over.decision, over.reasons) == ("reject", ("velocity_exceeded",))


def test_points_add_up_to_a_reject() -> None:
    first_big = assess(T.high_amount, 1, True, T)
    assert first_big.reasons == ("high_amount", "first_payment")
    assert first_big.score == T.high_amount_points + T.first_payment_points
    assert first_big.decision == ("reject" if first_big.score >= T.reject_score else "approve")
    busy_big = assess(T.high_amount, T.velocity_max, False, T)
    assert busy_big.score == T.high_amount_points + T.velocity_points
    assert busy_big.decision == "reject"
    strict = Thresholds(reject_score=T.first_payment_points)
    assert assess(1_000, 1, True, strict).decision == "reject"


def test_degraded_mode_approves_only_below_the_limit() -> None:
    small = assess_degraded(T.degraded_max_amount - 1, T)
    assert (small.decision, small.mode, small.reasons) == ("approve", "degraded", ("degraded_mode",))
    at_limit = assess_degraded(T.degraded_max_amount, T)
    assert (at_limit.decision, at_limit.mode) == ("reject", "degraded")
    assert at_limit.as_json()["reasons"] == ["degraded_mode", "amount_over_degraded_limit"]


def test_thresholds_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISK_DEGRADED_MAX_AMOUNT", "123")
    monkeypatch.setenv("RISK_VELOCITY_MAX", "3")
    t = Thresholds.from_env()
    assert (t.degraded_max_amount, t.velocity_max, t.max_amount) == (123, 3, T.max_amount)
    monkeypatch.setenv("RISK_REJECT_SCORE", "high")
    with pytest.raises(ConfigError, match="RISK_REJECT_SCORE"):
        Thresholds.from_env()
