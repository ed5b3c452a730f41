"""Multi-window multi-burn-rate alert windows per SLO period.

Each window pair alerts when a share of the period's error budget would be consumed within the
long window: factor = budget share x period / long window. 30d and 28d use the SRE Workbook's
shares (2%, 5%, 10%, 10% -> 14.4, 6, 3, 1 for 30d); 7d uses Sloth's published 7-day catalog
(8%, 12.5%, 20%, 42%), because a 10% share over 3 days of a 7-day period would fire below a
burn rate of 1 (never exhausting the budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PERIOD_HOURS = {"30d": 720, "28d": 672, "7d": 168}
WINDOW_HOURS: dict[str, Decimal] = {
    "5m": Decimal(5) / 60,
    "30m": Decimal("0.5"),
    "1h": Decimal(1),
    "2h": Decimal(2),
    "6h": Decimal(6),
    "1d": Decimal(24),
    "3d": Decimal(72),
}
# The windows every SLO records, shortest first (the period window is added per SLO).
SLI_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# Every window an SLI recording may have: the alert windows and each period an SLO may have.
RECORDED_WINDOWS = SLI_WINDOWS + tuple(PERIOD_HOURS)


@dataclass(frozen=True)
class WindowPair:
    tier: str  # page | ticket
    short: str
    long: str
    budget_share: Decimal

    def factor(self, period: str) -> Decimal:
        raw = self.budget_share * PERIOD_HOURS[period] / Decimal(WINDOW_HOURS[self.long])
        # 28d's 0.9333... is kept to 10 places: exact enough, and printed cleanly.
        return round(raw, 10).normalize()


_SHARES = {
    "30d": ("0.02", "0.05", "0.1", "0.1"),
    "28d": ("0.02", "0.05", "0.1", "0.1"),
    "7d": ("0.08", "0.125", "0.2", "0.42"),
}


def pairs(period: str) -> tuple[WindowPair, ...]:
    s = [Decimal(x) for x in _SHARES[period]]
    return (
        WindowPair("page", "5m", "1h", s[0]),
        WindowPair("page", "30m", "6h", s[1]),
        WindowPair("ticket", "2h", "1d", s[2]),
        WindowPair("ticket", "6h", "3d", s[3]),
    )
