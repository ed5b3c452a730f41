"""`helm uninstall` leaves nothing of ours behind: every namespaced kind is listed, not only the chart's.

After the uninstall the release's namespace holds only what Kubernetes puts in every namespace
(the `default` ServiceAccount, the `kube-root-ca.crt` ConfigMap), events, and what the chart keeps
on purpose (`kept_by_design`: the data volumes' claims and the generated Secrets that go with
them); the cluster holds no cluster-scoped object labelled with the release, and Helm's release
records are gone. What the controllers made from the release (ReplicaSets, pods, EndpointSlices)
counts as ours too.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from obsctl.generate.helm import chart
from tests.cluster.conftest import EXAMPLES, Installed, restricted_namespace
from tests.cluster.controlplane import Api, ControlPlane, ControlPlaneError, wait_for
from tests.cluster.releases import INSTANCE, Outcome, Releases

# a real control plane (etcd, kube-apiserver, kube-controller-manager)
pytestmark = [pytest.mark.slow, pytest.mark.built_tools("etcd", "kubernetes")]

# In every namespace, made by the controller-manager; events expire on their own.
KUBERNETES_OWN = {("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")}
SKIPPED_KINDS = {"Event"}


def listable(api: Api) -> list[tuple[str, dict[str, Any]]]:
    """(group version, APIResource) of every kind the API server lists, from discovery."""
    versions = ["v1"]
    for group in api.get("/apis")["groups"]:
        versions.append(group["preferredVersion"]["groupVersion"])
    found = []
    for version in versions:
        for resource in api.resources(version).values():
            if "list" in resource.get("verbs", []) and resource["kind"] not in SKIPPED_KINDS:
                found.append((version, resource))
    return found


def leftovers(api: Api, namespace: str) -> list[str]:
    left = []
    for version, resource in listable(api):
        base = "/api/v1" if version == "v1" else f"/apis/{version}"
        if resource["namespaced"]:
            for item in api.items(f"{base}/namespaces/{namespace}/{resource['name']}"):
                if (resource["kind"], item["metadata"]["name"]) not in KUBERNETES_OWN:
                    left.append(f"{resource['kind']} {namespace}/{item['metadata']['name']}")
        else:
            for item in api.items(f"{base}/{resource['name']}", INSTANCE):
                # Every example's release is called payments: Helm's annotation names the namespace.
                annotations = item["metadata"].get("annotations") or {}
                if annotations.get("meta.helm.sh/release-namespace") == namespace:
                    left.append(f"{resource['kind']} {item['metadata']['name']}")
    return left


def kept_by_design(api: Api, outcome: Outcome) -> list[str]:
    """What an uninstall keeps on purpose (docs/deploy.md, Secrets): the data and its credentials.

    The generated Secrets carry `helm.sh/resource-policy: keep`, and the StatefulSets' claims stay
    (Kubernetes' default claim retention), so that a re-install finds PostgreSQL's, Kafka's and
    Prometheus' volumes with the passwords that go with them.
    """
    ns = outcome.namespace
    kept = [
        f"Secret {ns}/{s['metadata']['name']}"
        for s in outcome.of_kind("Secret")
        if (s["metadata"].get("annotations") or {}).get("helm.sh/resource-policy") == "keep"
    ]
    claims = {c["metadata"]["name"] for c in api.items(f"/api/v1/namespaces/{ns}/persistentvolumeclaims")}
    for statefulset in outcome.of_kind("StatefulSet"):
        assert not statefulset["spec"].get("persistentVolumeClaimRetentionPolicy"), (
            "claims are kept by default"
        )
        for template in statefulset["spec"].get("volumeClaimTemplates") or []:
            prefix = f"{template['metadata']['name']}-{statefulset['metadata']['name']}-"
            kept += [f"PersistentVolumeClaim {ns}/{c}" for c in claims if c.startswith(prefix)]
    return kept


@pytest.mark.parametrize("example", EXAMPLES)
def test_uninstall_leaves_nothing_behind_but_the_kept_data(
    control_plane: ControlPlane, installed: Installed, releases: Releases, example: str
) -> None:
    outcome = installed.take(example)
    api, ns = control_plane.api, outcome.namespace
    assert leftovers(api, ns), "the release left nothing to uninstall"
    kept = sorted(kept_by_design(api, outcome))
    releases.uninstall(ns)
    assert releases.release_secrets(ns) == []
    with contextlib.suppress(ControlPlaneError):
        wait_for(f"{ns} emptied by helm uninstall", lambda: sorted(leftovers(api, ns)) == kept, 60)
    assert sorted(leftovers(api, ns)) == kept


def test_uninstall_with_delete_data_leaves_nothing_at_all(
    control_plane: ControlPlane, releases: Releases
) -> None:
    """uninstall.deleteData: the StatefulSet controller deletes the claims with their StatefulSets,
    and the generated Secrets are not kept."""
    api, ns = control_plane.api, "ex-delete-data"
    api.post("/api/v1/namespaces", restricted_namespace(ns), ok=(201, 409))
    values = {**chart.example_values("default"), "uninstall": {"deleteData": True}}
    outcome = releases.install("default", ns, values=values, create_namespace=False)
    statefulsets = len(outcome.of_kind("StatefulSet"))

    def claims() -> list[dict[str, Any]]:
        return api.items(f"/api/v1/namespaces/{ns}/persistentvolumeclaims")

    wait_for(f"{ns}: the StatefulSets' claims", lambda: len(claims()) == statefulsets, 60)
    for claim in claims():
        owners = [o["kind"] for o in claim["metadata"].get("ownerReferences") or []]
        assert owners == ["StatefulSet"], f"{claim['metadata']['name']}: owned by {owners}"
    releases.uninstall(ns)
    with contextlib.suppress(ControlPlaneError):
        wait_for(f"{ns} emptied by helm uninstall", lambda: leftovers(api, ns) == [], 60)
    assert leftovers(api, ns) == []
