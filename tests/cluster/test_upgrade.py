"""`helm upgrade` from the previous chart to this one, for every example, without immutable-field errors.

The repository has no release tag and the chart's version has been 0.1.0 since the foundation
commit (377f812), which had no templates yet. The previous chart is therefore the first revision
that had the chart's templates and examples, PREVIOUS (76989db, "Work in progress: services,
rules, ..."): the oldest 0.1.0 anyone can have installed, so the upgrade covers every change of
the chart since. Its chart, examples and the generated files it read are taken from git
(`git archive`, read-only), so the tests need the repository's history (not a shallow clone).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from obsctl import paths
from obsctl.generate.helm import chart
from tests.cluster import crds
from tests.cluster.conftest import EXAMPLES, needs_crds
from tests.cluster.controlplane import ControlPlane, wait_for
from tests.cluster.releases import INSTANCE, Releases

# a real control plane (etcd, kube-apiserver, kube-controller-manager)
pytestmark = [pytest.mark.slow, pytest.mark.built_tools("etcd", "kubernetes")]

PREVIOUS = "76989db20a1b17bf07a28ab710bd87422d5102cc"
TREES = ("helm", "alerts", "dashboards/generated", "collector")


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's chart-related trees at PREVIOUS, extracted into a temporary directory."""
    root = tmp_path_factory.mktemp("previous-chart")
    proc = subprocess.run(["git", "-C", str(paths.REPO), "archive", PREVIOUS, *TREES], capture_output=True)
    assert proc.returncode == 0, (
        f"git archive {PREVIOUS[:7]} failed ({proc.stderr.decode().strip()}): tests/cluster/test_upgrade.py "
        "reads the previous chart from the repository's history, which a shallow clone lacks"
    )
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
        archive.extractall(root, filter="tar")
    return root


@pytest.mark.parametrize("example", EXAMPLES)
def test_upgrade_from_the_previous_chart(
    control_plane: ControlPlane, releases: Releases, previous: Path, example: str
) -> None:
    api = control_plane.api
    old_values = yaml.safe_load((previous / "helm" / "examples" / example / "values.yaml").read_text()) or {}
    if needs_crds(old_values):
        crds.install(api)
    namespace = f"upgrade-{example}"
    first = releases.install(
        example, namespace, values=old_values, chart_dir=previous / "helm" / "payment-platform"
    )
    assert first.release["status"] == "deployed"
    # The generation counts changes of a Deployment's spec only: the controllers' status updates
    # (which change the resourceVersion at any time) do not move it.
    before = {
        d["metadata"]["name"]: d["metadata"]["generation"]
        for d in api.items(f"/apis/apps/v1/namespaces/{namespace}/deployments", INSTANCE)
    }

    second = releases.upgrade(example, namespace)  # fails on any immutable field (selectors, claim templates)
    assert second.release["status"] == "deployed", second.release["status"]
    assert second.release["revision"] == 2
    if (chart.example_values(example).get("migrations") or {}).get("enabled", True):
        # pre-upgrade: the migrations ran before the release's Deployments were touched.
        [run] = second.hooks
        then = {name: d["metadata"]["generation"] for name, d in run.deployments_then.items()}
        assert then == before, "the pre-upgrade Job ran after the upgrade had changed Deployments"
    # Every object of the new release is there, and none of the old one that the new one dropped.
    for obj in second.objects:
        assert api.find(api.path_of(obj, namespace)) is not None, f"{obj['kind']} {obj['metadata']['name']}"
    dropped = {(o["kind"], o["metadata"]["name"]) for o in first.objects} - {
        (o["kind"], o["metadata"]["name"]) for o in second.objects
    }
    for kind, name in sorted(dropped):
        [obj] = [o for o in first.objects if (o["kind"], o["metadata"]["name"]) == (kind, name)]
        wait_for(
            f"{kind} {name} removed by the upgrade",
            lambda o=obj: api.find(api.path_of(o, namespace)) is None,
            30,
        )
    releases.uninstall(namespace)
