"""Checks the collector itself makes at start-up beyond key names and types.

`otelcol validate` runs each component's own Validate() and checks each component supports the
pipeline's signal. These mirror, for the components we use, the rules their documentation states,
so a config that passes here does not fail there for a reason the table cannot express.
"""

from __future__ import annotations

import re
from typing import Any

from obsctl.generate.collector.table import DURATION, ENV_PLACEHOLDER, Table, component_type

_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000}
_UNITS_NS["h"] = 60 * _UNITS_NS["m"]
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")


def duration_ns(value: Any) -> float | None:
    """A Go duration in nanoseconds, or None for an ${env:...} placeholder or a non-duration."""
    if value == 0:
        return 0
    if not isinstance(value, str) or ENV_PLACEHOLDER.match(value) or not DURATION.match(value):
        return None
    return sum(float(n) * _UNITS_NS[u] for n, u in _PART.findall(value))


def _positive_duration(where: str, value: Any, problems: list[str]) -> None:
    ns = duration_ns(value)
    if ns is not None and ns <= 0:
        problems.append(f"{where}: must be greater than zero")


def _memory_limiter(where: str, c: dict[str, Any], problems: list[str]) -> None:
    _positive_duration(f"{where}.check_interval", c.get("check_interval", 0), problems)
    by_mib, by_pct = "limit_mib" in c, "limit_percentage" in c
    if by_mib == by_pct:
        problems.append(f"{where}: set exactly one of limit_mib or limit_percentage")
    for limit, spike in (("limit_mib", "spike_limit_mib"), ("limit_percentage", "spike_limit_percentage")):
        lv, sv = c.get(limit), c.get(spike)
        if isinstance(lv, int) and isinstance(sv, int) and sv >= lv:
            problems.append(f"{where}.{spike}: must be below {limit} ({sv} >= {lv})")
        if limit == "limit_percentage" and isinstance(lv, int) and not 0 < lv <= 100:
            problems.append(f"{where}.{limit}: must be 1..100")


def _tail_sampling(where: str, c: dict[str, Any], problems: list[str]) -> None:
    policies = c.get("policies") or []
    if not policies:
        problems.append(f"{where}.policies: at least one policy is required")
    names = [p.get("name") for p in policies]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(f"{where}.policies: duplicate policy name {name!r}")
    for i, policy in enumerate(policies):
        ptype = policy.get("type")
        needs_settings = ptype in (
            "latency",
            "status_code",
            "probabilistic",
            "string_attribute",
            "numeric_attribute",
        )
        if needs_settings and not isinstance(policy.get(ptype), dict):
            problems.append(f"{where}.policies[{i}]: type {ptype} needs its `{ptype}:` settings")
            continue
        if ptype == "probabilistic":
            pct = policy["probabilistic"].get("sampling_percentage")
            if isinstance(pct, int | float) and not 0 <= pct <= 100:
                problems.append(f"{where}.policies[{i}].probabilistic.sampling_percentage: must be 0..100")
        if ptype == "latency" and not (policy["latency"].get("threshold_ms", 0) > 0):
            problems.append(f"{where}.policies[{i}].latency.threshold_ms: must be greater than zero")
    _positive_duration(f"{where}.decision_wait", c.get("decision_wait", "30s"), problems)


def _span_metrics(where: str, c: dict[str, Any], problems: list[str]) -> None:
    histogram = c.get("histogram") or {}
    if "explicit" in histogram and "exponential" in histogram:
        problems.append(f"{where}.histogram: use either explicit or exponential buckets, not both")
    buckets = [duration_ns(b) for b in ((histogram.get("explicit") or {}).get("buckets") or [])]
    known = [b for b in buckets if b is not None]
    if known != sorted(set(known)):
        problems.append(f"{where}.histogram.explicit.buckets: must be strictly increasing")
    names = [d.get("name") for d in c.get("dimensions") or []]
    reserved = {"service.name", "span.name", "span.kind", "status.code"}
    for name in names:
        if name in reserved or names.count(name) > 1:
            problems.append(f"{where}.dimensions: duplicate dimension {name!r}")


def _push_exporter(where: str, c: dict[str, Any], problems: list[str]) -> None:
    if not c.get("endpoint"):
        problems.append(f"{where}.endpoint: required")
    queue = c.get("sending_queue") or {}
    if queue.get("enabled", True):
        for key in ("queue_size", "num_consumers"):
            if key in queue and isinstance(queue[key], int) and queue[key] <= 0:
                problems.append(f"{where}.sending_queue.{key}: must be greater than zero")
    batch = queue.get("batch") or {}
    lo, hi = batch.get("min_size"), batch.get("max_size")
    if isinstance(lo, int) and isinstance(hi, int) and hi > 0 and lo > hi:
        problems.append(f"{where}.sending_queue.batch: min_size {lo} exceeds max_size {hi}")
    if "flush_timeout" in batch:
        _positive_duration(f"{where}.sending_queue.batch.flush_timeout", batch["flush_timeout"], problems)
    retry = c.get("retry_on_failure") or {}
    lo_i, hi_i = (
        duration_ns(retry.get("initial_interval", "5s")),
        duration_ns(retry.get("max_interval", "30s")),
    )
    if lo_i is not None and hi_i is not None and lo_i > hi_i:
        problems.append(f"{where}.retry_on_failure: initial_interval exceeds max_interval")


_PROCESSORS = {"memory_limiter": _memory_limiter, "tail_sampling": _tail_sampling}


def component_rules(config: dict[str, Any], table: Table) -> list[str]:
    problems: list[str] = []
    for cid, body in (config.get("processors") or {}).items():
        check = _PROCESSORS.get(component_type(cid))
        if check and isinstance(body, dict):
            check(f"processors.{cid}", body, problems)
    for cid, body in (config.get("connectors") or {}).items():
        if component_type(cid) == "span_metrics" and isinstance(body, dict):
            _span_metrics(f"connectors.{cid}", body, problems)
    for cid, body in (config.get("exporters") or {}).items():
        spec = table.spec("exporters", component_type(cid)) or {}
        if isinstance(body, dict) and spec.get("push"):
            _push_exporter(f"exporters.{cid}", body, problems)
        elif isinstance(body, dict) and not body.get("endpoint"):
            problems.append(f"exporters.{cid}.endpoint: required")
    return problems


def signals_supported(config: dict[str, Any], table: Table) -> list[str]:
    """Each receiver, processor and exporter supports the signal of every pipeline it is in."""
    problems = []
    connectors = set((config.get("connectors") or {}).keys())
    for pid, p in ((config.get("service") or {}).get("pipelines") or {}).items():
        signal = pid.split("/", 1)[0]
        for part, kind in (
            ("receivers", "receivers"),
            ("processors", "processors"),
            ("exporters", "exporters"),
        ):
            for cid in (p or {}).get(part) or []:
                if cid in connectors:
                    continue  # checked with the connector rules
                spec = table.spec(kind, component_type(cid))
                if spec is not None and signal not in spec.get("signals", []):
                    problems.append(
                        f"service.pipelines.{pid}.{part}: {cid} does not support {signal} "
                        f"(supports {', '.join(spec.get('signals', []))})"
                    )
    return problems
