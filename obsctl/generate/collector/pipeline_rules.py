"""Our pipeline policies, which the collector cannot check: it runs any valid pipeline, in any
order. `otelcol validate` answers whether a config is valid (component types, keys, values, OTTL,
signals, connectors, undefined references); these rules answer whether it is ours (docs/collector.md).

Each rule is a function config -> problems, so a failure names the rule, the pipeline and the
component. `check_pipelines` runs them all; `kubernetes=True` adds the bind-address rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

SIGNALS = ("traces", "metrics", "logs")
# Processors that read the incoming request (the client address k8s_attributes associates pods
# by) or that must see every span before a sampling decision: all before tail_sampling.
NEED_REQUEST_CONTEXT = ("k8s_attributes",)
BEFORE_SAMPLING = ("k8s_attributes", "resource_detection", "transform")
WILDCARD_HOSTS = ("0.0.0.0", "::", "[::]", "")  # nosec B104 # what the check looks for, no bind
# Exporters that Prometheus scrapes: nothing to retry, queue or batch.
PULL_EXPORTERS = ("prometheus",)
# Names the release still loads as deprecated aliases (silently, for `otelcol validate`): we write
# the current ones (docs/collector.md, "Component names of the pinned release").
DEPRECATED_ALIASES = {
    "exporters": {"otlp": "otlp_grpc", "otlphttp": "otlp_http"},
    "processors": {"k8sattributes": "k8s_attributes", "resourcedetection": "resource_detection"},
    "connectors": {"spanmetrics": "span_metrics"},
}
# The pod-IP placeholder a kubernetes listener must use, with the default it falls back to.
POD_IP_PLACEHOLDER = re.compile(r"^\$\{env:MY_POD_IP(?::-(?P<default>[^}]*))?\}$")


def component_type(component_id: str) -> str:
    """`otlp_http/logs` -> `otlp_http`."""
    return component_id.split("/", 1)[0]


def _push(exporter_id: str) -> bool:
    return component_type(exporter_id) not in PULL_EXPORTERS


def _pipelines(config: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    raw = (config.get("service") or {}).get("pipelines") or {}
    return {
        pid: {part: list((body or {}).get(part) or []) for part in ("receivers", "processors", "exporters")}
        for pid, body in raw.items()
    }


def _signal(pipeline_id: str) -> str:
    return pipeline_id.split("/", 1)[0]


def _connectors(config: dict[str, Any]) -> set[str]:
    return set((config.get("connectors") or {}).keys())


def defined_and_used(config: dict[str, Any]) -> list[str]:
    """Nothing defined that no pipeline uses, no extension defined and not enabled: the collector
    accepts both silently."""
    problems = []
    connectors = _connectors(config)
    used: dict[str, set[str]] = {
        kind: set() for kind in ("receivers", "processors", "exporters", "connectors")
    }
    for p in _pipelines(config).values():
        for part in ("receivers", "processors", "exporters"):
            for cid in p[part]:
                used["connectors" if part != "processors" and cid in connectors else part].add(cid)
    for kind, names in used.items():
        for cid in sorted((config.get(kind) or {}).keys() - names):
            problems.append(f"{kind}.{cid}: defined but used in no pipeline")
    extensions = set((config.get("extensions") or {}).keys())
    enabled = set((config.get("service") or {}).get("extensions") or [])
    for cid in sorted(extensions - enabled):
        problems.append(f"extensions.{cid}: defined but not enabled in service.extensions")
    return problems


def current_component_names(config: dict[str, Any]) -> list[str]:
    problems = []
    for kind, aliases in DEPRECATED_ALIASES.items():
        for cid in config.get(kind) or {}:
            new = aliases.get(component_type(cid))
            if new:
                problems.append(f"{kind}.{cid}: {component_type(cid)!r} is a deprecated alias; use {new!r}")
    return problems


def memory_limiter_first(config: dict[str, Any]) -> list[str]:
    problems = []
    for pid, p in _pipelines(config).items():
        procs = p["processors"]
        if not procs or component_type(procs[0]) != "memory_limiter":
            first = procs[0] if procs else "nothing"
            problems.append(
                f"service.pipelines.{pid}: memory_limiter must be the first processor (found {first})"
            )
    return problems


def _upstream_paths(
    pipes: dict[str, dict[str, list[str]]], pid: str, connectors: set[str]
) -> Iterator[list[str]]:
    """Every processor sequence a span can pass before reaching pipeline `pid`'s processors."""
    for receiver in pipes[pid]["receivers"]:
        if receiver not in connectors:
            yield []
            continue
        feeders = [q for q, p in pipes.items() if receiver in p["exporters"] and q != pid]
        for q in feeders:
            for before in _upstream_paths(pipes, q, connectors):
                yield before + pipes[q]["processors"]


def sampling_order(config: dict[str, Any]) -> list[str]:
    """Tail sampling after every enriching/redacting processor and after span metrics."""
    problems = []
    pipes = _pipelines(config)
    connectors = _connectors(config)
    defined = {component_type(c) for c in (config.get("processors") or {})}
    span_metric_feeders = [
        pid for pid, p in pipes.items() if any(component_type(e) == "span_metrics" for e in p["exporters"])
    ]
    sampling_pipes = [
        pid for pid, p in pipes.items() if any(component_type(c) == "tail_sampling" for c in p["processors"])
    ]
    for pid in sampling_pipes:
        procs = pipes[pid]["processors"]
        idx = next(i for i, c in enumerate(procs) if component_type(c) == "tail_sampling")
        for path in _upstream_paths(pipes, pid, connectors):
            seen = [component_type(c) for c in path + procs[:idx]]
            for needed in BEFORE_SAMPLING:
                if needed in defined and needed not in seen:
                    problems.append(
                        f"service.pipelines.{pid}: tail_sampling runs before {needed} on some path"
                    )
        if not span_metric_feeders:
            problems.append(f"service.pipelines.{pid}: tail sampling without span metrics computed before it")
    for pid in span_metric_feeders:
        for path in _upstream_paths(pipes, pid, connectors):
            if any(component_type(c) == "tail_sampling" for c in path + pipes[pid]["processors"]):
                problems.append(
                    f"service.pipelines.{pid}: span metrics computed after tail sampling (undercounts)"
                )
    for pid, p in pipes.items():
        types = [component_type(c) for c in p["processors"]]
        for needed in NEED_REQUEST_CONTEXT:
            if needed not in types:
                continue
            if any(r in connectors for r in p["receivers"]):
                problems.append(f"service.pipelines.{pid}: {needed} needs the request context of a receiver")
            if any(t in ("batch", "tail_sampling") for t in types[: types.index(needed)]):
                problems.append(
                    f"service.pipelines.{pid}: {needed} after a processor that drops request context"
                )
    return problems


def redaction_before_export(config: dict[str, Any]) -> list[str]:
    """Traces and logs pass a transform (the redaction) before any exporter or connector sees them."""
    problems = []
    pipes = _pipelines(config)
    connectors = _connectors(config)
    for pid, p in pipes.items():
        if _signal(pid) not in ("traces", "logs"):
            continue
        for path in _upstream_paths(pipes, pid, connectors):
            if not any(component_type(c) == "transform" for c in path + p["processors"]):
                problems.append(
                    f"service.pipelines.{pid}: data reaches {p['exporters']} without the redaction"
                )
    return problems


def batching_last(config: dict[str, Any]) -> list[str]:
    problems = []
    exporters = config.get("exporters") or {}
    for pid, p in _pipelines(config).items():
        types = [component_type(c) for c in p["processors"]]
        if "batch" in types and types[-1] != "batch":
            problems.append(f"service.pipelines.{pid}: the batch processor must be last")
        for eid in p["exporters"]:
            if eid in _connectors(config) or not _push(eid):
                continue
            in_queue = ((exporters.get(eid) or {}).get("sending_queue") or {}).get("batch") is not None
            if not in_queue and (not types or types[-1] != "batch"):
                problems.append(
                    f"service.pipelines.{pid}: exporter {eid} batches neither in its sending_queue "
                    "nor after a last batch processor"
                )
    return problems


def exporters_retry_and_queue(config: dict[str, Any]) -> list[str]:
    problems = []
    for eid, body in (config.get("exporters") or {}).items():
        if not _push(eid):
            continue  # pull exporters (prometheus) have nothing to retry or queue
        body = body or {}
        for key in ("retry_on_failure", "sending_queue"):
            settings = body.get(key)
            if not isinstance(settings, dict) or settings.get("enabled") is not True:
                problems.append(f"exporters.{eid}.{key}: must be set with enabled: true")
    return problems


def health_check_enabled(config: dict[str, Any]) -> list[str]:
    enabled = (config.get("service") or {}).get("extensions") or []
    if not any(component_type(e) == "health_check" for e in enabled):
        return ["service.extensions: the health_check extension must be enabled"]
    return []


def self_telemetry_scrapable(config: dict[str, Any]) -> list[str]:
    readers = (((config.get("service") or {}).get("telemetry") or {}).get("metrics") or {}).get(
        "readers"
    ) or []
    if not any(((r or {}).get("pull") or {}).get("exporter", {}).get("prometheus") for r in readers):
        return [
            "service.telemetry.metrics.readers: the collector's own metrics need a pull prometheus reader"
        ]
    return []


def _listen_addresses(config: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for rid, body in (config.get("receivers") or {}).items():
        for proto, settings in (((body or {}).get("protocols")) or {}).items():
            yield f"receivers.{rid}.protocols.{proto}.endpoint", str((settings or {}).get("endpoint", ""))
    for xid, body in (config.get("extensions") or {}).items():
        yield f"extensions.{xid}.endpoint", str((body or {}).get("endpoint", ""))
    for eid, body in (config.get("exporters") or {}).items():
        if component_type(eid) == "prometheus":
            yield f"exporters.{eid}.endpoint", str((body or {}).get("endpoint", ""))
    readers = (((config.get("service") or {}).get("telemetry") or {}).get("metrics") or {}).get(
        "readers"
    ) or []
    for i, r in enumerate(readers):
        prom = (((r or {}).get("pull") or {}).get("exporter") or {}).get("prometheus")
        if prom:
            yield (
                f"service.telemetry.metrics.readers[{i}].host",
                f"{prom.get('host', '')}:{prom.get('port', '')}",
            )


def no_wildcard_bind(config: dict[str, Any]) -> list[str]:
    """Kubernetes: listen on the pod IP, never on every interface (0.0.0.0, ::, or an empty host),
    not even when MY_POD_IP is unset: the placeholder needs a default that is not a wildcard (an
    unset variable without a default expands to an empty host)."""
    problems = []
    for where, address in _listen_addresses(config):
        host = address.rsplit(":", 1)[0] if ":" in address else address
        placeholder = POD_IP_PLACEHOLDER.match(host)
        if host in WILDCARD_HOSTS:
            problems.append(
                f"{where}: binds every interface ({address!r}); use the pod IP, ${{env:MY_POD_IP}}"
            )
        elif placeholder is None:
            problems.append(f"{where}: expected the pod IP placeholder ${{env:MY_POD_IP:-...}}, got {host!r}")
        elif placeholder["default"] is None or placeholder["default"] in WILDCARD_HOSTS:
            problems.append(
                f"{where}: {host} binds every interface when MY_POD_IP is unset; give it a default "
                "that cannot be bound (environments.kubernetes.listen_host)"
            )
    return problems


def check_pipelines(config: dict[str, Any], *, kubernetes: bool) -> list[str]:
    problems = (
        defined_and_used(config)
        + current_component_names(config)
        + memory_limiter_first(config)
        + sampling_order(config)
        + redaction_before_export(config)
        + batching_last(config)
        + exporters_retry_and_queue(config)
        + health_check_enabled(config)
        + self_telemetry_scrapable(config)
    )
    if kubernetes:
        problems += no_wildcard_bind(config)
    return problems
