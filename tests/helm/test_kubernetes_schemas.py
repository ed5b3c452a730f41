"""Every rendered object validates strictly against Kubernetes' JSON schemas of a recent release.

The Prometheus Operator kinds (PrometheusRule, ServiceMonitor) are not part of Kubernetes and
kubernetes-validate ships no schema for them; they are validated against the pinned subset of the
operator's CRD schemas in crd_schemas.py instead, also with unknown fields rejected.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from obsctl.generate.helm import chart

from .conftest import Rendered
from .crd_schemas import CRD_SCHEMAS

KUBE_VERSION = chart.KUBE_VERSION.lstrip("v")


def _validate(obj: dict[str, Any]) -> None:
    key = (obj["apiVersion"], obj["kind"])
    if key in CRD_SCHEMAS:
        jsonschema.Draft7Validator(CRD_SCHEMAS[key]).validate(obj)
    else:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_every_object_validates_strictly(examples: dict[str, Rendered]) -> None:
    failures = []
    for ex in examples.values():
        for obj in ex.objects:
            try:
                _validate(obj)
            except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
                failures.append(f"{ex.name}: {obj['kind']} {obj['metadata']['name']}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError as exc:
                failures.append(f"{ex.name}: {exc.message}")
    assert failures == []


def test_schemas_are_strict_enough_to_fail(examples: dict[str, Rendered]) -> None:
    deployment = examples["default"].of_kind("Deployment")[0]
    broken = {**deployment, "spec": {**deployment["spec"], "replicaz": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)
    rule = examples["byo-observability"].of_kind("PrometheusRule")[0]
    with pytest.raises(jsonschema.ValidationError):
        _validate({**rule, "spec": {"groups": [{"name": "x", "rules": [{"alert": "A"}]}]}})
