"""Each server of the local stack, started for real by the shared fixtures (tests/conftest.py)."""

from __future__ import annotations

import os
import pwd
import socket
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from kafka import KafkaConsumer, KafkaProducer

from obsctl import paths
from obsctl.run.stack import process
from obsctl.run.stack.otelcol import Otelcol
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.wait import StackError, wait_until
from obsctl.run.stack.webhook import Webhook
from tests.stack.otlp import send_span_and_log

# The consumer settings docs/architecture.md ("tansu") recommends for a fast group join.
FAST_GROUP_JOIN = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 200}


def test_postgres_serves_only_loopback_with_trust_auth(postgres):
    with psycopg.connect(postgres.dsn) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert conn.execute("SHOW port").fetchone() == (str(postgres.port),)
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    owner = Path(f"/proc/{postgres.pid}").stat().st_uid
    if os.geteuid() == 0:  # initdb/postgres refuse root: the server runs as the postgres user
        assert pwd.getpwuid(owner).pw_name == "postgres"
    else:
        assert owner == os.geteuid()


def test_create_database_gives_an_empty_database_each_time(postgres):
    dsn = postgres.create_database("stack_selftest")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int)")
    dsn_again = postgres.create_database("stack_selftest")
    with psycopg.connect(dsn_again) as conn:
        assert conn.execute("SELECT to_regclass('t')").fetchone() == (None,)
    postgres.drop_database("stack_selftest")


def test_fresh_database_is_per_module(fresh_database, postgres):
    name = fresh_database.rsplit("/", 1)[1]
    assert name.startswith("t_") and name != "postgres"
    with psycopg.connect(fresh_database) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert tables == (0,)


def test_redis_keeps_nothing_on_disk(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.set("k", "v")
    assert client.get("k") == b"v"
    assert client.config_get("save") == {"save": ""}
    assert client.config_get("appendonly") == {"appendonly": "no"}
    assert client.config_get("bind") == {"bind": "127.0.0.1"}
    client.close()


def test_kafka_round_trip_through_a_consumer_group(kafka_broker):
    topic = f"selftest-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    producer.send(topic, key=b"k1", value=b"hello", headers=[("traceparent", b"00-abc")]).get(timeout=10)
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_broker.bootstrap,
        group_id=f"group-{topic}",
        auto_offset_reset="earliest",
        **FAST_GROUP_JOIN,
    )
    received = []

    def got_one() -> bool:
        for records in consumer.poll(timeout_ms=200).values():
            received.extend(records)
        return bool(received)

    try:
        assert wait_until(got_one, timeout=60)
    finally:
        consumer.close()
    assert (received[0].key, received[0].value) == (b"k1", b"hello")
    assert ("traceparent", b"00-abc") in list(received[0].headers)


def test_prometheus_factory_loads_rules_and_scrapes_itself(prometheus_server, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "selftest.yml").write_text(
        "groups:\n  - name: selftest\n    rules:\n      - record: selftest:up:sum\n        expr: sum(up)\n"
    )
    (rules / "not-rules.yml").write_text("route:\n  receiver: x\n")  # skipped: no `groups`
    prom = prometheus_server(rules_dir=rules, interval="1s")
    groups = prom.api("rules")["groups"]
    assert [g["name"] for g in groups] == ["selftest"]

    scraper = prometheus_server(
        scrape_configs=[{"job_name": "prom", "static_configs": [{"targets": [f"127.0.0.1:{prom.port}"]}]}],
        rule_files=[rules / "selftest.yml"],
        interval="1s",
    )
    assert wait_until(lambda: scraper.query('up{job="prom"} == 1') != [], timeout=60, interval=0.5)
    assert wait_until(lambda: scraper.query("selftest:up:sum") != [], timeout=60, interval=0.5)


def test_alertmanager_delivers_to_the_local_webhook(alertmanager_server, stack_state_dir, tmp_path):
    webhook = Webhook(stack_state_dir, name="webhook-selftest", out=tmp_path / "alerts.jsonl")
    webhook.start()
    try:
        config = (
            "route:\n  receiver: hook\n  group_wait: 1s\n  group_interval: 1s\n"
            f"receivers:\n  - name: hook\n    webhook_configs:\n      - url: {webhook.url}/hook\n"
        )
        am = alertmanager_server(config_text=config)
        alert = [{"labels": {"alertname": "SelfTest", "severity": "info"}, "annotations": {"summary": "x."}}]
        requests.post(f"{am.url}/api/v2/alerts", json=alert, timeout=10).raise_for_status()
        assert wait_until(lambda: webhook.notifications() != [], timeout=60, interval=0.2)
        note = webhook.notifications()[0]
        assert note["path"] == "/hook"
        assert note["payload"]["alerts"][0]["labels"]["alertname"] == "SelfTest"
        assert note["payload"]["status"] == "firing"
    finally:
        webhook.stop()


def test_stop_kills_the_server_and_forgets_its_record(stack_state_dir):
    webhook = Webhook(stack_state_dir, name="webhook-stoptest")
    webhook.start()
    record = ProcessRecord.load(webhook.run_dir, webhook.name)
    assert record is not None and process.is_ours(record)
    assert webhook.stop() is True
    assert not Path(f"/proc/{record.pid}").exists() or not process.is_ours(record)
    assert ProcessRecord.load(webhook.run_dir, webhook.name) is None
    assert webhook.stop() is False  # nothing left to stop


def test_jaeger_stores_otlp_traces_and_answers_by_trace_id(jaeger_server):
    trace_id = send_span_and_log(
        traces_to=jaeger_server.otlp_endpoint, span_attributes={"payment.id": "p-selftest"}
    )
    assert wait_until(lambda: jaeger_server.trace(trace_id) != [], timeout=30, interval=0.5)
    spans = jaeger_server.trace(trace_id)
    assert [(s.service, s.name, s.attributes["payment.id"]) for s in spans] == [
        ("stack-selftest", "selftest request", "p-selftest")
    ]
    assert jaeger_server.find_trace_ids("stack-selftest", tags={"payment.id": "p-selftest"}) == [trace_id]
    assert "stack-selftest" in jaeger_server.services()
    # The build from the Go module embeds no UI: `/` is Jaeger's placeholder page.
    assert "not the Jaeger UI" in requests.get(jaeger_server.url, timeout=5).text


def test_victorialogs_stores_otlp_logs_and_answers_by_trace_id(logs_server):
    trace_id = send_span_and_log(
        logs_to=logs_server.otlp_endpoint,
        message="selftest payment accepted",
        log_fields={"payment_id": "p-selftest"},
    )
    assert wait_until(lambda: logs_server.trace_logs(trace_id) != [], timeout=30, interval=0.5)
    [entry] = logs_server.trace_logs(trace_id)
    assert entry["_msg"] == "selftest payment accepted"
    assert entry["service.name"] == "stack-selftest"
    assert entry["payment_id"] == "p-selftest"
    assert entry["severity_text"] == "INFO"
    assert len(entry["span_id"]) == 16


def test_the_collector_runs_the_generated_local_config_into_jaeger_and_victorialogs(
    otel_collector, jaeger_server, logs_server
):
    collector = otel_collector()  # collector/local.yaml as generated
    assert collector.config_file == paths.COLLECTOR / "local.yaml"
    trace_id = send_span_and_log(
        traces_to=collector.url,
        logs_to=collector.url,
        span_attributes={"payment.id": "p-collector", "card": "4111 1111 1111 1111"},
        message="collector selftest line",
    )
    assert wait_until(lambda: jaeger_server.trace(trace_id) != [], timeout=60, interval=0.5)
    [span] = jaeger_server.trace(trace_id)
    assert span.attributes["payment.id"] == "p-collector"
    assert "4111" not in span.attributes["card"]  # the config's redaction ran
    assert wait_until(lambda: logs_server.trace_logs(trace_id) != [], timeout=60, interval=0.5)
    assert [e["_msg"] for e in logs_server.trace_logs(trace_id)] == ["collector selftest line"]

    def exposed(port: int, name: str) -> bool:
        return name in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text

    assert exposed(collector.metrics_port, "otelcol_receiver_accepted_spans")
    # The span metrics connector flushes every 15 s.
    assert wait_until(
        lambda: exposed(collector.span_metrics_port, "traces_span_metrics_calls_total"), timeout=60
    )


def test_a_collector_config_without_port_placeholders_is_refused_clearly(stack_state_dir, tmp_path):
    fixed = tmp_path / "fixed-ports.yaml"
    fixed.write_text("receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: localhost:4318\n")
    collector = Otelcol(stack_state_dir, name="otelcol-fixed", config_file=fixed)
    with pytest.raises(StackError) as excinfo:
        collector.start()
    message = str(excinfo.value)
    assert "OTELCOL_OTLP_HTTP_PORT, OTELCOL_HEALTH_PORT" in message
    assert str(fixed) in message
    assert not collector.running()


def test_a_server_counts_as_ready_only_on_a_port_its_own_process_listens_on(stack_state_dir):
    webhook = Webhook(stack_state_dir, name="webhook-listens")
    webhook.start()
    stranger = socket.create_server(("127.0.0.1", 0))  # another process's listener, as far as it knows
    try:
        record = ProcessRecord.load(webhook.run_dir, webhook.name)
        assert record is not None
        assert process.listens_on(record, webhook.port) is True
        assert process.listens_on(record, stranger.getsockname()[1]) is False
    finally:
        stranger.close()
        webhook.stop()
