"""The services' Deployments, and the wiring between every object of a render."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

import catalog
from obsctl import paths

from .conftest import SERVICES, Rendered, env_of, pod_spec, render_values

CATALOG = catalog.default()
# The chart must give each hop the budget the services themselves default to (the catalog's).
BUDGETS = {name: str(s.budget_ms) for name, s in CATALOG.services.items()}
# docs/architecture.md, "Service environment": the variable of each store a service uses.
STORE_VARIABLES = {"database": "DATABASE_URL", "redis": "REDIS_URL", "kafka": "KAFKA_BOOTSTRAP"}
NEEDS = {
    variable: {name for name, s in CATALOG.services.items() if store in s.uses}
    for store, variable in STORE_VARIABLES.items()
}


def test_the_charts_services_are_the_catalogs() -> None:
    """values.yaml lists every service with what the catalog declares of it (budget, stores, calls)."""
    values = yaml.safe_load((paths.REPO / "helm" / "payment-platform" / "values.yaml").read_text())
    chart_services = values["services"]
    assert set(chart_services) == set(CATALOG.services)
    for name, declared in CATALOG.services.items():
        own = chart_services[name]
        assert own["requestBudgetMs"] == declared.budget_ms, name
        assert sorted(own["uses"]) == sorted(declared.uses), name
        assert sorted(own["calls"]) == sorted(declared.calls), name
        assert own.get("public", False) == declared.public, name


def _service_deployments(ex: Rendered) -> dict[str, dict[str, Any]]:
    return {s: ex.get("Deployment", f"payments-{s}") for s in SERVICES}


@pytest.mark.parametrize("name", ["default", "byo-observability", "production"])
def test_every_service_deployment_has_probes_security_and_otel_env(
    examples: dict[str, Rendered], name: str
) -> None:
    for service, deployment in _service_deployments(examples[name]).items():
        spec = pod_spec(deployment)
        (container,) = spec["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
        assert sc["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["securityContext"]["runAsNonRoot"] is True

        env = env_of(container)
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/tmp", env["PROMETHEUS_MULTIPROC_DIR"]["value"]} <= mounts
        assert container["args"][:2] == ["opentelemetry-instrument", "gunicorn"]
        assert container["args"][-1] == f"apps.{service}.app:create_app()"
        assert env["OTEL_SERVICE_NAME"]["value"] == service
        attributes = env["OTEL_RESOURCE_ATTRIBUTES"]["value"]
        for attribute, var, field in [
            ("k8s.pod.name", "K8S_POD_NAME", "metadata.name"),
            ("k8s.namespace.name", "K8S_NAMESPACE_NAME", "metadata.namespace"),
            ("k8s.node.name", "K8S_NODE_NAME", "spec.nodeName"),
        ]:
            assert f"{attribute}=$({var})" in attributes
            assert env[var]["valueFrom"]["fieldRef"]["fieldPath"] == field
            # $(VAR) expands only when VAR is defined earlier in the list.
            names = [e["name"] for e in container["env"]]
            assert names.index(var) < names.index("OTEL_RESOURCE_ATTRIBUTES")
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"].startswith("http")
        assert env["OTEL_TRACES_SAMPLER"]["value"] == "parentbased_traceidratio"
        assert env["OTEL_TRACES_SAMPLER_ARG"]["value"] == "0.1"  # production: 10% of new traces
        assert env["OTEL_METRICS_EXPORTER"]["value"] == "none"
        if service in BUDGETS:
            assert env["REQUEST_BUDGET_MS"]["value"] == BUDGETS[service]
        for var, users in NEEDS.items():
            assert (var in env) == (service in users), (service, var)


def test_service_urls_point_at_rendered_services(examples: dict[str, Rendered]) -> None:
    ex = examples["default"]
    services = {s["metadata"]["name"]: s for s in ex.of_kind("Service")}
    env = env_of(pod_spec(ex.get("Deployment", "payments-payment"))["containers"][0])
    for var in ("ACCOUNT_URL", "RISK_URL", "CHANNEL_URL"):
        host, port = env[var]["value"].removeprefix("http://").split(":")
        assert int(port) in {p["port"] for p in services[host]["spec"]["ports"]}
    assert "PAYMENT_URL" in env_of(pod_spec(ex.get("Deployment", "payments-gateway"))["containers"][0])


def test_otel_endpoint_is_the_collector_or_the_external_one(examples: dict[str, Rendered]) -> None:
    default = env_of(pod_spec(examples["default"].get("Deployment", "payments-gateway"))["containers"][0])
    assert default["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://payments-collector:4318"
    byo = env_of(
        pod_spec(examples["byo-observability"].get("Deployment", "payments-gateway"))["containers"][0]
    )
    assert (
        byo["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"]
        == examples["byo-observability"].values["otel"]["endpoint"]
    )


def test_every_service_selects_pods_of_the_render(examples: dict[str, Rendered]) -> None:
    for ex in examples.values():
        for service in ex.of_kind("Service"):
            selector = service["spec"]["selector"]
            pods = [
                pod_spec(w) | {"labels": w["spec"]["template"]["metadata"]["labels"]}
                for w in ex.workloads()
                if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
            ]
            assert pods, f"{ex.name}: Service {service['metadata']['name']} selects no pod"
            ports = {p.get("name") for pod in pods for c in pod["containers"] for p in c.get("ports", [])}
            for port in service["spec"]["ports"]:
                assert port["targetPort"] in ports, (ex.name, service["metadata"]["name"], port)


def _references(spec: dict[str, Any]) -> tuple[set[str], set[tuple[str, str | None]]]:
    """ConfigMap names and (Secret name, key) pairs a pod mounts or reads."""
    config_maps: set[str] = set()
    secrets: set[tuple[str, str | None]] = set()
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            config_maps.add(volume["configMap"]["name"])
        if "secret" in volume:
            secrets.add((volume["secret"]["secretName"], None))
        for source in volume.get("projected", {}).get("sources", []):
            if "configMap" in source:
                config_maps.add(source["configMap"]["name"])
            if "secret" in source:
                secrets.add((source["secret"]["name"], None))
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        for env in container.get("env", []):
            ref = env.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                config_maps.add(ref["configMapKeyRef"]["name"])
            if "secretKeyRef" in ref:
                secrets.add((ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"]))
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                config_maps.add(source["configMapRef"]["name"])
            if "secretRef" in source:
                secrets.add((source["secretRef"]["name"], None))
    return config_maps, secrets


def _documented_external_secrets(ex: Rendered) -> set[str]:
    """Secrets an example names as existing ones (secrets.*.existingSecret in its values)."""
    return {v["existingSecret"] for v in ex.values.get("secrets", {}).values() if v.get("existingSecret")}


def test_every_configmap_and_secret_a_pod_uses_is_rendered_or_documented_external(
    examples: dict[str, Rendered],
) -> None:
    for ex in examples.values():
        config_maps = {c["metadata"]["name"]: c for c in ex.of_kind("ConfigMap")}
        secrets = {s["metadata"]["name"]: s for s in ex.of_kind("Secret")}
        external = _documented_external_secrets(ex)
        for workload in ex.workloads():
            used_maps, used_secrets = _references(pod_spec(workload))
            assert used_maps <= set(config_maps), (ex.name, workload["metadata"]["name"], used_maps)
            for name, key in used_secrets:
                if name in external:
                    continue
                assert name in secrets, (ex.name, workload["metadata"]["name"], name)
                if key is not None:
                    assert key in secrets[name]["data"], (ex.name, name, key)


def test_every_service_account_a_pod_runs_as_is_rendered(examples: dict[str, Rendered]) -> None:
    for ex in examples.values():
        accounts = {a["metadata"]["name"] for a in ex.of_kind("ServiceAccount")}
        for workload in ex.workloads():
            name = pod_spec(workload).get("serviceAccountName")
            assert name is None or name in accounts, (ex.name, workload["metadata"]["name"], name)


def test_production_example_keeps_secrets_out_of_the_render(examples: dict[str, Rendered]) -> None:
    production = examples["production"]
    assert production.of_kind("Secret") == []
    assert _documented_external_secrets(production) == {
        "payments-db",
        "payments-merchant-keys",
        "payments-grafana",
        "payments-internal-auth",
    }


def test_production_example_scales_and_budgets_disruptions(examples: dict[str, Rendered]) -> None:
    production = examples["production"]
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in production.of_kind("HorizontalPodAutoscaler")}
    pdbs = {p["metadata"]["name"] for p in production.of_kind("PodDisruptionBudget")}
    for service in SERVICES:
        assert f"payments-{service}" in hpas and f"payments-{service}" in pdbs
        assert "replicas" not in production.get("Deployment", f"payments-{service}")["spec"]
    # A budget on a single pod would block node drains: none in the one-replica default.
    assert examples["default"].of_kind("PodDisruptionBudget") == []


def test_migrations_run_as_a_hook_job(examples: dict[str, Rendered]) -> None:
    job = examples["default"].get("Job", "payments-migrate")
    assert "post-install" in job["metadata"]["annotations"]["helm.sh/hook"]
    assert "pre-upgrade" in job["metadata"]["annotations"]["helm.sh/hook"]
    assert pod_spec(job)["containers"][0]["args"] == ["python", "-m", "apps.common.migrate"]


def test_full_stack_has_every_backend_and_byo_has_none(examples: dict[str, Rendered]) -> None:
    def components(ex: Rendered) -> set[str]:
        return {w["metadata"]["labels"]["app.kubernetes.io/component"] for w in ex.workloads()}

    backends = {"collector", "prometheus", "alertmanager", "grafana", "jaeger", "victorialogs"}
    stores = {"postgresql", "redis", "kafka"}
    assert backends | stores | set(SERVICES) <= components(examples["default"])
    assert components(examples["byo-observability"]).isdisjoint(backends)
    monitors = {m["metadata"]["name"]: m for m in examples["byo-observability"].of_kind("ServiceMonitor")}
    for service in SERVICES:
        assert monitors[f"payments-{service}"]["spec"]["jobLabel"] == "app.kubernetes.io/component"
    kafka = env_of(pod_spec(examples["default"].get("StatefulSet", "payments-kafka"))["containers"][0])
    assert kafka["KAFKA_PROCESS_ROLES"]["value"] == "broker,controller"


def test_every_image_is_pinned(examples: dict[str, Rendered]) -> None:
    for ex in examples.values():
        for workload in ex.workloads():
            for container in pod_spec(workload)["containers"]:
                repository, _, tag = container["image"].rpartition(":")
                assert repository and tag and tag != "latest", container["image"]


# Keys that shape how telemetry behaves rather than where it goes: the chart and the local stack
# must agree on them, or the shutdown and overhead figures measured locally would not carry over.
_BEHAVIOUR_KEYS = (
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BLRP_EXPORT_TIMEOUT",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BLRP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BLRP_MAX_QUEUE_SIZE",
    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_PYTHON_METER_CONFIGURATOR",
    "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION",
    "OTEL_PYTHON_LOG_HANDLER_LEVEL",
    "OTEL_PYTHON_FLASK_EXCLUDED_URLS",
    "OTEL_PROPAGATORS",
)


def test_chart_and_local_stack_configure_telemetry_alike(examples: dict[str, Rendered]) -> None:
    from obsctl.run.stack.services import OTEL_DEFAULTS

    for service, deployment in _service_deployments(examples["default"]).items():
        (container,) = pod_spec(deployment)["containers"]
        env = env_of(container)
        for key in _BEHAVIOUR_KEYS:
            assert env[key]["value"] == OTEL_DEFAULTS[key], (service, key)


def test_logs_export_level_sets_every_services_log_handler_level() -> None:
    deployments = _service_deployments(render_values({"otel": {"logsExportLevel": "warning"}}))
    assert deployments
    for service, deployment in deployments.items():
        (container,) = pod_spec(deployment)["containers"]
        assert env_of(container)["OTEL_PYTHON_LOG_HANDLER_LEVEL"]["value"] == "warning", service


def test_chart_head_sampling_is_the_sampling_section() -> None:
    """The chart's default sampler and ratio are observability/collector.yaml sampling.head (its
    kubernetes ratio); the local stack takes the local ratio from the same section."""
    from obsctl.generate.helm.chart import CHART
    from obsctl.generate.sources import collector
    from obsctl.run.stack.services import OTEL_DEFAULTS

    head = collector.load().sampling.head
    otel = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))["otel"]
    assert (otel["sampler"], otel["samplerArg"]) == (head.sampler, head.argument("kubernetes")), (
        "helm/payment-platform/values.yaml otel.sampler/samplerArg differ from "
        "observability/collector.yaml sampling.head (kubernetes)"
    )
    local = (OTEL_DEFAULTS["OTEL_TRACES_SAMPLER"], OTEL_DEFAULTS["OTEL_TRACES_SAMPLER_ARG"])
    assert local == (head.sampler, head.argument("local"))
