"""Build the collector configuration of each environment from the source of truth.

Every environment gets the same skeleton (`_config`: receivers, redaction, span metrics, the
pipelines); what differs between environments (enrichment, exporters, tail sampling) is data, its
`_Shape`. Each builder returns the config as a plain dict (what `otelcol --config` reads); `dump`
turns it into the committed YAML with the generated-file header. Component names are those of the
pinned release (snake_case where the release renamed them: k8s_attributes, resource_detection,
span_metrics, otlp_grpc, otlp_http); docs/collector.md explains every choice.

Locally every port is an `${env:<variable>:-<port>}` placeholder (environments.local.port_variables),
so the same file runs on free ports; in Kubernetes the ports are fixed (the chart's container ports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from obsctl import paths
from obsctl.generate.collector import redaction
from obsctl.generate.collector.source import CollectorSource
from obsctl.generate.sources.collector import Export, KubernetesEnvironment, LocalEnvironment, Ports

# Span-metric histogram buckets (seconds unit); the latency SLO's threshold is always added so the
# span-derived histogram can answer the same question as the SLO.
SPAN_METRIC_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)

# Names the catalog's external_components otel-collector entries expect (see docs/collector.md).
SPAN_METRICS_NAMESPACE = "traces.span.metrics"


def _duration(ms: int) -> str:
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _push_exporter_common(export: Export) -> dict[str, Any]:
    """Retries, a bounded queue and batching in the queue: every push exporter gets the same."""
    return {
        "timeout": export.timeout,
        "retry_on_failure": {
            "enabled": True,
            "initial_interval": "1s",
            "max_interval": "30s",
            "max_elapsed_time": export.retry_max_elapsed_time,
        },
        "sending_queue": {
            "enabled": True,
            "num_consumers": export.num_consumers,
            "queue_size": export.queue_size,
            "sizer": "requests",
            "batch": {
                "flush_timeout": export.batch_flush_timeout,
                "sizer": "items",
                "min_size": export.batch_max_items // 4,
                "max_size": export.batch_max_items,
            },
        },
    }


@dataclass(frozen=True)
class _Ports:
    """What each listener's port is written as in the config."""

    otlp_grpc: int | str
    otlp_http: int | str
    span_metrics: int | str
    self_metrics: int | str
    health_check: int | str


def _fixed_ports(ports: Ports) -> _Ports:
    return _Ports(**ports.model_dump())


def _ports_from_env(ports: Ports, env: LocalEnvironment) -> _Ports:
    """`${env:<variable>:-<port>}` for every port: the variable overrides, the port is the default."""
    variables = env.port_variables.model_dump()
    return _Ports(
        **{name: f"${{env:{variables[name]}:-{port}}}" for name, port in ports.model_dump().items()}
    )


def _otlp_receiver(host: str, ports: _Ports) -> dict[str, Any]:
    return {
        "protocols": {
            "grpc": {"endpoint": f"{host}:{ports.otlp_grpc}"},
            "http": {"endpoint": f"{host}:{ports.otlp_http}"},
        }
    }


def _span_metrics(source: CollectorSource) -> dict[str, Any]:
    buckets = sorted({*SPAN_METRIC_BUCKETS_MS, source.latency_threshold_ms})
    return {
        "namespace": SPAN_METRICS_NAMESPACE,
        "histogram": {"unit": "s", "explicit": {"buckets": [_duration(b) for b in buckets]}},
        # Cumulative, because the prometheus exporter serves cumulative series.
        "aggregation_temporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
        "metrics_flush_interval": "15s",
        "metrics_expiration": "5m",
        "exemplars": {"enabled": True},
    }


def _prometheus_exporter(host: str, ports: _Ports) -> dict[str, Any]:
    return {
        "endpoint": f"{host}:{ports.span_metrics}",
        "metric_expiration": "5m",
        "enable_open_metrics": True,
        "resource_to_telemetry_conversion": {"enabled": False},
    }


def _self_metrics_exporter(host: str, ports: _Ports) -> dict[str, Any]:
    """The pull exporter of the collector's own metrics, serving the names the dashboards and alerts
    query: counters with `_total` and units as suffixes (`otelcol_receiver_accepted_spans_total`,
    `otelcol_process_memory_rss_bytes`). Left unset, the release defaults both `without_*` keys to
    true and serves `otelcol_receiver_accepted_spans` and `otelcol_process_memory_rss`."""
    return {
        "host": host,
        "port": ports.self_metrics,
        "without_units": False,
        "without_type_suffix": False,
    }


def _telemetry(host: str, ports: _Ports) -> dict[str, Any]:
    return {
        "logs": {"level": "info", "encoding": "json"},
        "metrics": {
            "level": "detailed",
            "readers": [{"pull": {"exporter": {"prometheus": _self_metrics_exporter(host, ports)}}}],
        },
    }


def _k8s_attributes() -> dict[str, Any]:
    return {
        "auth_type": "serviceAccount",
        "passthrough": False,
        "extract": {
            "metadata": [
                "k8s.namespace.name",
                "k8s.pod.name",
                "k8s.pod.uid",
                "k8s.deployment.name",
                "k8s.node.name",
            ]
        },
        # The SDK's own resource attributes first, then the connection's source IP (the pod).
        "pod_association": [
            {"sources": [{"from": "resource_attribute", "name": "k8s.pod.ip"}]},
            {"sources": [{"from": "resource_attribute", "name": "k8s.pod.uid"}]},
            {"sources": [{"from": "connection"}]},
        ],
    }


def _tail_sampling(source: CollectorSource) -> dict[str, Any]:
    ts = source.file.sampling.tail
    return {
        "decision_wait": ts.decision_wait,
        "num_traces": ts.num_traces,
        "expected_new_traces_per_sec": ts.expected_new_traces_per_sec,
        # A trace is kept when any policy says so.
        "policies": [
            {"name": "keep-errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
            {
                "name": "keep-slower-than-payment-latency-slo",
                "type": "latency",
                "latency": {"threshold_ms": source.latency_threshold_ms},
            },
            {
                "name": "keep-probabilistic-share",
                "type": "probabilistic",
                "probabilistic": {"sampling_percentage": ts.probabilistic_share_percent},
            },
        ],
    }


@dataclass(frozen=True)
class _Shape:
    """What sets one environment's collector apart; `_config` is the skeleton they share."""

    # Its section of collector.yaml: listen_host, memory (memory_limiter's limits), endpoints.
    environment: LocalEnvironment | KubernetesEnvironment
    # The port of every listener: a number, or an ${env:...} placeholder with the number as default.
    ports: _Ports
    # Processors that enrich every signal, run after memory_limiter and before resource detection.
    enrich: dict[str, Any]
    push_exporters: dict[str, Any]
    traces_to: str  # the push exporter that receives traces
    logs_to: str
    # Whether traces pass the tail sampler (errors, slow, a probabilistic share) on their way out.
    tail_sampled: bool


def _config(source: CollectorSource, shape: _Shape) -> dict[str, Any]:
    host = shape.environment.listen_host
    ports = shape.ports
    intake = ["memory_limiter", *shape.enrich, "resource_detection", "transform/redact"]
    processors: dict[str, Any] = {
        "memory_limiter": {"check_interval": "1s", **shape.environment.memory.model_dump()},
        **shape.enrich,
        "resource_detection": {"detectors": ["env", "system"], "override": False, "timeout": "2s"},
        "transform/redact": redaction.transform_processor(source.file.redaction),
    }
    connectors: dict[str, Any] = {"span_metrics": _span_metrics(source)}
    traces: dict[str, Any] = {
        "traces": {
            "receivers": ["otlp"],
            "processors": list(intake),
            "exporters": ["span_metrics", shape.traces_to],
        }
    }
    if shape.tail_sampled:
        processors["tail_sampling"] = _tail_sampling(source)
        connectors["forward/sampling"] = {}
        traces = {
            # Every span, enriched and redacted, feeds the span metrics and then the sampler.
            "traces": {
                "receivers": ["otlp"],
                "processors": list(intake),
                "exporters": ["span_metrics", "forward/sampling"],
            },
            "traces/sampled": {
                "receivers": ["forward/sampling"],
                "processors": ["memory_limiter", "tail_sampling"],
                "exporters": [shape.traces_to],
            },
        }
    return {
        "extensions": {"health_check": {"endpoint": f"{host}:{ports.health_check}"}},
        "receivers": {"otlp": _otlp_receiver(host, ports)},
        "processors": processors,
        "connectors": connectors,
        "exporters": {**shape.push_exporters, "prometheus": _prometheus_exporter(host, ports)},
        "service": {
            "extensions": ["health_check"],
            "telemetry": _telemetry(host, ports),
            "pipelines": {
                **traces,
                "metrics/spans": {
                    "receivers": ["span_metrics"],
                    "processors": ["memory_limiter"],
                    "exporters": ["prometheus"],
                },
                "logs": {"receivers": ["otlp"], "processors": list(intake), "exporters": [shape.logs_to]},
            },
        },
    }


def local(source: CollectorSource) -> dict[str, Any]:
    """One collector beside the services, unsampled: traces to Jaeger and logs to the logs backend
    (both OTLP/HTTP), every port overridable from the environment."""
    env = source.file.environments.local
    common = _push_exporter_common(source.file.export)
    return _config(
        source,
        _Shape(
            environment=env,
            ports=_ports_from_env(source.file.ports, env),
            enrich={},
            push_exporters={
                "otlp_http/jaeger": {"traces_endpoint": env.traces_endpoint, **common},
                "otlp_http/logs": {"logs_endpoint": env.logs_endpoint, **common},
            },
            traces_to="otlp_http/jaeger",
            logs_to="otlp_http/logs",
            tail_sampled=False,
        ),
    )


def kubernetes(source: CollectorSource) -> dict[str, Any]:
    """A collector in the cluster: pod metadata on every signal, tail-sampled traces to Jaeger,
    logs to the log store."""
    env = source.file.environments.kubernetes
    common = _push_exporter_common(source.file.export)
    return _config(
        source,
        _Shape(
            environment=env,
            ports=_fixed_ports(source.file.ports),
            enrich={"k8s_attributes": _k8s_attributes()},
            push_exporters={
                "otlp_grpc/jaeger": {"endpoint": env.jaeger_endpoint, "tls": {"insecure": True}, **common},
                "otlp_http/logs": {"logs_endpoint": env.logs_endpoint, **common},
            },
            traces_to="otlp_grpc/jaeger",
            logs_to="otlp_http/logs",
            tail_sampled=True,
        ),
    )


ENVIRONMENTS = {"local": local, "kubernetes": kubernetes}


class _NoAliasDumper(yaml.SafeDumper):
    """Write shared sub-configs out in full: a reader should not chase &id001 anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(config: dict[str, Any], environment: str, source: CollectorSource) -> str:
    header = (
        f"# {paths.GENERATED_HEADER}\n"
        f"# OpenTelemetry Collector config ({environment}) for "
        f"collector release {source.release} (the otelcol pin in tools/versions.yaml).\n"
        "# Sources: observability/collector.yaml and the latency SLO it names (sampling.tail.latency_slo).\n"
        "# Pipelines explained in docs/collector.md.\n"
    )
    body = yaml.dump(
        config,
        Dumper=_NoAliasDumper,
        sort_keys=False,
        width=10_000,
        allow_unicode=True,
        default_flow_style=False,
    )
    return header + body
