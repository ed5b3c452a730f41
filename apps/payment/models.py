"""Request bodies (validated strictly: integers are integers, unknown fields are refused) and records."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from apps.common.validation import Description, StrictModel, UserId
from apps.payment.states import PaymentState, RefundState, public_status, retryable

MAX_AMOUNT = 100_000_000
PaymentMethod = Literal["card", "wallet", "bank_transfer"]


class PaymentRequest(StrictModel):
    user_id: UserId
    amount: int = Field(ge=1, le=MAX_AMOUNT)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    payment_method: PaymentMethod
    description: Description | None = None


class RefundRequest(StrictModel):
    amount: int = Field(ge=1, le=MAX_AMOUNT)


def _timestamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Payment:
    payment_id: str
    merchant_id: str
    idempotency_key: str
    request_fingerprint: str
    user_id: str
    amount: int
    currency: str
    payment_method: str
    channel: str
    description: str | None
    state: PaymentState
    failure_reason: str | None
    provider_ref: str | None
    refunded_amount: int
    refund_reserved_amount: int
    created_at: datetime
    updated_at: datetime
    # Which attempt of its Idempotency-Key this is (a new one only after a failure on our side).
    attempt: int = 1
    # When it became final (None before); see as_finalized().
    finalized_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Payment:
        return cls(
            payment_id=str(row["payment_id"]),
            merchant_id=row["merchant_id"],
            idempotency_key=row["idempotency_key"],
            request_fingerprint=row["request_fingerprint"],
            user_id=row["user_id"],
            amount=row["amount"],
            currency=row["currency"],
            payment_method=row["payment_method"],
            channel=row["channel"],
            description=row["description"],
            state=PaymentState(row["state"]),
            failure_reason=row["failure_reason"],
            provider_ref=row["provider_ref"],
            refunded_amount=row["refunded_amount"],
            refund_reserved_amount=row["refund_reserved_amount"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            attempt=row["attempt"],
            finalized_at=row["finalized_at"],
        )

    def as_finalized(self) -> Payment:
        """The payment as it was when it became final, which is what its key answers: only refunds
        change a final payment afterwards (refunded amounts and updated_at)."""
        if self.finalized_at is None:
            return self
        return replace(self, refunded_amount=0, refund_reserved_amount=0, updated_at=self.finalized_at)

    @property
    def status(self) -> str:
        return public_status(self.state)

    @property
    def retryable(self) -> bool:
        """Failed on our side: a retry with its Idempotency-Key makes a new attempt."""
        return retryable(self.state, self.failure_reason)

    def public(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id,
            "user_id": self.user_id,
            "amount": self.amount,
            "currency": self.currency,
            "payment_method": self.payment_method,
            "channel": self.channel,
            "description": self.description,
            "status": self.status,
            "failure_reason": self.failure_reason,
            "refunded_amount": self.refunded_amount,
            "created_at": _timestamp(self.created_at),
            "updated_at": _timestamp(self.updated_at),
        }


@dataclass(frozen=True)
class Refund:
    refund_id: str
    payment_id: str
    merchant_id: str
    idempotency_key: str | None
    amount: int
    currency: str
    state: RefundState
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Refund:
        return cls(
            refund_id=str(row["refund_id"]),
            payment_id=str(row["payment_id"]),
            merchant_id=row["merchant_id"],
            idempotency_key=row["idempotency_key"],
            amount=row["amount"],
            currency=row["currency"],
            state=RefundState(row["state"]),
            failure_reason=row["failure_reason"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    @property
    def status(self) -> str:
        # `approved` (ledger credit pending) is internal, like a payment's intermediate states.
        return "pending" if self.state == RefundState.APPROVED else self.state.value

    def public(self) -> dict[str, Any]:
        return {
            "refund_id": self.refund_id,
            "payment_id": self.payment_id,
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status,
            "failure_reason": self.failure_reason,
            "created_at": _timestamp(self.created_at),
        }
