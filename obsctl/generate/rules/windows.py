"""Multi-window multi-burn-rate alert windows per SLO period: Sloth's AlertWindows catalog.

Each window pair alerts when a share of the period's error budget would be consumed within the
long window: factor = budget share x period / long window. The built-in catalog has 30d and 28d
with the SRE Workbook's shares (2%, 5%, 10%, 10% -> 14.4, 6, 3, 1 for 30d), as Sloth's, and 7d
with Sloth's published 7-day catalog (8%, 12.5%, 20%, 42%), because a 10% share over 3 days of a
7-day period would fire below a burn rate of 1 (never exhausting the budget). A directory of
Sloth `AlertWindows` files (`sloth.slok.dev/v1`, kind AlertWindows) replaces the catalog, as
Sloth's `--slo-period-windows-path` does, and may define any period and any windows.

Durations are Prometheus durations; `canonical` writes them as Prometheus (and so Sloth) does,
which is how recording names and `sloth_window` values spell them: 28d is `4w`, 7d `1w`, 36h
`1d12h`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from obsctl.errors import ObsctlError, Problem, StrictModel, validation_problems
from obsctl.generate.durations import canonical, hours, milliseconds


@dataclass(frozen=True)
class WindowPair:
    tier: str  # page | ticket
    short: str
    long: str
    budget_share: Decimal  # of the period's error budget, 0.02 for 2%
    speed: str = "quick"  # quick | slow, Sloth's names of a tier's two pairs

    def factor(self, period: str) -> Decimal:
        raw = self.budget_share * hours(period) / hours(self.long)
        # 28d's 0.9333... is kept to 10 places: exact enough, and printed cleanly.
        return round(raw, 10).normalize()


@dataclass(frozen=True)
class AlertWindows:
    """The four window pairs of one SLO period: page quick and slow, ticket quick and slow."""

    period: str  # canonical
    pairs: tuple[WindowPair, ...]
    source: str = "built-in"

    @property
    def windows(self) -> tuple[str, ...]:
        """Every short and long window, shortest first: what each SLO records its SLI over."""
        names = {w for p in self.pairs for w in (p.short, p.long)}
        return tuple(sorted(names, key=milliseconds))

    @property
    def current_window(self) -> str:
        """The page tier's quick short window: the SLI that is "now" (Sloth's current burn rate)."""
        return self.pairs[0].short


def _windows(
    period: str, shares: tuple[str, ...], spans: tuple[tuple[str, str], ...], source: str
) -> AlertWindows:
    tiers = (("page", "quick"), ("page", "slow"), ("ticket", "quick"), ("ticket", "slow"))
    return AlertWindows(
        canonical(period),
        tuple(
            WindowPair(tier, canonical(short), canonical(long), Decimal(share), speed)
            for (tier, speed), share, (short, long) in zip(tiers, shares, spans, strict=True)
        ),
        source,
    )


_SPANS = (("5m", "1h"), ("30m", "6h"), ("2h", "1d"), ("6h", "3d"))
_WORKBOOK = ("0.02", "0.05", "0.1", "0.1")
_SLOTH_7D = ("0.08", "0.125", "0.2", "0.42")


class Catalog:
    """Alert windows by SLO period."""

    def __init__(self, entries: list[AlertWindows], source: str):
        self.source = source
        self._by_ms = {milliseconds(w.period): w for w in entries}

    @property
    def periods(self) -> tuple[str, ...]:
        return tuple(w.period for _, w in sorted(self._by_ms.items()))

    def get(self, period: str) -> AlertWindows | None:
        try:
            return self._by_ms.get(milliseconds(period))
        except ValueError:
            return None

    def require(
        self, period: str, file: str = "obsctl", obj: str | None = None, field: str | None = None
    ) -> AlertWindows:
        found = self.get(period)
        if found is None:
            raise ObsctlError([self.missing(period, file, obj, field)])
        return found

    def missing(self, period: str, file: str, obj: str | None = None, field: str | None = None) -> Problem:
        return Problem(
            file=file,
            obj=obj,
            field=field,
            message=f"got period {period!r}; expected one the alert windows ({self.source}) define: "
            f"{', '.join(self.periods)}",
        )


DEFAULT = Catalog(
    [
        _windows("30d", _WORKBOOK, _SPANS, "built-in"),
        _windows("28d", _WORKBOOK, _SPANS, "built-in"),
        _windows("7d", _SLOTH_7D, _SPANS, "built-in"),
    ],
    "built-in: 30d, 28d, 7d",
)


class _Window(StrictModel):
    errorBudgetPercent: Decimal = Field(gt=0, le=100)
    shortWindow: str
    longWindow: str

    @field_validator("shortWindow", "longWindow")
    @classmethod
    def _duration(cls, value: str) -> str:
        return canonical(str(value))


class _QuickSlow(StrictModel):
    quick: _Window
    slow: _Window


class _Spec(StrictModel):
    sloPeriod: str
    page: _QuickSlow
    ticket: _QuickSlow

    @field_validator("sloPeriod")
    @classmethod
    def _duration(cls, value: str) -> str:
        return canonical(str(value))


class AlertWindowsDoc(StrictModel):
    """Sloth's AlertWindows file (pkg/prometheus/alertwindows/v1)."""

    apiVersion: Literal["sloth.slok.dev/v1"]
    kind: Literal["AlertWindows"]
    spec: _Spec


def _entry(doc: AlertWindowsDoc, source: str) -> AlertWindows:
    s = doc.spec
    ws = (s.page.quick, s.page.slow, s.ticket.quick, s.ticket.slow)
    return _windows(
        s.sloPeriod,
        tuple(str(w.errorBudgetPercent / 100) for w in ws),
        tuple((w.shortWindow, w.longWindow) for w in ws),
        source,
    )


def load_catalog(directory: Path) -> Catalog:
    """Every AlertWindows file under `directory` (recursively, *.yaml and *.yml), replacing the
    built-in catalog; two files defining the same period differently are an error."""
    problems: list[Problem] = []
    entries: dict[int, AlertWindows] = {}
    if not directory.is_dir():
        raise ObsctlError(
            [Problem(file=str(directory), message="not a directory; expected AlertWindows files")]
        )
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in (".yaml", ".yml"))
    for f in files:
        try:
            raw: Any = yaml.load(f.read_text(encoding="utf-8"), Loader=_LOADER)  # nosec B506 # SafeLoader
        except (OSError, yaml.YAMLError) as exc:
            problems.append(Problem(file=str(f), message=f"cannot read YAML: {exc}"))
            continue
        try:
            doc = AlertWindowsDoc.model_validate(raw)
        except ValidationError as exc:
            problems.extend(validation_problems(str(f), exc, "AlertWindows", AlertWindowsDoc))
            continue
        entry = _entry(doc, str(f))
        key = milliseconds(entry.period)
        other = entries.get(key)
        if other is not None and other.pairs != entry.pairs:
            problems.append(
                Problem(
                    file=str(f),
                    obj="AlertWindows",
                    field="spec.sloPeriod",
                    message=f"period {entry.period} is also defined, differently, in {other.source}; "
                    "expected one definition per period",
                )
            )
        entries.setdefault(key, entry)
    if not entries and not problems:
        problems.append(
            Problem(
                file=str(directory),
                message="no AlertWindows files found; expected *.yaml files of kind AlertWindows",
            )
        )
    if problems:
        raise ObsctlError(problems)
    catalog = Catalog(list(entries.values()), f"{directory}")
    return catalog


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def pairs(period: str) -> tuple[WindowPair, ...]:
    """The built-in window pairs of `period` (30d, 28d or 7d)."""
    return DEFAULT.require(period).pairs


# The windows the repository's SLOs record (built-in catalog, shortest first) and every window an
# SLI recording of the built-in catalog may have: those and each built-in period.
SLI_WINDOWS = DEFAULT.require("30d").windows
RECORDED_WINDOWS = (*SLI_WINDOWS, "30d", "28d", "7d")
