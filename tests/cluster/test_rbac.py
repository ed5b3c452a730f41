"""The chart's RBAC against the real authorizer: what the collector's service account may do.

What `k8s_attributes` needs follows from the generated collector/kubernetes.yaml and from the
processor's code (k8sattributesprocessor v1.0.0, the version in tools/otelcol-builder.yaml:
internal/kube/client.go `New` decides which informers run): always pods; namespaces only to
extract namespace labels or annotations or k8s.cluster.uid; replicasets only for
k8s.deployment.uid or Deployment/ReplicaSet labels (k8s.deployment.name comes from the
ReplicaSet's name); nodes only for k8s.node.uid or node labels (k8s.node.name is in the pod);
deployments, statefulsets, daemonsets, jobs and cronjobs only for their labels or annotations.
Informers list and watch; `get` is in the processor's documented role.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from obsctl import paths
from tests.cluster.conftest import EXAMPLES, Installed
from tests.cluster.controlplane import ControlPlane

# a real control plane (etcd, kube-apiserver, kube-controller-manager)
pytestmark = [pytest.mark.slow, pytest.mark.built_tools("etcd", "kubernetes")]

VERBS = ("get", "list", "watch")
# What no collector should be able to do, whatever it extracts (checked with SubjectAccessReviews).
NEVER = [
    ("create", "", "pods"),
    ("delete", "", "pods"),
    ("patch", "", "pods"),
    ("create", "", "pods/exec"),
    ("get", "", "secrets"),
    ("list", "", "secrets"),
    ("watch", "", "secrets"),
    ("get", "", "configmaps"),
    ("create", "", "serviceaccounts/token"),
    ("update", "apps", "deployments"),
    ("create", "apps", "deployments"),
    ("impersonate", "", "users"),
    ("escalate", "rbac.authorization.k8s.io", "clusterroles"),
    ("bind", "rbac.authorization.k8s.io", "clusterroles"),
    ("create", "rbac.authorization.k8s.io", "clusterrolebindings"),
]
# Read access that k8s_attributes may or may not need (see the module docstring).
MAYBE = [
    ("", "pods"),
    ("", "namespaces"),
    ("", "nodes"),
    ("", "services"),
    ("", "endpoints"),
    ("apps", "replicasets"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
]


def k8s_attributes_config() -> dict[str, Any]:
    config = yaml.safe_load((paths.REPO / "collector" / "kubernetes.yaml").read_text())
    processor: dict[str, Any] = config["processors"]["k8s_attributes"]
    return processor


def k8s_attributes_needs(processor: dict[str, Any]) -> set[tuple[str, str]]:
    """(API group, resource) that the processor lists and watches for this configuration."""
    extract = processor.get("extract") or {}
    metadata = set(extract.get("metadata") or [])
    sources = {
        str(r.get("from", "pod")) for r in (extract.get("labels") or []) + (extract.get("annotations") or [])
    }
    needs = {("", "pods")}
    if "namespace" in sources or "k8s.cluster.uid" in metadata:
        needs.add(("", "namespaces"))
    if "k8s.deployment.uid" in metadata or sources & {"deployment", "replicaset"}:
        needs.add(("apps", "replicasets"))
    if "k8s.node.uid" in metadata or "node" in sources:
        needs.add(("", "nodes"))
    for source, resource in (
        ("deployment", "deployments"),
        ("statefulset", "statefulsets"),
        ("daemonset", "daemonsets"),
    ):
        if source in sources:
            needs.add(("apps", resource))
    if sources & {"job", "cronjob"} or "k8s.cronjob.uid" in metadata:
        needs.add(("batch", "jobs"))
    if "cronjob" in sources:
        needs.add(("batch", "cronjobs"))
    return needs


def collector_examples() -> list[str]:
    from obsctl.generate.helm import chart

    return [e for e in EXAMPLES if (chart.example_values(e).get("collector") or {}).get("enabled", True)]


@pytest.mark.parametrize("example", EXAMPLES)
def test_rbac_objects_are_valid_and_bind_what_the_release_has(
    control_plane: ControlPlane, installed: Installed, example: str
) -> None:
    outcome = installed(example)
    api, ns = control_plane.api, outcome.namespace
    accounts = {o["metadata"]["name"] for o in outcome.of_kind("ServiceAccount")}
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        for binding in outcome.of_kind(kind):
            stored = api.get(api.path_of(binding, ns))
            ref = stored["roleRef"]
            role = {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": ref["kind"],
                "metadata": {"name": ref["name"]},
            }
            assert api.find(api.path_of(role, ns)) is not None, (
                f"{kind} {binding['metadata']['name']} binds a missing {ref}"
            )
            for subject in stored["subjects"]:
                assert subject["kind"] == "ServiceAccount" and subject["namespace"] == ns, subject
                assert subject["name"] in accounts, (
                    f"{kind} binds {subject['name']}, not a ServiceAccount of the release"
                )


@pytest.mark.parametrize("example", collector_examples())
def test_collector_may_do_what_k8s_attributes_needs_and_no_more(
    control_plane: ControlPlane, installed: Installed, example: str
) -> None:
    outcome = installed(example)
    api, ns = control_plane.api, outcome.namespace
    needs = k8s_attributes_needs(k8s_attributes_config())
    [deployment] = [d for d in outcome.of_kind("Deployment") if d["metadata"]["name"].endswith("-collector")]
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    user = f"system:serviceaccount:{ns}:{account}"
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]

    # The ClusterRole grants exactly that, as stored by the API server.
    [role] = [r for r in outcome.of_kind("ClusterRole") if r["metadata"]["name"].endswith("-collector")]
    stored = api.get(api.path_of(role, ns))
    granted = {
        (group, resource, verb)
        for rule in stored["rules"]
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }
    assert granted == {(g, r, v) for g, r in needs for v in VERBS}, f"ClusterRole {role['metadata']['name']}"

    # And the authorizer agrees, cluster-wide and in a namespace that is not the release's.
    for group, resource in MAYBE:
        for verb in VERBS:
            for where in ("", "kube-system"):
                allowed = api.can(user, groups, verb, resource, group=group, namespace=where)
                expected = (group, resource) in needs
                assert allowed == expected, (
                    f"{user} {verb} {group or 'core'}/{resource} in {where or 'all namespaces'}: {allowed}"
                )
    for verb, group, resource in NEVER:
        for where in ("", ns):
            assert not api.can(user, groups, verb, resource, group=group, namespace=where), (
                f"{user} may {verb} {group or 'core'}/{resource} in {where or 'all namespaces'}"
            )
