"""Tail sampling decides per trace, so every span of a trace must reach the same collector: the
chart refuses more than one replica of a collector whose config tail-samples (the generated
kubernetes.yaml does), and every example runs it as one."""

from __future__ import annotations

import pytest
import yaml

from obsctl import paths
from obsctl.errors import ObsctlError
from obsctl.generate.helm import chart

from .conftest import Rendered

FULLNAME = "payments-collector"


def _tail_samples(config_file: str) -> bool:
    processors = yaml.safe_load((paths.COLLECTOR / config_file).read_text())["processors"]
    return any(name == "tail_sampling" or name.startswith("tail_sampling/") for name in processors)


def _replicas(templates: dict[str, str]) -> int:
    for path, text in templates.items():
        if path.endswith("NOTES.txt"):
            continue
        for obj in yaml.safe_load_all(text):
            if obj and obj["kind"] == "Deployment" and obj["metadata"]["name"] == FULLNAME:
                return int(obj["spec"]["replicas"])
    raise AssertionError(f"no Deployment {FULLNAME} rendered")


def test_the_kubernetes_config_tail_samples() -> None:
    """The premise of the rule below: what the chart runs by default is a tail-sampling config."""
    assert _tail_samples("kubernetes.yaml")
    assert not _tail_samples("local.yaml")


@pytest.mark.parametrize("replicas", [2, 3])
def test_more_than_one_replica_of_a_tail_sampling_collector_is_refused(replicas: int) -> None:
    with pytest.raises(ObsctlError) as caught:
        chart.render({"collector": {"replicas": replicas}})
    message = str(caught.value)
    assert f"collector.replicas is {replicas}" in message
    assert "collector/kubernetes.yaml tail-samples traces (tail_sampling)" in message
    assert "loadbalancing exporter" in message


def test_one_replica_renders_and_a_config_without_tail_sampling_may_scale_out() -> None:
    assert _replicas(chart.render({"collector": {"replicas": 1}})) == 1
    # The rule reads the config: one that does not tail-sample is not held to one replica.
    assert _replicas(chart.render({"collector": {"replicas": 2, "configFile": "local.yaml"}})) == 2


def test_every_example_runs_a_tail_sampling_collector_as_one_replica(examples: dict[str, Rendered]) -> None:
    for name, rendered in examples.items():
        collector = rendered.values.get("collector", {})
        if collector.get("enabled", True) is False:
            continue
        if not _tail_samples(collector.get("configFile", "kubernetes.yaml")):
            continue
        assert rendered.get("Deployment", FULLNAME)["spec"]["replicas"] == 1, name
    assert "production" in examples and examples["production"].values["collector"]["replicas"] == 1
