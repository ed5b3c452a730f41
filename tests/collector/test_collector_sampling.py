"""Tail sampling and span metrics of collector/kubernetes.yaml, on the real collector.

The committed kubernetes config runs here with MY_POD_IP=127.0.0.1, free ports and without
k8s_attributes (running.kubernetes_here); its policies, decision wait, span metrics and redaction
are unchanged. A backend collector receives what it exports. We send a mix of traces (two spans
each: a server span and a client child): errors (the child fails), slow ones (longer than the
latency SLO's threshold) and ordinary ones, and check that

- every error trace and every slow trace is kept, whole;
- of the ordinary ones, the configured share is kept: a binomial count, n = ORDINARY, p = the
  share, accepted within Z standard deviations of n p (Z = 4: a correct sampler fails this test
  about once in 16,000 runs);
- the span metrics count every span sent, before sampling (read from the prometheus exporter).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from obsctl import paths
from obsctl.generate.collector import source

from . import running

SERVICE = "sampling-test"
ORDINARY, ERRORS, SLOW = 1000, 40, 40
SPANS_PER_TRACE = 2
Z = 4.0
TRACES_PER_REQUEST = 100
CARD, EMAIL = "4111111111111111", "alice@example.com"


@dataclass
class Run:
    sent: dict[str, str]  # trace id -> kind (ordinary, error, slow)
    kept: dict[str, list[dict[str, Any]]]  # trace id -> its spans as exported
    span_calls: Counter[str]  # traces_span_metrics_calls_total of SERVICE by status_code
    listening: dict[int, set[str]]  # port -> local addresses
    ports: running.KubernetesPorts
    share_percent: float
    threshold_ms: int


def _trace(kind: str, now_ns: int, threshold_ms: int) -> tuple[str, list[dict[str, Any]]]:
    trace_id = running.new_trace_id()
    root_ms = threshold_ms * 2 if kind == "slow" else 20
    root = running.span(
        trace_id,
        "POST /api/v1/payments",
        start_ns=now_ns,
        duration_ms=root_ms,
        attrs={
            "http.route": "/api/v1/payments",
            "test.kind": kind,
            "payment.card.number": CARD,
            "user.email": EMAIL,
        },
    )
    child = running.span(
        trace_id,
        "POST /internal/charge",
        parent=root["spanId"],
        kind=3,
        start_ns=now_ns + 1_000_000,
        duration_ms=5,
        error=kind == "error",
    )
    return trace_id, [root, child]


def _span_calls(port: int) -> Counter[str]:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    calls: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "traces_span_metrics_calls_total"
                and sample.labels.get("service_name") == SERVICE
            ):
                calls[sample.labels["status_code"]] += int(sample.value)
    return calls


@pytest.fixture(scope="module")
def run(otelcol: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    src = source.load()
    tail = src.file.sampling.tail
    config = running.kubernetes_here(
        running.load_yaml(paths.COLLECTOR / "kubernetes.yaml"), ports := running.KubernetesPorts.free()
    )
    workdir = tmp_path_factory.mktemp("sampling")
    with running.sink(otelcol, workdir) as sink:
        env = {
            "MY_POD_IP": "127.0.0.1",
            "JAEGER_OTLP_ENDPOINT": sink.grpc_endpoint,
            "OTLP_LOGS_ENDPOINT": sink.logs_url,
        }
        listeners = (ports.otlp_grpc, ports.otlp_http, ports.span_metrics, ports.self_metrics)
        with running.running(otelcol, "kubernetes", config, workdir, env, ports.health_check, listeners):
            listening = {p: running.listening_hosts(p) for p in vars(ports).values()}
            kinds = ["error"] * ERRORS + ["slow"] * SLOW + ["ordinary"] * ORDINARY
            sent: dict[str, str] = {}
            batch: list[dict[str, Any]] = []
            now = time.time_ns()
            for i, kind in enumerate(kinds, 1):
                trace_id, spans = _trace(kind, now, src.latency_threshold_ms)
                sent[trace_id] = kind
                batch += spans
                if i % TRACES_PER_REQUEST == 0 or i == len(kinds):
                    running.post(
                        f"http://127.0.0.1:{ports.otlp_http}/v1/traces",
                        running.traces_request(SERVICE, batch),
                    )
                    batch = []
            sent_at = time.monotonic()
            total_spans = len(sent) * SPANS_PER_TRACE

            def all_spans_counted() -> Counter[str] | None:
                calls = _span_calls(ports.span_metrics)
                return calls if sum(calls.values()) >= total_spans else None

            span_calls = running.wait_for("span metrics of every span", all_spans_counted, timeout=90)

            # Decisions come decision_wait after a trace's first span; wait for that, then until
            # the backend has stopped receiving.
            wait_s = float(tail.decision_wait.rstrip("s")) if tail.decision_wait.endswith("s") else 10.0
            last: list[int] = []

            def settled() -> bool:
                count = len([s for s in sink.spans() if s["service"] == SERVICE])
                last.append(count)
                elapsed = time.monotonic() - sent_at
                return elapsed > wait_s + 2 and len(last) > 8 and len(set(last[-8:])) == 1 and count > 0

            running.wait_for("the tail sampler's decisions", settled, timeout=wait_s + 60, interval=0.5)
            kept: dict[str, list[dict[str, Any]]] = {}
            for span in sink.spans():
                if span["service"] == SERVICE:
                    kept.setdefault(span["traceId"], []).append(span)
    yield Run(
        sent=sent,
        kept=kept,
        span_calls=span_calls,
        listening=listening,
        ports=ports,
        share_percent=tail.probabilistic_share_percent,
        threshold_ms=src.latency_threshold_ms,
    )


def test_it_listens_on_the_pod_ip_only(run: Run) -> None:
    assert run.listening == {port: {"127.0.0.1"} for port in vars(run.ports).values()}


def test_every_error_and_every_slow_trace_is_kept_whole(run: Run) -> None:
    for kind in ("error", "slow"):
        wanted = {t for t, k in run.sent.items() if k == kind}
        missing = wanted - set(run.kept)
        assert not missing, f"{len(missing)} of {len(wanted)} {kind} traces dropped"
    for trace_id, spans in run.kept.items():
        assert len(spans) == SPANS_PER_TRACE, (run.sent[trace_id], trace_id, len(spans))
    assert set(run.kept) <= set(run.sent)


def test_the_configured_share_of_the_ordinary_traces_is_kept(run: Run) -> None:
    n, p = ORDINARY, run.share_percent / 100
    kept = sum(1 for t in run.kept if run.sent[t] == "ordinary")
    sigma = math.sqrt(n * p * (1 - p))
    low, high = math.floor(n * p - Z * sigma), math.ceil(n * p + Z * sigma)
    assert p == 0.1  # observability/collector.yaml sampling.tail.probabilistic_share_percent
    print(f"kept {kept} of {n} ordinary traces (accepted {low}..{high})")
    assert low <= kept <= high, f"kept {kept} of {n} ordinary traces; expected {n * p:.0f} ± {Z * sigma:.0f}"


def test_span_metrics_count_every_span_before_sampling(run: Run) -> None:
    sent_spans = len(run.sent) * SPANS_PER_TRACE
    kept_spans = sum(len(s) for s in run.kept.values())
    assert sum(run.span_calls.values()) == sent_spans
    assert run.span_calls["STATUS_CODE_ERROR"] == ERRORS
    assert kept_spans < sent_spans / 2  # the sampler dropped most: the metrics did not follow it


def test_the_sampled_spans_are_redacted_and_keep_their_attributes(run: Run) -> None:
    email_hash = "sha256:" + hashlib.sha256(EMAIL.encode()).hexdigest()
    for trace_id, spans in run.kept.items():
        root = next(s for s in spans if not s.get("parentSpanId"))
        assert root["attributes"] == {
            "http.route": "/api/v1/payments",
            "test.kind": run.sent[trace_id],
            "payment.card.number": "****1111",
            "user.email": email_hash,
        }
