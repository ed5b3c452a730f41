"""Each server of the local stack, started for real by the shared fixtures (tests/conftest.py)."""

from __future__ import annotations

import os
import pwd
import uuid
from pathlib import Path

import psycopg
import redis
import requests
from kafka import KafkaConsumer, KafkaProducer

from obsctl.run.stack import process
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.wait import wait_until
from obsctl.run.stack.webhook import Webhook

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
