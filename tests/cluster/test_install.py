"""`helm install` of every example against the real API server, and what the controllers make of it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from obsctl.generate.helm import chart
from tests.cluster.conftest import EXAMPLES, Installed
from tests.cluster.controlplane import ControlPlane, wait_for
from tests.cluster.releases import RELEASE

# a real control plane (etcd, kube-apiserver, kube-controller-manager)
pytestmark = [pytest.mark.slow, pytest.mark.built_tools("etcd", "kubernetes")]

INSTALL_SECONDS = 60  # each install takes seconds: a slower one is a failure worth reading


def owned_by(items: list[dict[str, Any]], owner: dict[str, Any]) -> list[dict[str, Any]]:
    uid = owner["metadata"]["uid"]
    return [i for i in items if any(r["uid"] == uid for r in i["metadata"].get("ownerReferences") or [])]


@pytest.mark.parametrize("example", EXAMPLES)
def test_install_succeeds_and_every_object_is_stored(
    control_plane: ControlPlane, installed: Installed, example: str
) -> None:
    outcome = installed(example)
    assert outcome.release["status"] == "deployed", outcome.release["status"]
    assert outcome.seconds < INSTALL_SECONDS, f"install took {outcome.seconds:.1f} s"
    assert outcome.objects, "the release has no objects"
    api = control_plane.api
    for obj in outcome.objects:
        stored = api.find(api.path_of(obj, outcome.namespace))
        where = f"{obj['kind']} {obj['metadata']['name']}"
        assert stored is not None, f"{where} is not on the API server"
        annotations = stored["metadata"].get("annotations") or {}
        assert annotations.get("meta.helm.sh/release-name") == RELEASE, where
        assert stored["metadata"].get("labels", {}).get("app.kubernetes.io/instance") == RELEASE, where


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_object_passes_strict_server_side_validation_without_warnings(
    control_plane: ControlPlane, installed: Installed, example: str
) -> None:
    """Server-side apply, dry run, fieldValidation=Strict: an unknown or duplicate field is an error."""
    outcome = installed(example)
    api = control_plane.api
    for obj in outcome.objects:
        status, warning, body = api.dry_run_apply(obj, outcome.namespace)
        where = f"{obj['kind']} {obj['metadata']['name']}"
        assert status == 200, f"{where}: {status} {body[:1000]}"
        assert not warning, f"{where}: the API server warns: {warning}"
    # The same check refuses what the API server would otherwise drop silently.
    probe = copy.deepcopy(outcome.of_kind("Deployment")[0])
    probe["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    status, _, body = api.dry_run_apply(probe, outcome.namespace)
    # (server-side apply answers 500 "field not declared in schema" for it, an update 400 "unknown field")
    assert status != 200 and "readinessprobe" in body, (status, body[:500])


@pytest.mark.parametrize("example", EXAMPLES)
def test_deployments_and_statefulsets_get_their_pods_from_the_controllers(
    control_plane: ControlPlane, installed: Installed, example: str
) -> None:
    outcome = installed(example)
    api, ns = control_plane.api, outcome.namespace
    deployments = outcome.of_kind("Deployment")
    statefulsets = outcome.of_kind("StatefulSet")
    assert deployments, "every example runs the services as Deployments"

    def deployment_converged(name: str) -> Any:
        deployment = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
        sets = owned_by(api.items(f"/apis/apps/v1/namespaces/{ns}/replicasets"), deployment)
        if len(sets) != 1 or sets[0]["spec"]["replicas"] != deployment["spec"]["replicas"]:
            return None
        pods = owned_by(api.items(f"/api/v1/namespaces/{ns}/pods"), sets[0])
        return (deployment, sets[0], pods) if len(pods) == deployment["spec"]["replicas"] else None

    for rendered in deployments:
        name = rendered["metadata"]["name"]
        deployment, _, pods = wait_for(
            f"{ns}/{name}: a ReplicaSet and its pods", lambda n=name: deployment_converged(n), 60
        )
        assert deployment["spec"]["replicas"] >= 1
        for pod in pods:
            # Created by the ReplicaSet controller and admitted (Pod Security "restricted" enforced on
            # the namespace), then Pending: no scheduler, no kubelet.
            assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName"), pod["metadata"][
                "name"
            ]
            assert pod["spec"]["serviceAccountName"] == rendered["spec"]["template"]["spec"].get(
                "serviceAccountName", "default"
            )

    for rendered in statefulsets:
        name = rendered["metadata"]["name"]
        statefulset = api.get(f"/apis/apps/v1/namespaces/{ns}/statefulsets/{name}")
        first = wait_for(f"{ns}/{name}-0", lambda n=name: api.find(f"/api/v1/namespaces/{ns}/pods/{n}-0"), 60)
        assert owned_by([first], statefulset), f"{name}-0 is not owned by the StatefulSet"
        for template in rendered["spec"].get("volumeClaimTemplates") or []:
            claim = f"{template['metadata']['name']}-{name}-0"
            wait_for(
                f"{ns}/{claim}",
                lambda c=claim: api.find(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{c}"),
                60,
            )


@pytest.mark.parametrize("example", EXAMPLES)
def test_services_get_endpoints_objects(
    control_plane: ControlPlane, installed: Installed, example: str
) -> None:
    outcome = installed(example)
    api, ns = control_plane.api, outcome.namespace
    services = [s for s in outcome.of_kind("Service") if s["spec"].get("selector")]
    assert services
    for service in services:
        name = service["metadata"]["name"]
        wait_for(
            f"EndpointSlice of {ns}/{name}",
            lambda n=name: api.items(
                f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", f"kubernetes.io/service-name={n}"
            ),
            60,
        )
        wait_for(
            f"Endpoints {ns}/{name}", lambda n=name: api.find(f"/api/v1/namespaces/{ns}/endpoints/{n}"), 60
        )


@pytest.mark.parametrize("example", EXAMPLES)
def test_migrations_job_runs_as_its_hook_annotations_say(
    control_plane: ControlPlane, installed: Installed, example: str
) -> None:
    outcome = installed(example)
    values = chart.example_values(example)
    enabled = (values.get("migrations") or {}).get("enabled", True)
    if not enabled:
        assert outcome.hooks == []
        return
    assert len(outcome.hooks) == 1, f"expected one run of the migrations Job, saw {len(outcome.hooks)}"
    run = outcome.hooks[0]
    annotations = run.job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "post-install,pre-upgrade"
    assert set(annotations["helm.sh/hook-delete-policy"].split(",")) == {
        "before-hook-creation",
        "hook-succeeded",
    }
    # post-install: the Job appeared only once the release's objects were all there.
    rendered = {d["metadata"]["name"] for d in outcome.of_kind("Deployment")}
    assert set(run.deployments_then) == rendered, "the Job ran before the release's Deployments existed"
    assert run.pods_marked, "the Job controller created no pod for the Job"
    # hook-succeeded: Helm deleted the Job once it completed.
    api = control_plane.api
    job = run.job["metadata"]["name"]
    wait_for(
        f"hook Job {job} deleted",
        lambda: api.find(f"/apis/batch/v1/namespaces/{outcome.namespace}/jobs/{job}") is None,
        30,
    )
