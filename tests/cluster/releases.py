"""Helm releases of the chart against the test control plane, with the real Helm library.

`Releases.install(example, namespace)` runs `helm install` (helm-python-sdk, Helm 4) of one of the
chart's examples (helm/examples/<name>/values.yaml, as `obsctl generate` renders them) and returns
what happened: the release, how long it took, and what the migrations hook looked like while it
ran. Helm waits for a hook Job to complete, and without a kubelet no pod ever runs: the
`HookNode` thread stands in for the node the Job's pod would run on and reports the pod
Succeeded through the pod status subresource, as a kubelet does when the container exits 0. The
Job controller does the rest (the Job's Complete condition), and Helm applies the hook's delete
policy.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python
import yaml

from obsctl.generate.helm import chart
from tests.cluster.controlplane import Api, ControlPlane

RELEASE = chart.RELEASE  # "payments", as the examples are rendered
INSTANCE = f"app.kubernetes.io/instance={RELEASE}"
HELM_TIMEOUT = 120  # seconds: the hook Job completes in a few once HookNode reports its pod


def manifest_objects(manifest: str) -> list[dict[str, Any]]:
    return [obj for obj in yaml.safe_load_all(manifest) if obj]


@dataclass
class HookRun:
    """One run of the migrations hook Job, as seen from outside while helm waited for it."""

    job: dict[str, Any]
    seen_at: float
    # The release's other objects at the moment the Job appeared: {kind/name: resourceVersion}.
    deployments_then: dict[str, dict[str, Any]] = field(default_factory=dict)
    pods_marked: list[str] = field(default_factory=list)


class HookNode(threading.Thread):
    """Reports the pods of the namespace's hook Jobs (helm.sh/hook) as run to completion (exit 0)."""

    def __init__(self, api: Api, namespace: str) -> None:
        super().__init__(daemon=True, name=f"hook-node-{namespace}")
        self.api = api
        self.namespace = namespace
        self.runs: list[HookRun] = []
        self.errors: list[str] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self._step(self.namespace)
            except Exception as exc:  # reported to the test, which fails on it
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self._stop_event.wait(0.2)

    def _step(self, ns: str) -> None:
        for job in self.api.items(f"/apis/batch/v1/namespaces/{ns}/jobs"):
            if "helm.sh/hook" not in (job["metadata"].get("annotations") or {}):
                continue
            uid = job["metadata"]["uid"]
            runs = [r for r in self.runs if r.job["metadata"]["uid"] == uid]
            if runs:
                run = runs[0]
            else:
                deployments = {
                    d["metadata"]["name"]: d
                    for d in self.api.items(f"/apis/apps/v1/namespaces/{ns}/deployments", INSTANCE)
                }
                run = HookRun(job=job, seen_at=time.monotonic(), deployments_then=deployments)
                self.runs.append(run)
            pods = self.api.items(
                f"/api/v1/namespaces/{ns}/pods", f"batch.kubernetes.io/controller-uid={uid}"
            )
            for pod in pods:
                name = pod["metadata"]["name"]
                if pod["status"].get("phase") in ("Succeeded", "Failed") or name in run.pods_marked:
                    continue
                self.api.request(
                    "PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status", {"status": _completed(pod)}
                )
                run.pods_marked.append(name)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


@dataclass
class Outcome:
    example: str
    namespace: str
    release: dict[str, Any]
    seconds: float
    hooks: list[HookRun]
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]


def _completed(pod: dict[str, Any]) -> dict[str, Any]:
    """The status a kubelet reports for a pod whose containers all exited 0."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "phase": "Succeeded",
        "conditions": [
            {"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": now}
        ],
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {
                    "terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}
                },
            }
            for c in pod["spec"]["containers"]
        ],
    }


class Releases:
    """helm install / upgrade / uninstall of the chart into namespaces of the control plane."""

    def __init__(self, control_plane: ControlPlane) -> None:
        self.cp = control_plane
        self.api = control_plane.api
        self.timings: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def config(self, namespace: str) -> Iterator[Any]:
        with helm_python.Config(kubeconfig_path=str(self.cp.kubeconfig), namespace=namespace) as cfg:
            yield cfg

    @contextlib.contextmanager
    def _hook_node(self, namespace: str) -> Iterator[HookNode]:
        node = HookNode(self.api, namespace)
        node.start()
        try:
            yield node
        finally:
            node.stop()
        assert not node.errors, f"the hook node failed: {node.errors}"

    def install(
        self,
        example: str,
        namespace: str,
        values: dict[str, Any] | None = None,
        chart_dir: Path | None = None,
        create_namespace: bool = True,
    ) -> Outcome:
        values = chart.example_values(example) if values is None else values
        started = time.monotonic()
        with (
            self._hook_node(namespace) as node,
            self.config(namespace) as cfg,
            helm_python.Chart.load(chart_dir or chart.CHART) as loaded,
        ):
            release = cfg.install(
                loaded,
                RELEASE,
                values,
                namespace=namespace,
                create_namespace=create_namespace,
                timeout=HELM_TIMEOUT,
            )
        seconds = time.monotonic() - started
        self.timings.append((f"install {example} -> {namespace}", seconds))
        return Outcome(example, namespace, release, seconds, node.runs, manifest_objects(release["manifest"]))

    def upgrade(self, example: str, namespace: str, values: dict[str, Any] | None = None) -> Outcome:
        values = chart.example_values(example) if values is None else values
        started = time.monotonic()
        with (
            self._hook_node(namespace) as node,
            self.config(namespace) as cfg,
            helm_python.Chart.load(chart.CHART) as loaded,
        ):
            release = cfg.upgrade(loaded, RELEASE, values, namespace=namespace, timeout=HELM_TIMEOUT)
        seconds = time.monotonic() - started
        self.timings.append((f"upgrade {example} -> {namespace}", seconds))
        return Outcome(example, namespace, release, seconds, node.runs, manifest_objects(release["manifest"]))

    def uninstall(self, namespace: str) -> dict[str, Any]:
        started = time.monotonic()
        with self.config(namespace) as cfg:
            answer: dict[str, Any] = cfg.uninstall(RELEASE, timeout=HELM_TIMEOUT)
        self.timings.append((f"uninstall {namespace}", time.monotonic() - started))
        return answer

    def release_secrets(self, namespace: str) -> list[dict[str, Any]]:
        """Helm's release records (the secrets driver): what `helm list` reads."""
        return self.api.items(f"/api/v1/namespaces/{namespace}/secrets", f"owner=helm,name={RELEASE}")
