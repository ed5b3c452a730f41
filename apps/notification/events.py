"""The payment event as it travels over Kafka (JSON value, payment id as key)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class PaymentEvent(BaseModel):
    # Producers may add fields; the consumer keeps the whole payload and reads only these.
    model_config = ConfigDict(extra="allow")

    event_id: str
    event_type: str
    payment_id: str
    created_at: datetime


def parse(value: bytes) -> tuple[PaymentEvent, dict[str, Any]]:
    payload = json.loads(value)
    return PaymentEvent.model_validate(payload), payload
