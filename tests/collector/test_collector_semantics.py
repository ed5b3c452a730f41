"""Start-up checks of the collector beyond the table: signals per pipeline and components' own rules."""

from __future__ import annotations

import pytest

from obsctl.generate.collector import semantics, table


def test_generated_configs_pass(configs: dict, pinned: table.Table) -> None:
    for name, config in configs.items():
        assert semantics.signals_supported(config, pinned) == [], name
        assert semantics.component_rules(config, pinned) == [], name


def test_duration_parsing() -> None:
    assert semantics.duration_ns("1m30s") == 90e9
    assert semantics.duration_ns("250ms") == 250e6
    assert semantics.duration_ns("${env:WAIT}") is None


NEGATIVE = [
    (
        "tail sampling in a logs pipeline",
        lambda c: c["service"]["pipelines"]["logs"]["processors"].append("tail_sampling"),
        "service.pipelines.logs.processors: tail_sampling does not support logs",
    ),
    (
        "prometheus exporter in a traces pipeline",
        lambda c: c["service"]["pipelines"]["traces/sampled"]["exporters"].append("prometheus"),
        "service.pipelines.traces/sampled.exporters: prometheus does not support traces",
    ),
    (
        "memory limit set twice",
        lambda c: c["processors"]["memory_limiter"].__setitem__("limit_mib", 400),
        "processors.memory_limiter: set exactly one of limit_mib or limit_percentage",
    ),
    (
        "spike above the limit",
        lambda c: c["processors"]["memory_limiter"].__setitem__("spike_limit_percentage", 90),
        "processors.memory_limiter.spike_limit_percentage: must be below limit_percentage",
    ),
    (
        "no sampling policy",
        lambda c: c["processors"]["tail_sampling"].__setitem__("policies", []),
        "processors.tail_sampling.policies: at least one policy is required",
    ),
    (
        "policy type without its settings",
        lambda c: c["processors"]["tail_sampling"]["policies"][1].pop("latency"),
        "processors.tail_sampling.policies[1]: type latency needs its `latency:` settings",
    ),
    (
        "share above 100",
        lambda c: c["processors"]["tail_sampling"]["policies"][2]["probabilistic"].__setitem__(
            "sampling_percentage", 120
        ),
        "sampling_percentage: must be 0..100",
    ),
    (
        "both histogram kinds",
        lambda c: c["connectors"]["span_metrics"]["histogram"].__setitem__("exponential", {"max_size": 160}),
        "connectors.span_metrics.histogram: use either explicit or exponential buckets, not both",
    ),
    (
        "unsorted buckets",
        lambda c: c["connectors"]["span_metrics"]["histogram"]["explicit"]["buckets"].reverse(),
        "connectors.span_metrics.histogram.explicit.buckets: must be strictly increasing",
    ),
    (
        "dimension repeating a default one",
        lambda c: c["connectors"]["span_metrics"].__setitem__("dimensions", [{"name": "span.kind"}]),
        "connectors.span_metrics.dimensions: duplicate dimension 'span.kind'",
    ),
    (
        "batch min above max",
        lambda c: c["exporters"]["otlp_http/logs"]["sending_queue"]["batch"].__setitem__("min_size", 99999),
        "exporters.otlp_http/logs.sending_queue.batch: min_size 99999 exceeds max_size",
    ),
    (
        "exporter without endpoint",
        lambda c: c["exporters"]["otlp_grpc/jaeger"].pop("endpoint"),
        "exporters.otlp_grpc/jaeger.endpoint: required",
    ),
]


@pytest.mark.parametrize(("what", "mutate", "expected"), NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_mutated_config_fails(
    kubernetes: dict, pinned: table.Table, what: str, mutate, expected: str
) -> None:
    mutate(kubernetes)
    problems = semantics.signals_supported(kubernetes, pinned) + semantics.component_rules(kubernetes, pinned)
    assert any(expected in p for p in problems), (what, problems)
