"""values.schema.json rejects wrong types and unknown keys, with a message naming the key."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from obsctl.errors import ObsctlError
from obsctl.generate.helm import chart


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"serviceDefaults": {"replicas": "three"}}, "/serviceDefaults/replicas"),
        ({"prometheus": {"enabled": "yes"}}, "/prometheus/enabled"),
        ({"services": {"gateway": {"requestBudgetMs": 10.5}}}, "/services/gateway/requestBudgetMs"),
        ({"replicaCount": 3}, "replicaCount"),
        ({"secrets": {"database": {"password": "hunter2"}}}, "password"),
        ({"image": {"tag": "latest"}}, "/image/tag"),
        ({"otel": {"logsExportLevel": "warn"}}, "/otel/logsExportLevel"),
    ],
)
def test_bad_values_are_rejected_naming_the_key(values: dict[str, Any], named: str) -> None:
    with pytest.raises(ObsctlError) as caught:
        chart.render(values)
    assert named in str(caught.value)


def test_every_example_passes_the_schema() -> None:
    for name in chart.example_names():
        chart.render(chart.example_values(name))


def test_schema_closes_the_top_level() -> None:
    schema = json.loads((chart.CHART / "values.schema.json").read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    documented = set(yaml.safe_load((chart.CHART / "values.yaml").read_text(encoding="utf-8")))
    assert documented == set(schema["properties"])
