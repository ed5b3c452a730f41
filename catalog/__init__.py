"""The catalog (observability/catalog.yaml): services, teams, tiers, budgets and metrics.

The one module the services (to create their metrics) and obsctl (to generate and check
configs) both import. It depends on neither.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from catalog.problems import Problem, SpecError, StrictModel, from_validation

# The repository's catalog; OBSCTL_CATALOG points elsewhere (tests, an image's copy).
DEFAULT_PATH = Path(
    os.environ.get("OBSCTL_CATALOG", Path(__file__).resolve().parents[1] / "observability" / "catalog.yaml")
)

MetricType = Literal["counter", "gauge", "histogram"]


class Metric(StrictModel):
    name: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    type: MetricType
    unit: str = ""
    labels: tuple[str, ...] = ()
    help: str = ""
    buckets: tuple[float, ...] | None = None
    exemplars: bool = False
    # prometheus-client multiprocess aggregation for gauges (livesum, max, ...).
    multiprocess_mode: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Metric:
        if self.type == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name!r} must end in _total")
        if self.type != "counter" and self.name.endswith("_total"):
            raise ValueError(f"{self.type} {self.name!r} must not end in _total")
        if self.buckets is not None and self.type != "histogram":
            raise ValueError(f"{self.name!r}: buckets are only for histograms")
        if self.buckets is not None and list(self.buckets) != sorted(self.buckets):
            raise ValueError(f"{self.name!r}: buckets must be increasing")
        return self

    def series_names(self) -> tuple[str, ...]:
        """The names Prometheus stores for this metric."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


class Team(StrictModel):
    description: str = ""
    pager: str
    chat: str


class Service(StrictModel):
    team: str
    tier: int = Field(ge=1, le=3)
    description: str = ""
    metric_sets: tuple[str, ...] = ()
    metrics: tuple[Metric, ...] = ()


class ExternalComponent(StrictModel):
    team: str
    description: str = ""
    metrics: tuple[Metric, ...] = ()


class Catalog(StrictModel):
    version: Literal[1]
    teams: dict[str, Team]
    metric_sets: dict[str, tuple[Metric, ...]] = {}
    services: dict[str, Service]
    external_components: dict[str, ExternalComponent] = {}

    @model_validator(mode="after")
    def _references(self) -> Catalog:
        for name, svc in self.services.items():
            if svc.team not in self.teams:
                raise ValueError(f"services.{name}.team: unknown team {svc.team!r}")
            for s in svc.metric_sets:
                if s not in self.metric_sets:
                    raise ValueError(f"services.{name}.metric_sets: unknown set {s!r}")
            seen: set[str] = set()
            for m in self.service_metrics(name):
                if m.name in seen:
                    raise ValueError(f"services.{name}: metric {m.name!r} declared twice")
                seen.add(m.name)
        for name, comp in self.external_components.items():
            if comp.team not in self.teams:
                raise ValueError(f"external_components.{name}.team: unknown team {comp.team!r}")
        return self

    def service_metrics(self, service: str) -> tuple[Metric, ...]:
        svc = self.services[service]
        out: list[Metric] = []
        for s in svc.metric_sets:
            out.extend(self.metric_sets[s])
        out.extend(svc.metrics)
        return tuple(out)

    def metric(self, name: str) -> Metric:
        for m in self.all_metrics():
            if m.name == name:
                return m
        raise KeyError(f"metric {name!r} is not in {DEFAULT_PATH}")

    def all_metrics(self) -> tuple[Metric, ...]:
        seen: dict[str, Metric] = {}
        for svc in self.services:
            for m in self.service_metrics(svc):
                seen.setdefault(m.name, m)
        for comp in self.external_components.values():
            for m in comp.metrics:
                seen.setdefault(m.name, m)
        return tuple(seen.values())

    def known_series(self) -> frozenset[str]:
        """Every series name a query may select (histograms expand to _bucket/_sum/_count)."""
        return frozenset(n for m in self.all_metrics() for n in m.series_names())

    def owners(self, metric_name: str) -> list[str]:
        return [s for s in self.services if any(m.name == metric_name for m in self.service_metrics(s))]


def load(path: Path | None = None) -> Catalog:
    path = path or DEFAULT_PATH
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError([Problem(file=str(path), message=f"cannot read: {exc}")]) from exc
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        raise from_validation(str(path), exc) from exc


@lru_cache(maxsize=1)
def default() -> Catalog:
    return load()
