"""Helm lint is clean for every example, and the committed rendered output is what the chart renders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from obsctl import paths
from obsctl.generate import artifacts
from obsctl.generate.helm import chart, examples

EXAMPLE_NAMES = chart.example_names()


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_helm_lint_reports_no_errors(name: str) -> None:
    messages = chart.lint(chart.example_values(name))
    errors = [m for m in messages if m["severity"] >= chart.LINT_ERROR]
    assert errors == []


def test_lint_check_catches_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "payment-platform"
    shutil.copytree(chart.CHART, broken, symlinks=True)
    # The symlinks are relative to the chart's place in the repository: point them back.
    for link in (p for p in chart.CHART.iterdir() if p.is_symlink()):
        (broken / link.name).unlink()
        (broken / link.name).symlink_to(link.resolve())
    (broken / "templates" / "broken.yaml").write_text("{{ .Values.nope.deeper }}\n", encoding="utf-8")
    errors = [m for m in chart.lint({}, chart_dir=broken) if m["severity"] >= chart.LINT_ERROR]
    assert errors, "lint should report the nil-pointer template as an error"


def test_committed_rendered_output_has_no_drift() -> None:
    generation = artifacts.render(["helm"])
    assert generation.files, "the helm area rendered nothing"
    assert {f"helm/examples/{n}/rendered/services.yaml" for n in EXAMPLE_NAMES} <= set(generation.files)
    assert all(rel.startswith("helm/examples/") for rel in generation.files)
    assert artifacts.drift(generation) == []


def test_drift_check_detects_an_edited_rendered_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = artifacts.render(["helm"]).files
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(content, encoding="utf-8")
    edited = "helm/examples/default/rendered/services.yaml"
    (tmp_path / edited).write_text(files[edited].replace("replicas: 1", "replicas: 2", 1), encoding="utf-8")
    leftover = "helm/examples/default/rendered/removed-template.yaml"
    (tmp_path / leftover).write_text("kind: ConfigMap\n", encoding="utf-8")
    monkeypatch.setattr(paths, "REPO", tmp_path)
    helm = artifacts.by_name()["helm"]
    assert artifacts.drift(artifacts.Generation(files, artifacts.stale_of(helm, files))) == [edited, leftover]


def test_rendered_files_carry_the_generated_header() -> None:
    for rel, content in artifacts.render(["helm"]).files.items():
        assert content.startswith(f"# {paths.GENERATED_HEADER}\n"), rel


def test_generated_secret_values_are_masked_in_committed_output() -> None:
    text = (paths.HELM / "examples" / "default" / "rendered" / "secrets.yaml").read_text(encoding="utf-8")
    assert examples.GENERATED_MARKER in text
    masked = examples.mask_generated_secrets(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  annotations:\n"
        '    payment-platform/generated: "true"\ndata:\n  password: c2VjcmV0\n'
    )
    assert "c2VjcmV0" not in masked and examples.GENERATED_MARKER in masked
