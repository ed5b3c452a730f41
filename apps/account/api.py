"""Request bodies of the account API (strict: integers only for amounts, no unknown fields)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from apps.common.validation import StrictModel

# The ledger holds bigint minor units; one movement stays far below that so sums cannot overflow.
MAX_AMOUNT = 10**12

Identifier = Annotated[str, Field(min_length=1, max_length=128)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[int, Field(gt=0, le=MAX_AMOUNT)]


class DebitRequest(StrictModel):
    payment_id: Identifier
    user_id: Identifier
    currency: Currency
    amount: Amount


class CreditRequest(StrictModel):
    reference_id: Identifier
    kind: Literal["compensation", "refund"]
    user_id: Identifier
    currency: Currency
    amount: Amount


class BalanceQuery(StrictModel):
    currency: Currency
