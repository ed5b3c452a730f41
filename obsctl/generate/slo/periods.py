"""Alert windows for SLO periods the built-in catalog does not list (14d, 2w, 90d, ...).

The built-in catalog (obsctl.generate.rules.windows) has 30d and 28d with the SRE Workbook's
budget shares (2%, 5%, 10%, 10% of the period's budget within 1h, 6h, 1d, 3d) and 7d with Sloth's
7-day shares (8%, 12.5%, 20%, 42%). Every pair alerts at factor = share x period / long window,
so the factors scale with the period exactly as they do between 28d and 30d. For other periods:

- 28d or longer: the Workbook's shares (90d: 43.2, 18, 9, 3);
- between 7d and 28d: each share moves linearly with the period from Sloth's 7d share to the
  Workbook's 28d one (14d: 6%, 10%, 16.67%, 31.33%, factors 20.16, 5.6, 2.33, 1.46), so no pair
  alerts below a burn rate of about 1 the way the Workbook's 10% over 3 days would for a week;
- shorter than 7d: not derived (the 3-day window would not fit the period); such a period needs
  Sloth's AlertWindows files (`--slo-period-windows-path`).

The short and long windows are the standard ones in every case.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from catalog.problems import Problem
from obsctl.generate.durations import canonical, days
from obsctl.generate.rules import windows

_SPANS = (("5m", "1h"), ("30m", "6h"), ("2h", "1d"), ("6h", "3d"))
_WORKBOOK = (Decimal("0.02"), Decimal("0.05"), Decimal("0.1"), Decimal("0.1"))
_SLOTH_7D = (Decimal("0.08"), Decimal("0.125"), Decimal("0.2"), Decimal("0.42"))
_TIERS = (("page", "quick"), ("page", "slow"), ("ticket", "quick"), ("ticket", "slow"))
SHORTEST = "7d"


def shares(period: str) -> tuple[Decimal, ...] | None:
    """The budget share of each pair for `period`; None below 7 days."""
    d = days(period)
    if d < 7:
        return None
    if d >= 28:
        return _WORKBOOK
    t = (d - 7) / 21
    return tuple(
        (s7 + (s28 - s7) * t).quantize(Decimal("1e-10")) for s7, s28 in zip(_SLOTH_7D, _WORKBOOK, strict=True)
    )


@lru_cache(maxsize=256)
def derived(period: str) -> windows.AlertWindows | None:
    """The alert windows of `period` (the built-in catalog's own when it has it); None when the
    period is shorter than 7 days or not a duration."""
    try:
        found = windows.DEFAULT.get(period)
        if found is not None:
            return found
        s = shares(period)
    except ValueError:
        return None
    if s is None:
        return None
    return windows.AlertWindows(
        canonical(period),
        tuple(
            windows.WindowPair(tier, short, long, share, speed)
            for (tier, speed), share, (short, long) in zip(_TIERS, s, _SPANS, strict=True)
        ),
        "derived from the built-in catalog",
    )


def lookup(catalog: windows.Catalog, period: str) -> windows.AlertWindows | None:
    """The windows of `period`: the catalog's; for the built-in catalog, derived when it lacks it
    (a catalog of AlertWindows files replaces the built-in one entirely, as Sloth's does)."""
    found = catalog.get(period)
    if found is None and catalog is windows.DEFAULT:
        return derived(period)
    return found


def unknown(
    catalog: windows.Catalog, period: str, file: str, obj: str | None = None, field: str | None = None
) -> Problem:
    """The problem of a period `lookup` finds no windows for, saying what would be accepted."""
    problem = catalog.missing(period, file, obj, field)
    if catalog is windows.DEFAULT:
        problem.message = (
            f"got period {period!r}; expected {SHORTEST} or longer (the built-in alert "
            "windows' 3-day pair needs it), or alert windows for it (--slo-period-windows-path)"
        )
    return problem
