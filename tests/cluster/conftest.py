"""One real control plane per session (etcd, kube-apiserver, kube-controller-manager), helm against it.

`control_plane` starts it on free ports in a temporary directory and stops it at the end;
`releases` runs helm; `installed(example)` installs one of helm/examples/ once per session into
the namespace `ex-<example>`, where Pod Security admission enforces `restricted` (bring-your-own
after installing the Prometheus Operator CRDs), and returns the Outcome. The terminal summary
prints the control plane's start time and each helm action's duration.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from obsctl.generate.helm import chart
from tests.cluster import crds
from tests.cluster.controlplane import ControlPlane
from tests.cluster.releases import Outcome, Releases

EXAMPLES = ("default", "production", "byo-observability")
_TIMINGS: list[tuple[str, float]] = []


def needs_crds(values: dict[str, Any]) -> bool:
    kps = values.get("kubePrometheusStack") or {}
    return any((kps.get(part) or {}).get("enabled") for part in ("prometheusRules", "serviceMonitors"))


def example_namespace(example: str) -> str:
    return f"ex-{example}"


def restricted_namespace(name: str) -> dict[str, Any]:
    """A namespace where Pod Security admission enforces the `restricted` standard."""
    levels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": levels}}


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    started = time.monotonic()
    with ControlPlane(tmp_path_factory.mktemp("control-plane")) as cp:
        took = time.monotonic() - started
        _TIMINGS.append(("control plane up (etcd, kube-apiserver, kube-controller-manager)", took))
        for name, seconds in cp.started_in.items():
            _TIMINGS.append((f"  {name} ready after", seconds))
        yield cp
        cp.check_running()  # none of them died during the session


@pytest.fixture(scope="session")
def releases(control_plane: ControlPlane) -> Iterator[Releases]:
    helm = Releases(control_plane)
    yield helm
    _TIMINGS.extend(helm.timings)


class Installed:
    """Each example installed once per session (uninstall tests take theirs with `take`)."""

    def __init__(self, releases: Releases) -> None:
        self.releases = releases
        self.outcomes: dict[str, Outcome] = {}

    def __call__(self, example: str) -> Outcome:
        if example not in self.outcomes:
            if needs_crds(chart.example_values(example)):
                crds.install(self.releases.api)
            namespace = example_namespace(example)
            self.releases.api.post("/api/v1/namespaces", restricted_namespace(namespace), ok=(201, 409))
            self.outcomes[example] = self.releases.install(example, namespace, create_namespace=False)
        return self.outcomes[example]

    def take(self, example: str) -> Outcome:
        """The example's release, no longer handed to other tests (which would reinstall it)."""
        outcome = self(example)
        del self.outcomes[example]
        return outcome


@pytest.fixture(scope="session")
def installed(releases: Releases) -> Installed:
    assert set(EXAMPLES) == set(chart.example_names()), "tests/cluster covers every example of helm/examples"
    return Installed(releases)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _TIMINGS:
        terminalreporter.section("control plane and helm timings")
        for what, seconds in _TIMINGS:
            terminalreporter.write_line(f"{seconds:7.2f} s  {what}")
