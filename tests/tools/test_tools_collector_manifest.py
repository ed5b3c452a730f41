"""tools/otelcol-builder.yaml lists exactly the components that collector/*.yaml use (plus the file
exporter), and the collector built from it has each of them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from obsctl import tools

CONFIGS = sorted((tools.REPO / "collector").glob("*.yaml"))
GENERATED = [p for p in CONFIGS if p.name in ("local.yaml", "kubernetes.yaml")]
KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
CORE = "go.opentelemetry.io/collector"
CONTRIB = "github.com/open-telemetry/opentelemetry-collector-contrib"

# Component type (as written in a config, before any "/name") -> the Go module providing it.
# A config that uses a type not listed here fails test_every_used_component_is_known: add the type
# here and its module to tools/otelcol-builder.yaml.
MODULES: dict[str, dict[str, str]] = {
    "receivers": {
        "otlp": f"{CORE}/receiver/otlpreceiver",
    },
    "processors": {
        "memory_limiter": f"{CORE}/processor/memorylimiterprocessor",
        "resource_detection": f"{CONTRIB}/processor/resourcedetectionprocessor",
        "resourcedetection": f"{CONTRIB}/processor/resourcedetectionprocessor",
        "transform": f"{CONTRIB}/processor/transformprocessor",
        "k8s_attributes": f"{CONTRIB}/processor/k8sattributesprocessor",
        "k8sattributes": f"{CONTRIB}/processor/k8sattributesprocessor",
        "tail_sampling": f"{CONTRIB}/processor/tailsamplingprocessor",
    },
    "connectors": {
        "span_metrics": f"{CONTRIB}/connector/spanmetricsconnector",
        "spanmetrics": f"{CONTRIB}/connector/spanmetricsconnector",
        "forward": f"{CORE}/connector/forwardconnector",
    },
    "exporters": {
        "otlp_http": f"{CORE}/exporter/otlphttpexporter",
        "otlphttp": f"{CORE}/exporter/otlphttpexporter",
        "otlp_grpc": f"{CORE}/exporter/otlpexporter",
        "otlp": f"{CORE}/exporter/otlpexporter",
        "prometheus": f"{CONTRIB}/exporter/prometheusexporter",
        "file": f"{CONTRIB}/exporter/fileexporter",
    },
    "extensions": {
        "health_check": f"{CONTRIB}/extension/healthcheckextension",
    },
}
# In the manifest on purpose although no generated config uses them.
EXTRA: dict[str, set[str]] = {"exporters": {"file"}}


def used_types(paths: list[Path]) -> dict[str, set[str]]:
    """Component types per kind that the configs declare (`otlp_http/backend` -> `otlp_http`)."""
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for path in paths:
        config = yaml.safe_load(path.read_text())
        for kind in KINDS:
            for key in config.get(kind) or {}:
                used[kind].add(str(key).split("/", 1)[0])
    return used


def manifest_modules() -> dict[str, set[str]]:
    manifest = yaml.safe_load((tools.REPO / "tools" / "otelcol-builder.yaml").read_text())
    return {kind: {str(e["gomod"]).split()[0] for e in manifest.get(kind) or []} for kind in KINDS}


def test_the_generated_configs_are_there() -> None:
    assert [p.name for p in GENERATED] == ["kubernetes.yaml", "local.yaml"]


def test_every_used_component_is_known() -> None:
    for kind, types in used_types(GENERATED).items():
        unknown = types - set(MODULES[kind])
        assert not unknown, (
            f"collector configs use {kind} {sorted(unknown)}: map them to their Go module in "
            f"tests/tools/{Path(__file__).name} and add the modules to tools/otelcol-builder.yaml"
        )


@pytest.mark.parametrize("kind", KINDS)
def test_manifest_lists_exactly_the_used_components(kind: str) -> None:
    used = used_types(GENERATED)[kind] | EXTRA.get(kind, set())
    wanted = {MODULES[kind][t] for t in used if t in MODULES[kind]}
    have = manifest_modules()[kind]
    assert wanted - have == set(), f"{kind} used by collector/*.yaml but not in the manifest"
    assert have - wanted == set(), f"{kind} in the manifest that no config uses"


def test_the_check_fails_on_a_component_not_in_the_manifest(tmp_path: Path) -> None:
    config = yaml.safe_load(GENERATED[0].read_text())
    config["processors"]["batch"] = {}
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump(config))
    used = used_types([*GENERATED, extra])
    assert "batch" in used["processors"] - set(MODULES["processors"])


def _components(otelcol: Path) -> dict[str, set[str]]:
    out = subprocess.run([str(otelcol), "components"], capture_output=True, text=True, timeout=60, check=True)
    listing = yaml.safe_load(out.stdout)
    return {kind: {str(c["name"]) for c in listing.get(kind) or []} for kind in KINDS}


@pytest.mark.timeout(5400)  # builds the tools when make setup has not
def test_built_collector_has_every_used_component(built: dict[str, tools.Tool]) -> None:
    components = _components(tools.tool_path("otelcol", built))
    for kind, types in used_types(GENERATED).items():
        for kind_type in types | EXTRA.get(kind, set()):
            assert kind_type in components[kind], f"otelcol components lacks {kind} {kind_type}"


@pytest.mark.timeout(5400)
def test_built_collector_reports_its_release(built: dict[str, tools.Tool]) -> None:
    otelcol = tools.tool_path("otelcol", built)
    out = subprocess.run([str(otelcol), "components"], capture_output=True, text=True, timeout=60, check=True)
    info = yaml.safe_load(out.stdout)["buildinfo"]
    assert info["version"] == built["otelcol"].reports
    assert info["command"] == "otelcol"
