"""Bring-your-own observability against the real API server, with and without the Operator's CRDs.

Runs first in the directory (the file name sorts first): its first test removes the CRDs, the
others install them (as kube-prometheus-stack does) and install the byo-observability example.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from obsctl import paths
from tests.cluster import crds
from tests.cluster.conftest import Installed
from tests.cluster.controlplane import ControlPlane
from tests.cluster.releases import RELEASE, Outcome, Releases

# a real control plane (etcd, kube-apiserver, kube-controller-manager)
pytestmark = [pytest.mark.slow, pytest.mark.built_tools("etcd", "kubernetes")]

EXAMPLE = "byo-observability"
ALERTS = paths.REPO / "alerts"


def generated_rule_files() -> dict[str, dict[str, Any]]:
    """The files the chart packs as PrometheusRules: alerts/ files with `groups`, less .helmignore's."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(ALERTS.rglob("*")):
        relative = path.relative_to(ALERTS)
        if path.suffix not in (".yml", ".yaml") or relative.parts[0] == "slo-tests" or "_test." in path.name:
            continue
        content = yaml.safe_load(path.read_text())
        if isinstance(content, dict) and "groups" in content:
            found[path.name] = content
    assert found, f"no generated rule files under {ALERTS}: run `make generate`"
    return found


def rule_object_name(file_name: str) -> str:
    # The template's name: <fullname>-<file without .yml, lower case, _ as ->, at most 63 characters.
    stem = Path(file_name).stem.lower().replace("_", "-")
    return f"{RELEASE}-{stem}"[:63].rstrip("-")


def test_without_the_crds_install_fails_clearly_and_creates_nothing(
    control_plane: ControlPlane, releases: Releases
) -> None:
    api = control_plane.api
    crds.remove(api)
    namespace = "byo-without-crds"
    if api.find(f"/api/v1/namespaces/{namespace}") is None:
        api.post(
            "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
    mark = control_plane.audit_mark()
    with pytest.raises(helm_python.HelmError) as failure:
        releases.install(EXAMPLE, namespace, create_namespace=False)
    message = str(failure.value)
    for expected in ("PrometheusRule", "ServiceMonitor", "monitoring.coreos.com/v1", "kube-prometheus-stack"):
        assert expected in message, f"the failure does not name {expected!r}: {message}"
    assert "kubePrometheusStack.prometheusRules.enabled" in message, message
    control_plane.audit_barrier()
    assert control_plane.writes_since(mark) == [], "helm wrote to the API server before failing"
    assert releases.release_secrets(namespace) == [], "a release record was left behind"
    leftovers = api.items(
        f"/api/v1/namespaces/{namespace}/configmaps", f"app.kubernetes.io/instance={RELEASE}"
    )
    assert leftovers == []


@pytest.fixture(scope="module")
def byo(installed: Installed) -> Outcome:
    return installed(EXAMPLE)  # installs the CRDs first


def test_prometheus_rules_are_accepted_and_hold_the_generated_rules(
    control_plane: ControlPlane, byo: Outcome
) -> None:
    namespace = byo.namespace
    stored = {
        o["metadata"]["name"]: o
        for o in control_plane.api.items(
            f"/apis/monitoring.coreos.com/v1/namespaces/{namespace}/prometheusrules"
        )
    }
    files = generated_rule_files()
    assert set(stored) == {rule_object_name(f) for f in files}
    for file_name, content in files.items():
        rule = stored[rule_object_name(file_name)]
        assert rule["spec"]["groups"] == content["groups"], (
            f"PrometheusRule from the generated {file_name} differs"
        )
        assert rule["metadata"]["labels"].get("release") == "kube-prometheus-stack"


def test_service_monitors_are_stored_as_rendered(control_plane: ControlPlane, byo: Outcome) -> None:
    """The CRD's structural schema prunes unknown fields silently: what was sent must be what is stored."""
    namespace = byo.namespace
    rendered = {o["metadata"]["name"]: o for o in byo.of_kind("ServiceMonitor")}
    assert rendered, "the byo example renders ServiceMonitors"
    stored = {
        o["metadata"]["name"]: o
        for o in control_plane.api.items(
            f"/apis/monitoring.coreos.com/v1/namespaces/{namespace}/servicemonitors"
        )
    }
    assert set(stored) == set(rendered)
    for name, monitor in rendered.items():
        assert stored[name]["spec"] == monitor["spec"], (
            f"ServiceMonitor {name}: the API server changed its spec"
        )
