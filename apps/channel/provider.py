"""The simulated provider: draws an outcome per request and remembers the final ones.

Approved and declined answers are recorded and replayed for a retry of the same payment id
(charges) or refund id (refunds). Injected errors and timeouts record nothing: the provider never
processed the request, so GET /v1/charges/<id> answers 404 and a retry is a fresh attempt.
Two concurrent requests with one id are serialised: the second waits for the first's answer.

Memory is bounded: beyond CHANNEL_MAX_RECORDS answers the oldest are forgotten (a retry that
old is then processed afresh, and a refund of a forgotten charge is refused as charge_not_found),
so a simulator left running under load keeps a steady size.

Like a real acquirer it can list its approved charges (for the payment side's reconciliation,
apps/payment/provider_reconcile.py) and void an approved charge that has not been refunded: the
charge is reversed in full and stays recorded as `voided`, so a replay of it is refused.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from apps.channel.faults import FaultState, Switches
from apps.common.config import env
from apps.common.deadline import Deadline

Kind = Literal["charge", "refund"]
Outcome = Literal["approved", "declined", "error", "timeout"]


@dataclass(frozen=True)
class Request:
    kind: Kind
    key: str  # payment id for a charge, refund id for a refund
    payment_id: str
    amount: int
    currency: str
    channel: str

    def same_as(self, record: dict[str, Any]) -> bool:
        return (self.payment_id, self.amount, self.currency, self.channel) == (
            record["payment_id"],
            record["amount"],
            record["currency"],
            record["channel"],
        )


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    record: dict[str, Any] | None  # None for error and timeout (nothing recorded)
    latency_s: float
    replayed: bool = False


class Conflict(Exception):
    """The id was already used with a different payment, amount, currency or channel."""


class NotVoidable(Exception):
    """The charge is unknown, was not approved, or has refunds (which a void cannot undo)."""


@dataclass
class _Store:
    records: dict[tuple[Kind, str], dict[str, Any]] = field(default_factory=dict)
    in_flight: dict[tuple[Kind, str], threading.Event] = field(default_factory=dict)
    refunded: dict[str, int] = field(default_factory=dict)  # payment id -> refunded total


def lognormal_latency_s(switches: Switches, rng: random.Random) -> float:
    """A latency whose median is latency_ms: exp(N(ln median, sigma))."""
    if switches.latency_ms <= 0:
        return 0.0
    return math.exp(rng.gauss(math.log(switches.latency_ms), switches.latency_sigma)) / 1000


def draw(switches: Switches, rng: random.Random) -> Outcome:
    """One uniform draw split into timeout, error, decline and approve bands."""
    r = rng.random()
    for outcome, rate in (
        ("timeout", switches.timeout_rate),
        ("error", switches.error_rate),
        ("declined", switches.decline_rate),
    ):
        if r < rate:
            return outcome  # type: ignore[return-value]
        r -= rate
    return "approved"


class Provider:
    def __init__(self, faults: FaultState, rng: random.Random | None = None):
        self.faults = faults
        self.rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._lock = threading.Lock()
        self._store = _Store()
        self.max_records = env("CHANNEL_MAX_RECORDS", 100_000, int)

    def lookup(self, kind: Kind, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._store.records.get((kind, key))

    def approved_charges(
        self, created_before: datetime, after: str | None = None, limit: int = 500
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Approved (not voided) charges recorded before `created_before`, oldest first, a page of
        at most `limit` after the charge `after`; and the cursor of the next page (None at the end)."""
        cutoff = created_before.astimezone(UTC).isoformat()  # records hold UTC ISO strings
        with self._lock:
            records = [
                r
                for (kind, _), r in self._store.records.items()
                if kind == "charge" and r["status"] == "approved"
            ]
        if after is not None:
            index = next((i for i, r in enumerate(records) if r["payment_id"] == after), None)
            records = records[index + 1 :] if index is not None else []
        page = [r for r in records if r["created_at"] < cutoff][: limit + 1]
        more = len(page) > limit
        page = page[:limit]
        return [dict(r) for r in page], (page[-1]["payment_id"] if more and page else None)

    def void(self, payment_id: str, reason: str) -> dict[str, Any]:
        """Reverse an approved charge in full (idempotent: a voided charge answers as it is)."""
        with self._lock:
            record = self._store.records.get(("charge", payment_id))
            if record is None:
                raise NotVoidable(f"payment {payment_id} was never charged")
            if record["status"] == "voided":
                return dict(record)
            if record["status"] != "approved":
                raise NotVoidable(f"the charge of payment {payment_id} was {record['status']}")
            if self._store.refunded.get(payment_id, 0):
                raise NotVoidable(f"the charge of payment {payment_id} has refunds")
            record["status"] = "voided"
            record["void_reason"] = reason
            record["voided_at"] = datetime.now(UTC).isoformat()
            return dict(record)

    def handle(self, req: Request, deadline: Deadline) -> Result:
        slot = (req.kind, req.key)
        while True:
            with self._lock:
                record = self._store.records.get(slot)
                if record is not None:
                    if not req.same_as(record):
                        raise Conflict(f"{req.kind} {req.key} was already sent with other details")
                    if record["status"] == "voided":
                        raise Conflict(f"{req.kind} {req.key} was voided")
                    return Result(record["status"], record, 0.0, replayed=True)
                waiting = self._store.in_flight.get(slot)
                if waiting is None:
                    done = self._store.in_flight[slot] = threading.Event()
                    break
            # Another thread is processing this id: wait for its answer, then look again.
            if not waiting.wait(timeout=deadline.remaining()):
                return Result("timeout", None, deadline.remaining())
        try:
            return self._process(req, deadline)
        finally:
            with self._lock:
                del self._store.in_flight[slot]
            done.set()

    def _process(self, req: Request, deadline: Deadline) -> Result:
        switches = self.faults.current()
        with self._rng_lock:
            outcome = draw(switches, self.rng)
            latency = lognormal_latency_s(switches, self.rng)
        if outcome == "timeout" or latency >= deadline.remaining():
            # Answer only when the caller has given up: it sees no answer within its deadline.
            waited = deadline.remaining()
            time.sleep(waited)
            return Result("timeout", None, waited)
        time.sleep(latency)
        if outcome == "error":
            return Result("error", None, latency)
        with self._lock:
            record = self._record(req, outcome)
        return Result(record["status"], record, latency)

    def _record(self, req: Request, outcome: Outcome) -> dict[str, Any]:
        """Store the final answer (under the lock); a refund first checks what it refunds."""
        reason = "issuer_declined" if outcome == "declined" else None
        if req.kind == "refund" and reason is None:
            reason = self._refund_refusal(req)
        record: dict[str, Any] = {
            ("payment_id" if req.kind == "charge" else "refund_id"): req.key,
            "payment_id": req.payment_id,
            "amount": req.amount,
            "currency": req.currency,
            "channel": req.channel,
            "status": "declined" if reason else "approved",
            "created_at": datetime.now(UTC).isoformat(),
        }
        if reason:
            record["reason"] = reason
        else:
            record["provider_ref"] = f"{req.kind[:2]}_{uuid.uuid4().hex}"
            if req.kind == "refund":
                self._store.refunded[req.payment_id] = (
                    self._store.refunded.get(req.payment_id, 0) + req.amount
                )
        self._store.records[(req.kind, req.key)] = record
        while len(self._store.records) > self.max_records:
            self._forget_oldest()
        return record

    def _forget_oldest(self) -> None:
        """Drop the oldest answer (dicts keep insertion order), and a charge's refund total with it."""
        (kind, key), oldest = next(iter(self._store.records.items()))
        del self._store.records[(kind, key)]
        if kind == "charge":
            self._store.refunded.pop(oldest["payment_id"], None)

    def _refund_refusal(self, req: Request) -> str | None:
        charge = self._store.records.get(("charge", req.payment_id))
        if charge is None or charge["status"] != "approved":
            return "charge_not_found"
        if charge["currency"] != req.currency:
            return "currency_mismatch"
        if self._store.refunded.get(req.payment_id, 0) + req.amount > charge["amount"]:
            return "exceeds_charged_amount"
        return None
