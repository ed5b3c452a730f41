"""The simulated provider's rules: outcome bands, latency distribution, idempotency, refunds."""

from __future__ import annotations

import random
import statistics
import threading
from collections import Counter

import pytest

from apps.channel.faults import FaultState, Switches, SwitchUpdate
from apps.channel.provider import Conflict, Provider, Request, draw, lognormal_latency_s
from apps.common.config import ConfigError
from apps.common.deadline import Deadline


@pytest.fixture(autouse=True)
def _channel_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_NAME", "channel")  # the fault gauge belongs to the channel's catalog


def provider(**switches: float) -> Provider:
    """A provider with no latency at baseline, and `switches` turned on as runtime faults."""
    state = FaultState(Switches(latency_ms=0, latency_sigma=0))
    state.update(SwitchUpdate.model_validate(switches))
    return Provider(state, random.Random(7))


def charge(key: str, amount: int = 100) -> Request:
    return Request("charge", key, key, amount, "EUR", "card")


def refund(key: str, payment_id: str, amount: int) -> Request:
    return Request("refund", key, payment_id, amount, "EUR", "card")


def test_draw_splits_one_uniform_into_bands() -> None:
    rng = random.Random(1)
    switches = Switches(decline_rate=0.2, error_rate=0.1, timeout_rate=0.05)
    counts = Counter(draw(switches, rng) for _ in range(20_000))
    assert set(counts) == {"approved", "declined", "error", "timeout"}
    assert counts["declined"] / 20_000 == pytest.approx(0.2, abs=0.02)
    assert counts["error"] / 20_000 == pytest.approx(0.1, abs=0.02)
    assert counts["timeout"] / 20_000 == pytest.approx(0.05, abs=0.01)
    assert Counter(draw(Switches(), rng) for _ in range(1_000)) == {"approved": 1_000}
    assert Counter(draw(Switches(error_rate=1), rng) for _ in range(1_000)) == {"error": 1_000}


def test_latency_is_lognormal_around_the_median() -> None:
    rng = random.Random(2)
    samples = [lognormal_latency_s(Switches(latency_ms=40, latency_sigma=0.5), rng) for _ in range(4_001)]
    assert statistics.median(samples) == pytest.approx(0.040, rel=0.05)
    assert max(samples) > 2 * 0.040 > 0.040 / 2 > min(samples)  # a spread, not a constant
    assert lognormal_latency_s(Switches(latency_ms=25, latency_sigma=0), rng) == pytest.approx(0.025)
    assert lognormal_latency_s(Switches(latency_ms=0), rng) == 0


def test_charge_is_idempotent_and_conflicts_on_other_details() -> None:
    p = provider()
    first = p.handle(charge("pay-1"), Deadline.start(1_000))
    assert first.outcome == "approved" and first.record is not None and not first.replayed
    again = p.handle(charge("pay-1"), Deadline.start(1_000))
    assert again.replayed and again.record == first.record
    with pytest.raises(Conflict):
        p.handle(charge("pay-1", amount=101), Deadline.start(1_000))


def test_declines_are_recorded_and_errors_are_not() -> None:
    declining = provider(decline_rate=1)
    declined = declining.handle(charge("pay-d"), Deadline.start(1_000))
    assert declined.outcome == "declined" and declined.record is not None
    assert declined.record["reason"] == "issuer_declined"
    declining.faults.reset()  # back to approving: the recorded decline still replays
    assert declining.handle(charge("pay-d"), Deadline.start(1_000)).outcome == "declined"

    failing = provider(error_rate=1)
    assert failing.handle(charge("pay-e"), Deadline.start(1_000)).outcome == "error"
    assert failing.lookup("charge", "pay-e") is None
    failing.faults.reset()
    assert failing.handle(charge("pay-e"), Deadline.start(1_000)).outcome == "approved"


def test_timeout_answers_after_the_deadline_and_records_nothing() -> None:
    p = provider(timeout_rate=1)
    deadline = Deadline.start(50)
    result = p.handle(charge("pay-t"), deadline)
    assert result.outcome == "timeout" and deadline.expired()
    assert p.lookup("charge", "pay-t") is None
    slow = provider(latency_ms=5_000)
    assert slow.handle(charge("pay-s"), Deadline.start(30)).outcome == "timeout"


def test_refunds_check_the_charge() -> None:
    p = provider()
    nothing_charged = p.handle(refund("r0", "pay-none", 10), Deadline.start(1_000)).record
    assert nothing_charged is not None and nothing_charged["reason"] == "charge_not_found"
    p.handle(charge("pay-r", amount=100), Deadline.start(1_000))
    assert p.handle(refund("r1", "pay-r", 60), Deadline.start(1_000)).outcome == "approved"
    assert p.handle(refund("r1", "pay-r", 60), Deadline.start(1_000)).replayed
    over = p.handle(refund("r2", "pay-r", 41), Deadline.start(1_000))
    assert over.outcome == "declined" and over.record is not None
    assert over.record["reason"] == "exceeds_charged_amount"
    assert p.handle(refund("r3", "pay-r", 40), Deadline.start(1_000)).outcome == "approved"


def test_concurrent_duplicates_get_one_answer() -> None:
    p = provider(latency_ms=20, decline_rate=0.5)
    results = []
    lock = threading.Lock()

    def send() -> None:
        r = p.handle(charge("pay-c"), Deadline.start(2_000))
        with lock:
            results.append(r)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.record["provider_ref"] if r.outcome == "approved" else r.outcome for r in results}) == 1  # type: ignore[index]
    assert sum(not r.replayed for r in results) == 1


def test_fault_state_updates_and_resets() -> None:
    state = FaultState(Switches(latency_ms=20, latency_sigma=0.4))
    assert not any(state.active().values())
    state.update(SwitchUpdate(error_rate=0.5, latency_ms=200))
    assert state.current().error_rate == 0.5 and state.current().decline_rate == 0
    assert state.active() == {"decline": False, "error": True, "timeout": False, "latency": True}
    state.reset()
    assert state.current() == Switches(latency_ms=20, latency_sigma=0.4)


def test_starting_switches_from_env_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHANNEL_DECLINE_RATE", "0.25")
    monkeypatch.setenv("CHANNEL_LATENCY_MS", "80")
    assert Switches.from_env() == Switches(decline_rate=0.25, latency_ms=80)
    monkeypatch.setenv("CHANNEL_ERROR_RATE", "1.5")
    with pytest.raises(ConfigError, match=r"CHANNEL_ERROR_RATE=1\.5"):
        Switches.from_env()


def test_memory_is_bounded_by_forgetting_the_oldest_answers() -> None:
    p = provider()
    p.max_records = 3
    deadline = Deadline.start(1_000)
    for key in ("p1", "p2", "p3"):
        assert p.handle(charge(key), deadline).outcome == "approved"
    assert p.handle(refund("r1", "p1", 40), deadline).record["status"] == "approved"  # type: ignore[index]
    # Four answers for room for three: the oldest (charge p1) and its refund total are forgotten.
    assert p.lookup("charge", "p1") is None
    assert p.lookup("charge", "p2") is not None and p.lookup("refund", "r1") is not None
    assert "p1" not in p._store.refunded
    refused = p.handle(refund("r2", "p1", 10), deadline).record
    assert refused is not None and refused["reason"] == "charge_not_found"
    assert len(p._store.records) == 3
