"""The rendered NetworkPolicies allow exactly the flows of the architecture, derived from the catalog.

For every example, the connections the policies allow between the release's pods (a connection
needs the source's egress and the destination's ingress to allow it; a pod without a policy of
its own allows everything) are computed from the rendered objects and compared with the flows
the catalog declares: a service to the services it `calls` and to the stores it `uses`, the
migrations Job to PostgreSQL, every service to the collector, Prometheus to what it scrapes and
Alertmanager, Grafana to Prometheus, the collector to Jaeger, and anyone to the public gateway.
Connections out of the cluster (no `to`) and into it from elsewhere are checked separately.
"""

from __future__ import annotations

from typing import Any

import pytest

import catalog

from .conftest import SERVICES, Rendered, env_of, pod_spec

CATALOG = catalog.default()
COMPONENT = "app.kubernetes.io/component"
# The pod each store runs in, and the name of its port.
STORE_POD = {
    "database": ("postgresql", "postgresql"),
    "redis": ("redis", "redis"),
    "kafka": ("kafka", "kafka"),
}
# Components the chart deliberately leaves without a policy of their own (their receivers and
# users are outside the chart); they reach only what the others' ingress lets in.
UNISOLATED = {"alertmanager", "grafana", "jaeger", "victorialogs"}

Flow = tuple[str, str, int]


def components(ex: Rendered) -> dict[str, dict[str, int]]:
    """Each component of the release: its container ports by name."""
    found: dict[str, dict[str, int]] = {}
    for workload in ex.workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        ports = found.setdefault(labels[COMPONENT], {})
        for container in pod_spec(workload)["containers"]:
            for port in container.get("ports", []):
                ports[port.get("name", str(port["containerPort"]))] = port["containerPort"]
    return found


def policies(ex: Rendered) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for policy in ex.of_kind("NetworkPolicy"):
        selector = policy["spec"]["podSelector"]["matchLabels"]
        assert selector["app.kubernetes.io/instance"] == "payments", policy["metadata"]["name"]
        assert selector[COMPONENT] not in found, f"two policies select {selector[COMPONENT]}"
        found[selector[COMPONENT]] = policy["spec"]
    return found


def _peer_component(peer: dict[str, Any]) -> str | None:
    """The release component a peer selects; None for a peer outside the release."""
    if set(peer) != {"podSelector"}:
        return None
    labels = peer["podSelector"].get("matchLabels", {})
    assert labels.get("app.kubernetes.io/instance") == "payments", peer
    return str(labels[COMPONENT])


def _rule_allows(rule: dict[str, Any], key: str, component: str, port: int) -> bool:
    ports = rule.get("ports")
    if ports is not None and all(p["port"] != port or p.get("protocol", "TCP") != "TCP" for p in ports):
        return False
    peers = rule.get(key)
    return peers is None or any(_peer_component(p) == component for p in peers)


def allowed(pols: dict[str, dict[str, Any]], src: str, dst: str, port: int) -> bool:
    out, into = pols.get(src), pols.get(dst)
    egress_ok = (
        out is None
        or "Egress" not in out["policyTypes"]
        or any(_rule_allows(r, "to", dst, port) for r in out.get("egress") or [])
    )
    ingress_ok = (
        into is None
        or "Ingress" not in into["policyTypes"]
        or any(_rule_allows(r, "from", src, port) for r in into.get("ingress") or [])
    )
    return egress_ok and ingress_ok


def allowed_flows(ex: Rendered) -> set[Flow]:
    """Every connection between two release components that a policy governs and allows."""
    comps, pols = components(ex), policies(ex)
    return {
        (src, dst, port)
        for src in comps
        for dst, ports in comps.items()
        for port in ports.values()
        if src != dst and (src in pols or dst in pols) and allowed(pols, src, dst, port)
    }


def expected_flows(ex: Rendered) -> set[Flow]:
    """The architecture's flows between the release's components, from the catalog."""
    comps, pols = components(ex), policies(ex)
    services = [s for s in CATALOG.services if s in comps]
    port = {c: ports for c, ports in comps.items()}
    flows: set[Flow] = set()
    for name in services:
        declared = CATALOG.services[name]
        flows |= {(name, callee, port[callee]["http"]) for callee in declared.calls if callee in comps}
        for store in declared.uses:
            pod, port_name = STORE_POD[store]
            if pod in comps:
                flows.add((name, pod, port[pod][port_name]))
        if "collector" in comps:
            flows.add((name, "collector", port["collector"]["otlp-http"]))
        if declared.public:  # from anyone whose own egress is not restricted
            flows |= {(src, name, port[name]["http"]) for src in comps if src not in pols and src != name}
    if "migrate" in comps and "postgresql" in comps:
        flows.add(("migrate", "postgresql", port["postgresql"]["postgresql"]))
    if "prometheus" in comps:
        flows |= {("prometheus", s, port[s]["http"]) for s in services}
        if "collector" in comps:
            flows |= {("prometheus", "collector", port["collector"][p]) for p in ("metrics", "prom-exporter")}
        if "alertmanager" in comps:
            flows.add(("prometheus", "alertmanager", port["alertmanager"]["http"]))
        if "grafana" in comps:
            flows.add(("grafana", "prometheus", port["prometheus"]["http"]))
    if "collector" in comps and "jaeger" in comps:
        flows.add(("collector", "jaeger", port["jaeger"]["otlp-grpc"]))
    if "collector" in comps and "victorialogs" in comps:
        flows.add(("collector", "victorialogs", port["victorialogs"]["http"]))
    return flows


EXAMPLES = ["default", "byo-observability", "production"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_policies_allow_exactly_the_architectures_flows(examples: dict[str, Rendered], name: str) -> None:
    ex = examples[name]
    got, want = allowed_flows(ex), expected_flows(ex)
    assert got == want, f"{name}: not in the architecture {sorted(got - want)}; missing {sorted(want - got)}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_pod_but_the_uis_has_a_policy_for_both_directions(
    examples: dict[str, Rendered], name: str
) -> None:
    ex = examples[name]
    comps, pols = components(ex), policies(ex)
    assert set(comps) - set(pols) <= UNISOLATED, sorted(set(comps) - set(pols))
    assert set(pols) <= set(comps), "a policy selects pods that the release does not run"
    for component, spec in pols.items():
        assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"], component


def test_an_internal_service_is_unreachable_from_a_service_that_does_not_call_it(
    examples: dict[str, Rendered],
) -> None:
    ex = examples["default"]
    pols = policies(ex)
    http = components(ex)["account"]["http"]
    assert not allowed(pols, "risk", "account", http)  # risk calls nobody
    assert not allowed(pols, "channel", "payment", http)
    assert not allowed(pols, "grafana", "account", http)  # no policy of its own: account's ingress decides
    assert not allowed(pols, "gateway", "channel", http)  # the gateway calls payment, never the provider
    assert allowed(pols, "gateway", "payment", http)
    assert allowed(pols, "payment", "channel", http)
    assert not allowed(pols, "risk", "postgresql", 5432)  # risk uses Redis only
    assert allowed(pols, "account", "postgresql", 5432)


def _external_egress(spec: dict[str, Any]) -> set[tuple[str, int]]:
    """(protocol, port) of the egress rules without a destination (out of the cluster)."""
    return {
        (p.get("protocol", "TCP"), p["port"])
        for r in spec.get("egress") or []
        if "to" not in r
        for p in r["ports"]
    }


@pytest.mark.parametrize("name", EXAMPLES)
def test_connections_out_of_the_release_are_only_the_documented_ports(
    examples: dict[str, Rendered], name: str
) -> None:
    ex = examples[name]
    comps, pols = components(ex), policies(ex)
    dns = {("UDP", 53), ("TCP", 53)}
    kubernetes_api = {("TCP", 443), ("TCP", 6443)}
    for component, spec in pols.items():
        expected: set[tuple[str, int]] = set() if component in ("postgresql", "redis", "kafka") else set(dns)
        if component in ("prometheus", "collector"):
            expected |= kubernetes_api
        uses = list(CATALOG.services[component].uses) if component in CATALOG.services else []
        if component == "migrate":
            uses = ["database"]
        for store in uses:
            if STORE_POD[store][0] not in comps:  # an external store: its port, to wherever it is
                expected.add(("TCP", {"database": 5432, "redis": 6379, "kafka": 9092}[store]))
        if component in CATALOG.services and "collector" not in comps:  # an external OTLP endpoint
            expected.add(("TCP", 4318))
        if (
            component == "collector"
            and "victorialogs" not in comps
            and ex.values["collector"].get("logsEndpoint")
        ):
            expected.add(("TCP", 9428))  # the cluster's VictoriaLogs (production example)
        assert _external_egress(spec) == expected, (name, component)


@pytest.mark.parametrize("name", EXAMPLES)
def test_only_the_gateway_and_the_scrapers_are_let_in_from_outside(
    examples: dict[str, Rendered], name: str
) -> None:
    ex = examples[name]
    scrapers = ex.values.get("networkPolicy", {}).get("scrapeFrom", [])
    for component, spec in policies(ex).items():
        outside = []
        for rule in spec.get("ingress") or []:
            if "from" not in rule:
                outside.append("anyone")
            else:
                outside += [p for p in rule["from"] if _peer_component(p) is None]
        public = component in CATALOG.services and CATALOG.services[component].public
        scraped = component in SERVICES or component == "collector"
        expected = (["anyone"] if public else []) + (list(scrapers) if scraped else [])
        assert sorted(map(str, outside)) == sorted(map(str, expected)), (name, component)


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_service_gets_the_internal_auth_secret(examples: dict[str, Rendered], name: str) -> None:
    """The services refuse unsigned internal calls (tests/services/test_internal_auth.py) with the
    secret the chart passes: every service, the same Secret and key, rendered or named as existing."""
    ex = examples[name]
    refs = set()
    for service in SERVICES:
        (container,) = pod_spec(ex.get("Deployment", f"payments-{service}"))["containers"]
        ref = env_of(container)["INTERNAL_AUTH_SECRET"]["valueFrom"]["secretKeyRef"]
        refs.add((ref["name"], ref["key"]))
    assert len(refs) == 1, refs
    ((secret_name, key),) = refs
    existing = ex.values.get("secrets", {}).get("internalAuth", {}).get("existingSecret")
    if existing:
        assert secret_name == existing
    else:
        secret = ex.get("Secret", secret_name)
        assert key in secret["data"]
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
