"""Request deadlines: each hop's own budget, cut by the caller's remaining budget.

The budget travels as the remaining milliseconds in X-Deadline-Ms (not an absolute time), so clock
skew between hosts cannot shorten or lengthen it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from apps.common.errors import DeadlineExceeded

HEADER = "X-Deadline-Ms"


@dataclass(frozen=True)
class Deadline:
    expires_at: float  # time.monotonic() value

    @classmethod
    def start(cls, own_budget_ms: int, header_value: str | None = None) -> Deadline:
        budget = own_budget_ms
        if header_value:
            # A malformed header is ignored: our own budget still bounds the work.
            with contextlib.suppress(ValueError):
                budget = min(budget, max(0, int(header_value)))
        return cls(time.monotonic() + budget / 1000)

    def remaining(self) -> float:
        return max(0.0, self.expires_at - time.monotonic())

    def remaining_ms(self) -> int:
        return int(self.remaining() * 1000)

    def expired(self) -> bool:
        return self.remaining() <= 0

    def check(self) -> None:
        if self.expired():
            raise DeadlineExceeded("request deadline exceeded")
