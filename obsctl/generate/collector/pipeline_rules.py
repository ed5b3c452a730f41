"""Pipeline rules every generated collector config must follow (beyond key validity).

Each rule is a function config -> problems, so a failure names the rule, the pipeline and the
component. `check_pipelines` runs them all; `kubernetes=True` adds the bind-address rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from obsctl.generate.collector.table import ENV_PLACEHOLDER, Table, component_type

SIGNALS = ("traces", "metrics", "logs")
# Processors that read the incoming request (the client address k8s_attributes associates pods
# by) or that must see every span before a sampling decision: all before tail_sampling.
NEED_REQUEST_CONTEXT = ("k8s_attributes",)
BEFORE_SAMPLING = ("k8s_attributes", "resource_detection", "transform")
WILDCARD_HOSTS = ("0.0.0.0", "::", "[::]", "")


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
    problems = []
    pipes = _pipelines(config)
    connectors = _connectors(config)
    used: dict[str, set[str]] = {
        kind: set() for kind in ("receivers", "processors", "exporters", "connectors")
    }
    for pid, p in pipes.items():
        if _signal(pid) not in SIGNALS:
            problems.append(f"service.pipelines.{pid}: unknown signal (expected one of {', '.join(SIGNALS)})")
        if not p["receivers"] or not p["exporters"]:
            problems.append(f"service.pipelines.{pid}: needs at least one receiver and one exporter")
        for part in ("receivers", "processors", "exporters"):
            for cid in p[part]:
                kind = "connectors" if part != "processors" and cid in connectors else part
                if cid not in (config.get(kind) or {}):
                    problems.append(f"service.pipelines.{pid}.{part}: '{cid}' is not defined under {part}")
                used[kind].add(cid)
    for kind, names in used.items():
        for cid in (config.get(kind) or {}).keys() - names:
            problems.append(f"{kind}.{cid}: defined but used in no pipeline")
    extensions = set((config.get("extensions") or {}).keys())
    enabled = set((config.get("service") or {}).get("extensions") or [])
    for cid in sorted(extensions - enabled):
        problems.append(f"extensions.{cid}: defined but not enabled in service.extensions")
    for cid in sorted(enabled - extensions):
        problems.append(f"service.extensions: '{cid}' is not defined under extensions")
    return problems


def connectors_join_pipelines(config: dict[str, Any], table: Table) -> list[str]:
    problems = []
    pipes = _pipelines(config)
    for cid in sorted(_connectors(config)):
        as_exporter = [pid for pid, p in pipes.items() if cid in p["exporters"]]
        as_receiver = [pid for pid, p in pipes.items() if cid in p["receivers"]]
        if not as_exporter or not as_receiver:
            problems.append(
                f"connectors.{cid}: must be an exporter in one pipeline and a receiver in another "
                f"(exporter in {as_exporter or 'none'}, receiver in {as_receiver or 'none'})"
            )
            continue
        for pid in set(as_exporter) & set(as_receiver):
            problems.append(f"connectors.{cid}: exporter and receiver of the same pipeline {pid} (a loop)")
        spec = table.spec("connectors", component_type(cid)) or {}
        sources, targets = spec.get("from", []), spec.get("to", [])
        for pid in as_exporter:
            if _signal(pid) not in sources:
                problems.append(
                    f"connectors.{cid}: cannot take {_signal(pid)} (pipeline {pid}); takes {sources}"
                )
        for pid in as_receiver:
            if targets == "same":
                if {_signal(e) for e in as_exporter} != {_signal(pid)}:
                    problems.append(f"connectors.{cid}: forwards between different signals ({pid})")
            elif _signal(pid) not in targets:
                problems.append(
                    f"connectors.{cid}: cannot emit {_signal(pid)} (pipeline {pid}); emits {targets}"
                )
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


def batching_last(config: dict[str, Any], table: Table) -> list[str]:
    problems = []
    exporters = config.get("exporters") or {}
    for pid, p in _pipelines(config).items():
        types = [component_type(c) for c in p["processors"]]
        if "batch" in types and types[-1] != "batch":
            problems.append(f"service.pipelines.{pid}: the batch processor must be last")
        for eid in p["exporters"]:
            spec = table.spec("exporters", component_type(eid))
            if not spec or not spec.get("push"):
                continue
            in_queue = ((exporters.get(eid) or {}).get("sending_queue") or {}).get("batch") is not None
            if not in_queue and (not types or types[-1] != "batch"):
                problems.append(
                    f"service.pipelines.{pid}: exporter {eid} batches neither in its sending_queue "
                    "nor after a last batch processor"
                )
    return problems


def exporters_retry_and_queue(config: dict[str, Any], table: Table) -> list[str]:
    problems = []
    for eid, body in (config.get("exporters") or {}).items():
        spec = table.spec("exporters", component_type(eid))
        if not spec or not spec.get("push"):
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
    """Kubernetes: listen on the pod IP, never on every interface (0.0.0.0, ::, or an empty host)."""
    problems = []
    for where, address in _listen_addresses(config):
        host = address.rsplit(":", 1)[0] if ":" in address else address
        if host in WILDCARD_HOSTS or host == "0.0.0.0":
            problems.append(f"{where}: binds every interface ({address!r}); use ${{env:MY_POD_IP}}")
        elif not ENV_PLACEHOLDER.match(host):
            problems.append(f"{where}: expected the pod IP placeholder ${{env:MY_POD_IP}}, got {host!r}")
    return problems


def check_pipelines(config: dict[str, Any], table: Table, *, kubernetes: bool) -> list[str]:
    problems = (
        defined_and_used(config)
        + connectors_join_pipelines(config, table)
        + memory_limiter_first(config)
        + sampling_order(config)
        + redaction_before_export(config)
        + batching_last(config, table)
        + exporters_retry_and_queue(config, table)
        + health_check_enabled(config)
        + self_telemetry_scrapable(config)
    )
    if kubernetes:
        problems += no_wildcard_bind(config)
    return problems
