"""The collector's metrics under the names the generated dashboards and rules query.

collector/local.yaml runs (the `otel_collector` fixture, in front of the stack's Jaeger and
VictoriaLogs) and carries spans and logs; then its two Prometheus endpoints are scraped: its own
telemetry (`otelcol_*`, service::telemetry's pull reader) and the span metrics
(`traces_span_metrics_*`, the prometheus exporter). Every such metric that a generated dashboard
(dashboards/generated/*.json: panel targets and variable queries) or a generated rule
(alerts/rules/*.yml) selects must be served, with the labels those queries group by, as read by
obsctl/generate/promql.py. The release's default for the pull reader drops `_total` and unit
suffixes (`otelcol_receiver_accepted_spans`), which this test refuses.

The collector creates its `otelcol_exporter_send_failed_*` counters at the first failed export
only, so the config runs with one addition: an exporter to a port nobody listens on, retries off,
in each pipeline (spans, logs, and the span metrics' metric points). Its service::telemetry
section, what names the metrics, is the generated one.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import promql_parser as pp
import requests
import yaml

from obsctl import paths
from obsctl.generate import promql
from obsctl.generate.dashboards import queries
from obsctl.generate.rules import layout

from . import running

SERVICE = "collector-self-metrics-test"
# Which endpoint serves a metric, by prefix: its own telemetry, or the span metrics connector's.
SELF, SPAN_METRICS = "otelcol_", "traces_span_metrics_"
# Labels Prometheus adds at scrape time (target labels), not the collector.
TARGET_LABELS = {"job", "instance"}
# The span metrics connector flushes every 15 s; the prometheus exporter's own counters
# (otelcol_exporter_sent_metric_points_total) start with its first export after that.
TIMEOUT_S = 90.0
FAILING = "otlp_http/refused"
# One sample line of the text exposition format: name, optional {labels}, value.
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+\S+")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"')
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?P<match>.+?)\s*,\s*\w+\s*\)\s*$")


def _dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and query variable of the generated dashboards."""
    out = []
    for file in sorted((paths.REPO / "dashboards" / "generated").glob("*.json")):
        dashboard = json.loads(file.read_text())
        for target in queries.dashboard_targets(dashboard):
            out.append((f"{file.name} / {target.panel}", target.expr))
        for var in dashboard.get("templating", {}).get("list", []):
            query = var.get("query")
            text = query.get("query") if isinstance(query, dict) else query
            found = _LABEL_VALUES.match(str(text)) if var.get("type") == "query" else None
            if found:
                expr = queries.substitute(found["match"], queries.default_values(dashboard))
                out.append((f"{file.name} / ${var['name']}", expr))
    return out


def _rule_queries() -> list[tuple[str, str]]:
    out = []
    for file in layout.rule_files():
        for group in yaml.safe_load(file.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                out.append((f"{file.name} / {name}", str(rule["expr"])))
    return out


def queried() -> dict[str, dict[str, set[str]]]:
    """Collector metric -> label the queries group it by (`by (...)`) -> where; a metric selected
    with no grouping maps to {}."""
    wanted: dict[str, dict[str, set[str]]] = {}
    for where, expr in _dashboard_queries() + _rule_queries():
        tree = promql.parse(expr, where)
        for name in promql.metric_names(tree):
            if name.startswith((SELF, SPAN_METRICS)):
                wanted.setdefault(name, {})
        for node, _ in promql.walk(tree):
            if not isinstance(node, pp.AggregateExpr) or node.modifier is None:
                continue
            if str(node.modifier.type) != "AggModifierType.By":
                continue
            for name in promql.metric_names(node.expr):
                if name.startswith((SELF, SPAN_METRICS)):
                    for label in set(node.modifier.labels) - TARGET_LABELS:
                        wanted[name].setdefault(label, set()).add(where)
    return wanted


def served(port: int) -> dict[str, set[str]]:
    """Sample name -> label names, as one scrape of http://127.0.0.1:<port>/metrics shows them, read
    as Prometheus stores them (prometheus_client's parser would add `_total` to a counter's samples
    that lack it, hiding the very thing this test looks for)."""
    answer = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    answer.raise_for_status()
    out: dict[str, set[str]] = defaultdict(set)
    for line in answer.text.splitlines():
        sample = _SAMPLE.match(line)
        if sample:
            out[sample["name"]].update(_LABEL.findall(sample["labels"] or ""))
    return out


def missing(wanted: dict[str, dict[str, set[str]]], collector: Any) -> list[str]:
    scraped = {SELF: served(collector.metrics_port), SPAN_METRICS: served(collector.span_metrics_port)}
    out = []
    for name, labels in sorted(wanted.items()):
        prefix = SELF if name.startswith(SELF) else SPAN_METRICS
        if name not in scraped[prefix]:
            stem = re.sub(r"(_total|_bytes|_seconds)+$", "", name)
            similar = sorted(n for n in scraped[prefix] if n.startswith(stem))
            out.append(f"{name} not served (served: {similar or 'nothing like it'})")
            continue
        for label, where in sorted(labels.items()):
            if label not in scraped[prefix][name]:
                out.append(f"{name} has no label {label!r}, which {sorted(where)} group by")
    return out


def test_queries_read_collector_metrics_reading_sees_all_of_them() -> None:
    """The reader finds what the collector dashboard and alerts are known to query, so the live
    test below cannot pass by finding nothing."""
    wanted = queried()
    assert {
        "otelcol_receiver_accepted_spans_total",
        "otelcol_receiver_refused_spans_total",
        "otelcol_exporter_sent_spans_total",
        "otelcol_exporter_send_failed_spans_total",
        "otelcol_process_memory_rss_bytes",
        "traces_span_metrics_calls_total",
    } <= set(wanted)
    assert "exporter" in wanted["otelcol_exporter_send_failed_spans_total"]
    assert "receiver" in wanted["otelcol_receiver_refused_spans_total"]


def with_failing_exporter(config: dict[str, Any], port: int) -> dict[str, Any]:
    """The config plus `otlp_http/refused` (to 127.0.0.1:<port>, retries off) in every pipeline."""
    config["exporters"][FAILING] = {
        "endpoint": f"http://127.0.0.1:{port}",
        "retry_on_failure": {"enabled": False},
        # queued, so the receivers answer as before and only this exporter sees the failure
        "sending_queue": {"enabled": True},
    }
    for pipeline in config["service"]["pipelines"].values():
        pipeline["exporters"].append(FAILING)
    return config


def test_every_collector_metric_the_dashboards_and_rules_query_is_served(
    otel_collector: Any, tmp_path: Path
) -> None:
    wanted = queried()
    generated = paths.COLLECTOR / "local.yaml"
    (nobody_listens,) = running.free_ports(1)
    config = tmp_path / "local-with-failing-exporter.yaml"
    config.write_text(yaml.safe_dump(with_failing_exporter(running.load_yaml(generated), nobody_listens)))
    collector = otel_collector(config_file=config)
    assert (
        running.load_yaml(config)["service"]["telemetry"]
        == running.load_yaml(generated)["service"]["telemetry"]
    )
    running.wait_for(
        "the collector's OTLP/HTTP port", lambda: running.listening_hosts(collector.port), timeout=30
    )
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        # A span and a log line per round, so each exporter and the span metrics have something to send.
        trace_id = running.new_trace_id()
        span = running.span(
            trace_id,
            "POST /api/v1/payments",
            start_ns=time.time_ns(),
            duration_ms=12,
            attrs={"http.route": "/api/v1/payments", "http.response.status_code": 201},
        )
        record = running.log_record("payment captured", {"payment.id": "pay_self_metrics"}, trace_id)
        running.post(f"{collector.url}/v1/traces", running.traces_request(SERVICE, [span]))
        running.post(f"{collector.url}/v1/logs", running.logs_request(SERVICE, [record]))
        gaps = missing(wanted, collector)
        if not gaps or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert not gaps, (
        f"after {TIMEOUT_S:.0f} s the collector ({generated.name} + {FAILING}) does not serve what the "
        "generated dashboards and rules query:\n" + "\n".join(gaps)
    )
