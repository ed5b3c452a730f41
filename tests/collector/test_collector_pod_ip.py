"""The kubernetes config with MY_POD_IP unset must not listen on every interface.

What the collector does with an unset variable: the env provider logs a warning and expands it to
nothing, so `${env:MY_POD_IP}:4317` becomes `:4317`, which listens on every interface (shown below
on the real collector). The generated config therefore writes `${env:MY_POD_IP:-<name under the
reserved .invalid domain>}`: unset, the name does not resolve and the collector refuses to start.
The chart always sets MY_POD_IP from status.podIP and refuses values that would replace it.
`otelcol validate` resolves nothing, so only a start shows either behaviour.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsctl import paths
from obsctl.errors import ObsctlError
from obsctl.generate.collector import source, validate
from obsctl.generate.helm import chart

from . import running

GUARDED = "${env:MY_POD_IP:-MY_POD_IP-is-unset.invalid}"
WILDCARDS = {"0.0.0.0", "::"}


def _committed_here() -> tuple[dict[str, Any], running.KubernetesPorts]:
    ports = running.KubernetesPorts.free()
    return running.kubernetes_here(running.load_yaml(paths.COLLECTOR / "kubernetes.yaml"), ports), ports


def _bare_placeholder(config: dict[str, Any]) -> dict[str, Any]:
    """The same config with `${env:MY_POD_IP}:<port>` (no default) in every endpoint. The own-metrics
    reader's `host:` is a whole value, which an unset variable turns into null, and that the
    collector refuses by itself ("failed to create meter provider: host must be specified"); it is
    set to 127.0.0.1 here, so that the endpoints' behaviour shows."""
    bare = yaml.safe_load(yaml.safe_dump(config).replace(f"{GUARDED}:", "${env:MY_POD_IP}:"))
    bare["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]["host"] = (
        "127.0.0.1"
    )
    return bare


def test_every_listener_of_the_committed_config_is_guarded() -> None:
    text = (paths.COLLECTOR / "kubernetes.yaml").read_text()
    assert text.count(GUARDED) == 5  # grpc, http, health check, span metrics, own metrics
    assert re.search(r"\$\{env:MY_POD_IP\}", text) is None


def test_an_unset_bare_placeholder_listens_on_every_interface(otelcol: Path, tmp_path: Path) -> None:
    """Why the guard exists: the collector's own behaviour with the bare placeholder."""
    config, ports = _committed_here()
    listeners = (ports.otlp_grpc, ports.otlp_http, ports.span_metrics)
    collector = running.start(
        otelcol, "bare", _bare_placeholder(config), tmp_path, {}, ports.health_check, listeners
    )
    try:
        collector.wait_ready()
        for port in (ports.otlp_grpc, ports.otlp_http, ports.health_check, ports.span_metrics):
            assert running.listening_hosts(port), port
            assert running.listening_hosts(port) <= WILDCARDS, (port, running.listening_hosts(port))
        assert re.search(r'references unset environment variable.*"name": ?"MY_POD_IP"', collector.output())
    finally:
        collector.stop()


def test_unset_the_committed_config_refuses_to_start(otelcol: Path, tmp_path: Path) -> None:
    config, ports = _committed_here()
    collector = running.start(otelcol, "unset", config, tmp_path, {}, ports.health_check)
    seen: set[str] = set()
    try:
        while collector.process.poll() is None:
            for port in vars(ports).values():
                seen |= running.listening_hosts(port)
        assert collector.wait_exit() != 0
    finally:
        collector.stop()
    assert not seen & WILDCARDS, seen
    assert re.search(r"Error: .*lookup MY_POD_IP-is-unset\.invalid", collector.output()), collector.output()[
        -2000:
    ]


def test_validate_cannot_tell(otelcol: Path) -> None:
    """The unset variable is a start-up failure, not a config error."""
    proc = validate.run_validate(otelcol, paths.COLLECTOR / "kubernetes.yaml", {})
    assert proc.returncode == 0, proc.stderr


def _collector_env(values: dict[str, Any]) -> dict[str, Any]:
    rendered = chart.render(values)
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            continue
        for obj in yaml.safe_load_all(text):
            if obj and obj["kind"] == "Deployment" and obj["metadata"]["name"].endswith("-collector"):
                (container,) = obj["spec"]["template"]["spec"]["containers"]
                return {e["name"]: e for e in container["env"]}
    raise AssertionError("no collector Deployment rendered")


def test_the_chart_sets_the_pod_ip_from_the_downward_api() -> None:
    env = _collector_env(chart.example_values("default"))
    assert env["MY_POD_IP"] == {"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}


@pytest.mark.parametrize("value", [{"value": ""}, {"value": "0.0.0.0"}])
def test_the_chart_refuses_to_replace_the_pod_ip(value: dict[str, str]) -> None:
    values = copy.deepcopy(chart.example_values("default"))
    values.setdefault("collector", {})["extraEnv"] = [{"name": "MY_POD_IP", **value}]
    with pytest.raises(ObsctlError, match=r"collector\.extraEnv must not set MY_POD_IP"):
        chart.render(values)


def test_the_charts_collector_image_is_the_pinned_release() -> None:
    values = yaml.safe_load((chart.CHART / "values.yaml").read_text())
    assert f"v{values['collector']['image']['tag']}" == source.release()
