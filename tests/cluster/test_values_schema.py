"""values.schema.json rejections happen in helm, before anything of the release reaches the API server.

The API server's audit log (metadata level, every request of the test's admin user) is the
witness: after a rejected install it holds no write at all, and in the release's namespace only
helm's read of its own release records (whether the release name is taken), which helm does
before it checks the values; no release record and no namespace were created.
"""

from __future__ import annotations

from typing import Any

import helm_python
import pytest

from obsctl.generate.helm import chart
from tests.cluster.controlplane import ControlPlane
from tests.cluster.releases import Releases

# a real control plane (etcd, kube-apiserver, kube-controller-manager)
pytestmark = [pytest.mark.slow, pytest.mark.built_tools("etcd", "kubernetes")]

CASES = [
    ({"serviceDefaults": {"replicas": "three"}}, "/serviceDefaults/replicas"),
    ({"collector": {"image": {"tag": "latest"}}}, "/collector/image/tag"),
    ({"replicaCount": 3}, "replicaCount"),
]


@pytest.mark.parametrize(("override", "named"), CASES, ids=[named for _, named in CASES])
def test_schema_rejection_sends_nothing_to_the_api_server(
    control_plane: ControlPlane, releases: Releases, override: dict[str, Any], named: str
) -> None:
    values = chart.example_values("default")
    for key, value in override.items():
        values[key] = {**values[key], **value} if isinstance(value, dict) and key in values else value
    namespace = "schema-" + named.strip("/").replace("/", "-").lower()
    mark = control_plane.audit_mark()
    with pytest.raises(helm_python.HelmError) as failure:
        releases.install("default", namespace, values=values)
    message = str(failure.value)
    assert "values don't meet the specifications of the schema" in message, message
    assert named.rsplit("/", 1)[-1] in message, f"the rejection does not name {named}: {message}"
    control_plane.audit_barrier()
    assert control_plane.writes_since(mark) == [], "helm wrote to the API server before the schema check"
    # Helm's only requests about the namespace: reading its own release records (is the name taken?).
    helm = [e for e in control_plane.requests_since(mark) if e.get("userAgent", "").startswith("Helm/")]
    about = [e for e in helm if (e.get("objectRef") or {}).get("namespace") == namespace]
    assert helm, "helm sent nothing at all: the audit log is not being read"
    for event in about:
        what = (event["verb"], event["objectRef"]["resource"], "owner%3Dhelm" in event["requestURI"])
        assert what == ("list", "secrets", True), f"helm asked before the schema check: {event['requestURI']}"
    assert control_plane.api.find(f"/api/v1/namespaces/{namespace}") is None, "the namespace was created"
