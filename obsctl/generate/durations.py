"""Prometheus durations: parsed to milliseconds, and written as Prometheus (and so Sloth) writes
them, which is how SLO recording names and `sloth_window` values spell a window: 28d is `4w`, 7d
`1w`, 36h `1d12h`, 90d stays `90d`."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

_UNIT_MS = {
    "y": 365 * 86_400_000,
    "w": 7 * 86_400_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1000,
}
_DURATION = re.compile(
    r"^(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?"
    r"(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$"
)


@lru_cache(maxsize=256)
def milliseconds(duration: str) -> int:
    """A Prometheus duration (1h, 1d12h, 4w, 90s) in milliseconds; ValueError when it is not one."""
    m = _DURATION.match(duration.strip())
    if not m or not any(m.groups()):
        raise ValueError(f"got {duration!r}; expected a Prometheus duration such as 5m, 6h, 30d or 4w")
    ms = sum(int(v) * _UNIT_MS.get(unit, 1) for unit, v in m.groupdict().items() if v)
    if ms <= 0:
        raise ValueError(f"got {duration!r}; expected a duration greater than zero")
    return ms


@lru_cache(maxsize=256)
def canonical(duration: str) -> str:
    """`duration` as Prometheus prints it: years and weeks only when exact (90d, not 12w6d)."""
    ms = milliseconds(duration)
    out = ""
    for unit, size, exact in (
        ("y", _UNIT_MS["y"], True),
        ("w", _UNIT_MS["w"], True),
        ("d", _UNIT_MS["d"], False),
        ("h", _UNIT_MS["h"], False),
        ("m", _UNIT_MS["m"], False),
        ("s", _UNIT_MS["s"], False),
        ("ms", 1, False),
    ):
        if exact and ms % size:
            continue
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out


def hours(duration: str) -> Decimal:
    return Decimal(milliseconds(duration)) / _UNIT_MS["h"]


def minutes(duration: str) -> Decimal:
    return Decimal(milliseconds(duration)) / _UNIT_MS["m"]


def days(duration: str) -> Decimal:
    return Decimal(milliseconds(duration)) / _UNIT_MS["d"]
