"""The chart carries the generated artifacts themselves, not copies that could drift or be empty."""

from __future__ import annotations

import re

import yaml

from . import generated_inputs as generated
from .conftest import Rendered, env_of, pod_spec


def test_rules_configmap_holds_every_generated_rule_file_byte_for_byte(examples: dict[str, Rendered]) -> None:
    rules = examples["default"].get("ConfigMap", "payments-prometheus-rules")
    assert rules["data"] == generated.rule_files()
    groups = [g for text in rules["data"].values() for g in yaml.safe_load(text)["groups"]]
    assert groups == generated.rule_groups()
    assert sum(len(g.get("rules", [])) for g in groups) > 0


def test_prometheus_rules_hold_exactly_the_generated_groups(examples: dict[str, Rendered]) -> None:
    byo = examples["byo-observability"]
    rendered_groups = [g for rule in byo.of_kind("PrometheusRule") for g in rule["spec"]["groups"]]
    assert sorted(rendered_groups, key=lambda g: g["name"]) == sorted(
        generated.rule_groups(), key=lambda g: g["name"]
    )
    assert len(byo.of_kind("PrometheusRule")) == len(generated.rule_files())
    for rule in byo.of_kind("PrometheusRule"):
        assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_each_dashboard_configmap_holds_the_generated_dashboard_byte_for_byte(
    examples: dict[str, Rendered],
) -> None:
    expected = generated.dashboards()
    for name in ("default", "byo-observability"):
        maps = [c for c in examples[name].of_kind("ConfigMap") if "-dashboard-" in c["metadata"]["name"]]
        carried = {key: value for cm in maps for key, value in cm["data"].items()}
        assert carried == expected, name
        assert all(len(cm["data"]) == 1 for cm in maps)
    for cm in examples["byo-observability"].of_kind("ConfigMap"):
        if "-dashboard-" in cm["metadata"]["name"]:
            assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_grafana_mounts_every_dashboard_and_provisions_fixed_datasource_uids(
    examples: dict[str, Rendered],
) -> None:
    ex = examples["default"]
    grafana = ex.get("Deployment", "payments-grafana")
    sources = next(v for v in pod_spec(grafana)["volumes"] if v["name"] == "dashboards")["projected"][
        "sources"
    ]
    mounted = {s["configMap"]["name"] for s in sources}
    dashboards = {
        c["metadata"]["name"] for c in ex.of_kind("ConfigMap") if "-dashboard-" in c["metadata"]["name"]
    }
    assert mounted == dashboards and len(mounted) == len(generated.dashboards())
    provisioning = ex.get("ConfigMap", "payments-grafana-provisioning")["data"]
    datasources = {d["type"]: d for d in yaml.safe_load(provisioning["datasources.yaml"])["datasources"]}
    assert datasources["prometheus"]["uid"] == "prometheus"
    assert datasources["jaeger"]["uid"] == "jaeger"
    destinations = datasources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert destinations == [{"name": "trace_id", "datasourceUid": "jaeger"}]
    assert datasources["prometheus"]["url"] == "http://payments-prometheus:9090"


def test_collector_configmap_equals_the_generated_kubernetes_config(examples: dict[str, Rendered]) -> None:
    for name in ("default", "production"):
        cm = examples[name].get("ConfigMap", "payments-collector")
        assert cm["data"]["config.yaml"] == generated.collector_config()


def test_collector_gets_every_variable_its_config_reads(examples: dict[str, Rendered]) -> None:
    config = generated.collector_config()
    needed = set(re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", config))  # no default given
    collector = examples["default"].get("Deployment", "payments-collector")
    env = env_of(pod_spec(collector)["containers"][0])
    assert needed <= set(env)
    assert env["JAEGER_OTLP_ENDPOINT"]["value"] == "payments-jaeger:4317"
    assert (
        env["OTLP_LOGS_ENDPOINT"]["value"] == "http://payments-victorialogs:9428/insert/opentelemetry/v1/logs"
    )
    production = examples["production"].get("Deployment", "payments-collector")
    assert env_of(pod_spec(production)["containers"][0])["OTLP_LOGS_ENDPOINT"]["value"] == (
        "http://victorialogs.logging.svc.cluster.local:9428/insert/opentelemetry/v1/logs"
    )


def test_alertmanager_runs_the_generated_config_byte_for_byte(examples: dict[str, Rendered]) -> None:
    cm = examples["default"].get("ConfigMap", "payments-alertmanager")
    assert cm["data"]["alertmanager.yml"] == generated.alertmanager_config()


def test_prometheus_scrapes_each_service_as_its_own_job(examples: dict[str, Rendered]) -> None:
    from .conftest import SERVICES

    config = yaml.safe_load(
        examples["default"].get("ConfigMap", "payments-prometheus")["data"]["prometheus.yml"]
    )
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service in SERVICES:
        selector = jobs[service]["kubernetes_sd_configs"][0]["selectors"][0]["label"]
        assert f"app.kubernetes.io/component={service}" in selector
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "payments-alertmanager:9093"
    ]
    assert (
        "--enable-feature=exemplar-storage"
        in pod_spec(examples["default"].get("StatefulSet", "payments-prometheus"))["containers"][0]["args"]
    )


def test_every_job_the_generated_rules_select_is_scraped(examples: dict[str, Rendered]) -> None:
    prometheus_yml = examples["default"].get("ConfigMap", "payments-prometheus")["data"]["prometheus.yml"]
    scraped = {job["job_name"] for job in yaml.safe_load(prometheus_yml)["scrape_configs"]}
    selected: set[str] = set()
    for text in generated.rule_files().values():
        for exact, alternatives in re.findall(r'job="([^"]+)"|job=~"([^"]+)"', text):
            selected |= {exact} if exact else set(alternatives.split("|"))
    assert selected, "the generated rules select no job"
    assert selected <= scraped
