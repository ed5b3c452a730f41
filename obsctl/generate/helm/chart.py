"""Render and lint the chart (helm/payment-platform) with the Helm library (helm-python-sdk, Helm 4).

No helm binary is involved: `helm_python` binds Helm's Go SDK. The chart reads the generated rule
files, alertmanager.yml, dashboards and collector config through symlinks inside the chart, which
Helm's directory loader follows, so every render sees the files `make generate` wrote.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from obsctl import paths
from obsctl.errors import ObsctlError, Problem

CHART = paths.HELM / "payment-platform"
EXAMPLES = paths.HELM / "examples"
# Examples render as if installed with `helm install payments ... -n payments`.
RELEASE = "payments"
NAMESPACE = "payments"
# The Kubernetes version lint and the schema tests target (a recent release).
KUBE_VERSION = "v1.35.0"

# Helm lint severities (helm_python.lint report).
LINT_ERROR = 3


def _helm() -> Any:
    # Imported lazily: loading the native library costs time that `obsctl --help` should not pay.
    import helm_python

    helm_python.enable_logging(logging.WARNING)
    return helm_python


@contextlib.contextmanager
def _quiet_symlink_notices() -> Iterator[None]:
    """Drop the chart loader's "found symbolic link in path" notices, keep anything else.

    Helm's directory loader reports every symlink it follows through Go's default logger, which
    writes straight to file descriptor 2 (not through the library's log handler). The symlinks are
    intended (they are how the chart reads the generated files), so the notices are noise.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if "found symbolic link in path" not in line:
                    print(line, file=sys.stderr)


def example_names() -> list[str]:
    if not EXAMPLES.is_dir():
        return []
    return sorted(p.name for p in EXAMPLES.iterdir() if (p / "values.yaml").is_file())


def example_values(name: str) -> dict[str, Any]:
    path = EXAMPLES / name / "values.yaml"
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ObsctlError([Problem(file=_rel(path), message=f"not valid YAML: {exc}")]) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ObsctlError([Problem(file=_rel(path), message="expected a mapping of chart values")])
    return loaded


def render(values: dict[str, Any] | None, chart_dir: Path | None = None) -> dict[str, str]:
    """Render the chart offline; returns {template path: manifest} (empty templates dropped)."""
    helm = _helm()
    try:
        with _quiet_symlink_notices(), helm.Chart.load(chart_dir or CHART) as chart:
            chart.validate_schema(values or {})
            rendered: dict[str, str] = chart.render(
                values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True
            )
    except helm.HelmError as exc:
        # A staged copy lives in a temporary directory: name the chart by its repository path.
        raise ObsctlError([Problem(file=_rel(CHART), message=f"helm: {exc.detail}")]) from exc
    return {path: text for path, text in sorted(rendered.items()) if text.strip()}


def lint(values: dict[str, Any] | None, chart_dir: Path | None = None) -> list[dict[str, Any]]:
    """Helm lint messages ({severity, path, error}) for the chart with these values."""
    helm = _helm()
    with _quiet_symlink_notices():
        report: dict[str, Any] = helm.lint(
            chart_dir or CHART, values or {}, namespace=NAMESPACE, kube_version=KUBE_VERSION
        )
    messages: list[dict[str, Any]] = report.get("messages") or []
    return messages


def _rel(path: Path) -> str:
    try:
        return path.relative_to(paths.REPO).as_posix()
    except ValueError:
        return str(path)
