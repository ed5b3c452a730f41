"""Prometheus metrics created from the catalog (observability/catalog.yaml).

A service cannot create a metric the catalog does not declare, and name, type, labels, help and
buckets come from the catalog, so the services and the generated rules cannot drift apart.
Under gunicorn the metrics run in prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR),
so every worker's samples are summed into one /metrics answer.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

import catalog as catalog_module
from apps.common.config import service_name

_lock = threading.Lock()
_metrics: dict[str, Any] = {}
# Our own registry, not the default one: a service exposes exactly its catalog entries (no
# process_* or python_gc_* families that nobody declared).
_REGISTRY = CollectorRegistry()


class UnknownMetric(KeyError):
    pass


def _declared(name: str) -> catalog_module.Metric:
    cat = catalog_module.default()
    service = service_name()
    if service in cat.services:
        for m in cat.service_metrics(service):
            if m.name == name:
                return m
        raise UnknownMetric(f"metric {name!r} is not declared for service {service!r} in the catalog")
    try:
        return cat.metric(name)
    except KeyError as exc:
        raise UnknownMetric(str(exc)) from exc


def _create(m: catalog_module.Metric) -> Any:
    labels = list(m.labels)
    if m.type == "counter":
        return Counter(m.name.removesuffix("_total"), m.help, labels, registry=_REGISTRY)
    if m.type == "histogram":
        kwargs: dict[str, Any] = {}
        if m.buckets:
            kwargs["buckets"] = list(m.buckets)
        return Histogram(m.name, m.help, labels, registry=_REGISTRY, **kwargs)
    mode: Any = m.multiprocess_mode or "livesum"  # validated by prometheus-client itself
    return Gauge(m.name, m.help, labels, multiprocess_mode=mode, registry=_REGISTRY)


def _get(name: str, kind: str) -> Any:
    with _lock:
        metric = _metrics.get(name)
        if metric is None:
            declared = _declared(name)
            if declared.type != kind:
                raise UnknownMetric(f"metric {name!r} is a {declared.type} in the catalog, not a {kind}")
            metric = _metrics[name] = _create(declared)
        return metric


def counter(name: str) -> Counter:
    return _get(name, "counter")


def gauge(name: str) -> Gauge:
    return _get(name, "gauge")


def histogram(name: str) -> Histogram:
    return _get(name, "histogram")


class _WithDeclaredFamilies(Collector):
    """Adds an empty family (HELP and TYPE, no samples) for each of the service's catalog metrics
    that has no sample yet, so /metrics always lists every declared family: in multiprocess mode a
    metric exists only once some worker wrote a sample (an error counter before the first error)."""

    def __init__(self, inner: Collector) -> None:
        self.inner = inner

    def collect(self) -> Iterable[Metric]:
        seen = set()
        for family in self.inner.collect():
            seen.add(family.name)
            yield family
        cat = catalog_module.default()
        if service_name() not in cat.services:
            return
        for m in cat.service_metrics(service_name()):
            name = m.name.removesuffix("_total") if m.type == "counter" else m.name
            if name not in seen:
                yield Metric(name, m.help, m.type)


def exposition() -> tuple[bytes, str]:
    """The /metrics body: all workers' samples in multiprocess mode, this process's otherwise."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry)
        return generate_latest(_WithDeclaredFamilies(registry)), CONTENT_TYPE_LATEST
    return generate_latest(_WithDeclaredFamilies(_REGISTRY)), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Called by gunicorn when a worker exits, so its live gauges stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        prom_multiprocess.mark_process_dead(pid)
