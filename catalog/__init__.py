"""The catalog (observability/catalog.yaml): services, teams, tiers, budgets, calls and metrics.

The one module the services (to create their metrics and read their budget) and obsctl (to
generate and check configs, and to start the local stack) both import. It depends on neither.
Every list of the services (the stack's start order, the migrations' order, the tests') comes
from here.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
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


# The data stores a service connects to; each is one environment variable (DATABASE_URL,
# REDIS_URL, KAFKA_BOOTSTRAP).
Store = Literal["database", "redis", "kafka"]


class Service(StrictModel):
    team: str
    tier: int = Field(ge=1, le=3)
    description: str = ""
    # Reachable from outside the platform (the public API); every other service is internal.
    public: bool = False
    # This hop's own deadline in milliseconds (REQUEST_BUDGET_MS overrides it).
    budget_ms: int = Field(gt=0)
    # The services it calls over HTTP (it is given their <NAME>_URL). Events through Kafka are
    # not calls: the consumer of a topic is independent of its producer.
    calls: tuple[str, ...] = ()
    uses: tuple[Store, ...] = ()
    # Runs as one gunicorn worker process: its state lives in memory, or more processes would
    # only compete (one Kafka consumer per group member).
    single_process: bool = False
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

    def problems(self, file: str) -> list[Problem]:
        """Every reference that names nothing (a team, a metric set, a service) and every cycle of
        calls, each naming the object and the field."""
        found: list[Problem] = []

        def unknown(obj: str, field: str, got: str, kind: str, expected: Iterable[str]) -> None:
            found.append(
                Problem(
                    file=file,
                    obj=obj,
                    field=field,
                    message=f"{got!r} is not a {kind}; expected one of: {', '.join(expected)}",
                )
            )

        for name, svc in self.services.items():
            obj = f"service {name}"
            if svc.team not in self.teams:
                unknown(obj, "team", svc.team, "team", self.teams)
            for s in svc.metric_sets:
                if s not in self.metric_sets:
                    unknown(obj, "metric_sets", s, "metric set", self.metric_sets)
            for callee in svc.calls:
                if callee not in self.services:
                    unknown(obj, "calls", callee, "service", self.services)
            for m, count in Counter(m.name for m in self._declared_metrics(name)).items():
                if count > 1:
                    found.append(
                        Problem(file=file, obj=obj, field="metrics", message=f"{m!r} declared twice")
                    )
        for name, comp in self.external_components.items():
            if comp.team not in self.teams:
                unknown(f"external component {name}", "team", comp.team, "team", self.teams)
        cycle = self._call_cycle()
        if cycle:
            found.append(
                Problem(
                    file=file,
                    obj=f"service {cycle[0]}",
                    field="calls",
                    message=f"calls form a cycle ({' -> '.join(cycle)}); expected no service to call itself"
                    " back through its callees",
                )
            )
        return found

    # -- the services' topology -----------------------------------------------------------------

    def start_order(self) -> tuple[str, ...]:
        """Every service, callees before their callers: the order the local stack starts them and
        the migrations run. In rounds: first the services that call nobody, then those whose
        callees are all placed, and so on; catalog order within a round."""
        placed: list[str] = []
        waiting = list(self.services)
        while waiting:
            ready = [n for n in waiting if set(self.services[n].calls) <= set(placed)]
            # A cycle (which problems() reports) leaves nothing ready: the rest keeps catalog order.
            placed.extend(ready or waiting)
            waiting = [n for n in waiting if n not in placed]
        return tuple(placed)

    def reachable_from(self, service: str) -> tuple[str, ...]:
        """The service and every service it calls, directly or through others, in start order."""
        seen = {service}
        todo = [service]
        while todo:
            for callee in self.services[todo.pop()].calls:
                if callee not in seen:
                    seen.add(callee)
                    todo.append(callee)
        return tuple(n for n in self.start_order() if n in seen)

    def public_services(self) -> tuple[str, ...]:
        return tuple(n for n, s in self.services.items() if s.public)

    def _call_cycle(self) -> list[str]:
        """One cycle of calls as [a, b, ..., a], or [] when there is none."""
        state: dict[str, str] = {}  # "open" while on the path, "done" after

        def visit(name: str, path: list[str]) -> list[str]:
            state[name] = "open"
            for callee in self.services[name].calls:
                if callee not in self.services or state.get(callee) == "done":
                    continue
                if state.get(callee) == "open":
                    return [*path[path.index(callee) :], callee]
                cycle = visit(callee, [*path, callee])
                if cycle:
                    return cycle
            state[name] = "done"
            return []

        for name in self.services:
            if name not in state:
                cycle = visit(name, [name])
                if cycle:
                    return cycle
        return []

    # -- metrics ---------------------------------------------------------------------------------

    def _declared_metrics(self, service: str) -> list[Metric]:
        svc = self.services[service]
        out: list[Metric] = []
        for s in svc.metric_sets:
            out.extend(self.metric_sets.get(s, ()))
        out.extend(svc.metrics)
        return out

    def service_metrics(self, service: str) -> tuple[Metric, ...]:
        return tuple(self._declared_metrics(service))

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
        cat = Catalog.model_validate(raw)
    except ValidationError as exc:
        raise from_validation(str(path), exc) from exc
    problems = cat.problems(str(path))
    if problems:
        raise SpecError(problems)
    return cat


@lru_cache(maxsize=1)
def default() -> Catalog:
    return load()
