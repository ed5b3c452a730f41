"""Capacity at the latency SLO: the highest arrival rate a stack serves with p99 under 200 ms and
no errors, found by probing rates open-loop (obsctl/run/load/openloop.py).

The search doubles the rate from `start` while a probe passes, then bisects between the highest
rate that passed and the lowest that failed until they are within `precision` of each other (or
`max_probes` probes are spent). A probe passes when every payment was answered (no error) and the
p99 of the answers' latencies, measured from each payment's arrival time, is under the target.
Each probe is printed as it ends. The search takes a `probe` callable, so it is tested without a
stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

P99_TARGET_MS = 200.0


@dataclass(frozen=True)
class Probe:
    """One rate tried: what the load generator saw."""

    rate: float
    payments_per_s: float
    p50_ms: float
    p99_ms: float
    error_rate: float

    @property
    def passed(self) -> bool:
        return self.error_rate == 0 and self.p99_ms < P99_TARGET_MS

    def line(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        p99 = "inf" if self.p99_ms == float("inf") else f"{self.p99_ms:.0f}"
        return (
            f"{self.rate:7.1f}/s: {verdict}  p50 {self.p50_ms:.0f} ms, p99 {p99} ms,"
            f" errors {self.error_rate:.2%}, {self.payments_per_s:.1f} answered/s"
        )


@dataclass
class Capacity:
    """The highest rate that passed (0 when none did), and every probe in the order it ran."""

    rate: float
    probes: list[Probe] = field(default_factory=list)
    # True when even `max_rate` passed: the capacity is at least `rate`, the search stopped there.
    at_ceiling: bool = False


def find_capacity(
    probe: Callable[[float], Probe],
    *,
    start: float = 10.0,
    max_rate: float = 1000.0,
    precision: float = 0.10,
    max_probes: int = 10,
    min_rate: float | None = None,
    progress: Callable[[str], None] = lambda _line: None,
) -> Capacity:
    """Step up by doubling, then bisect; see the module's docstring. No rate below `min_rate`
    (start / 4 by default) is tried: when even that fails, the capacity is 0 ("below min_rate").
    Far below its capacity a stack does not get faster (idle connections expire, caches go
    cold), so probing lower only measures the machine's other work."""
    if start <= 0 or max_rate < start:
        raise ValueError("start must be positive and at most max_rate")
    floor = start / 4 if min_rate is None else min_rate
    probes: list[Probe] = []

    def run(rate: float) -> bool:
        result = probe(rate)
        probes.append(result)
        progress(result.line())
        return result.passed

    low, high = 0.0, None  # highest rate passed, lowest rate failed
    rate = start
    while len(probes) < max_probes:
        if run(rate):
            low = rate
            if rate >= max_rate:
                return Capacity(low, probes, at_ceiling=True)
            rate = min(rate * 2, max_rate)
        else:
            high = rate
            break
    while high is not None and len(probes) < max_probes:
        if low > 0 and high / low <= 1 + precision:
            break
        rate = round((low + high) / 2, 1)
        if low == 0 and rate < floor:  # nothing passes, even well below the start
            break
        if rate in (low, high):
            break
        if run(rate):
            low = rate
        else:
            high = rate
    return Capacity(low, probes)
