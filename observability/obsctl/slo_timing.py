"""What the SLO math predicts for a multi-window burn-rate page: how long until it fires under a
given error ratio, and how long after recovery each of its conditions lets go.

A condition "ratio over window W > factor x budget" holds while the errors inside W are more than
factor x budget of W's traffic. With a constant request rate, errors at `error_ratio` for F
seconds make up F x error_ratio / W of a full window (or of the data so far, when the stack is
younger than W). Prometheus adds its own lag on top: a scrape interval for a new error series to be
seen twice, and a rule evaluation interval for each of the recording rule and the alert.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Condition:
    factor: float  # burn rate, e.g. 14.4
    long_s: float  # long window, seconds
    short_s: float  # short window, seconds

    def threshold(self, budget: float) -> float:
        return self.factor * budget


# The page conditions of the generated SLO alerts (30-day period): 14.4x over 1h and 5m, 6x over 6h
# and 30m; the page fires when either holds.
PAGE = (Condition(14.4, 3600, 300), Condition(6.0, 6 * 3600, 1800))


def seconds_to_fire(
    condition: Condition, budget: float, error_ratio: float, healthy_before_s: float
) -> float:
    """Seconds of errors at `error_ratio` until both windows exceed the threshold, traffic steady,
    `healthy_before_s` seconds of healthy traffic before the fault."""
    share = condition.threshold(budget) / error_ratio  # errors must be this share of a window's traffic
    if share >= 1:
        return float("inf")
    needed = 0.0
    for window in (condition.long_s, condition.short_s):
        # F errors in a window holding min(window, healthy + F) seconds of traffic: F > share x that.
        full = share * window
        young = share * healthy_before_s / (1 - share)
        needed = max(needed, min(full, young) if healthy_before_s < window else full)
    return needed


def seconds_to_clear(condition: Condition, budget: float, error_ratio: float, fault_s: float) -> float:
    """Seconds after recovery until the short window lets go (the condition needs both windows),
    for a fault of `fault_s` seconds at `error_ratio` inside a window full of traffic."""
    allowed = condition.threshold(budget) / error_ratio * condition.short_s  # fault seconds it may hold
    if fault_s <= allowed:
        return 0.0
    # The window slides past the fault: it holds fault_s - (t - (window - fault_s)) seconds of it.
    return condition.short_s - allowed


def page_resolution_s(budget: float, error_ratio: float, fault_s: float) -> float:
    """Seconds after recovery until no page condition holds (the slowest of them)."""
    return max(seconds_to_clear(c, budget, error_ratio, fault_s) for c in PAGE)
