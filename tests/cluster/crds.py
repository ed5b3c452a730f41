"""kube-prometheus-stack's Prometheus Operator CRDs, as published, installed into the control plane.

The CustomResourceDefinitions are read, unchanged, from the prometheus-operator Go module
(example/prometheus-operator-crd/, the files the operator publishes and kube-prometheus-stack's
crds chart packages) in the Go module cache; `go mod download` fetches the module when it is not
there yet (about 4 MB). Only the two kinds the chart renders are installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from obsctl import tools
from tests.cluster.controlplane import Api, wait_for

MODULE = "github.com/prometheus-operator/prometheus-operator"
VERSION = "v0.85.0"
FILES = ("monitoring.coreos.com_prometheusrules.yaml", "monitoring.coreos.com_servicemonitors.yaml")
CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def crd_documents() -> list[dict[str, Any]]:
    go = tools.go_binary()
    if go is None:
        raise tools.ToolError(f"no `go` on PATH to fetch {MODULE}@{VERSION}: {tools.GO_INSTALL_HINT}")
    directory = (
        Path(tools.module_download(go, MODULE, VERSION)["Dir"]) / "example" / "prometheus-operator-crd"
    )
    documents = []
    for name in FILES:
        path = directory / name
        crd = yaml.safe_load(path.read_text())
        if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
            raise ValueError(f"{path}: expected a CustomResourceDefinition, found {type(crd).__name__}")
        documents.append(crd)
    return documents


def install(api: Api) -> list[str]:
    """Create the CRDs (or keep them) and wait until each is Established; returns their names."""
    names = []
    for crd in crd_documents():
        name = crd["metadata"]["name"]
        if api.find(f"{CRD_API}/{name}") is None:
            api.post(CRD_API, crd)
        wait_for(f"CRD {name} Established", lambda n=name: _established(api, n), 60)
        names.append(name)
    # Discovery of the new group: helm maps kinds through it.
    wait_for("monitoring.coreos.com/v1 in discovery", lambda: api.find("/apis/monitoring.coreos.com/v1"), 30)
    return names


def remove(api: Api) -> None:
    """Delete the CRDs (and so every object of their kinds) and wait until they are gone."""
    for name in (f"{f.split('_', 1)[1].removesuffix('.yaml')}.monitoring.coreos.com" for f in FILES):
        api.delete(f"{CRD_API}/{name}")
        wait_for(f"CRD {name} deleted", lambda n=name: api.find(f"{CRD_API}/{n}") is None, 60)


def _established(api: Api, name: str) -> bool:
    crd = api.find(f"{CRD_API}/{name}") or {}
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
