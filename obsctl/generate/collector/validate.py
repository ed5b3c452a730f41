"""Offline validation of collector configs: the pinned table, the pipeline rules, a redaction probe.

The collector binary cannot run here, so this is what stands in for `otelcol validate` of the
pinned release (and checks more: the pipeline rules of docs/collector.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from obsctl import paths
from obsctl.generate.collector import pipeline_rules, probe, render, semantics, source, table


def validate(config: Any, release: str, *, kubernetes: bool) -> list[str]:
    """Every problem of one config; empty when it passes."""
    pinned = table.load(release)
    problems = table.check_config(config, pinned)
    if isinstance(config, dict):
        problems += semantics.signals_supported(config, pinned)
        problems += semantics.component_rules(config, pinned)
        problems += pipeline_rules.check_pipelines(config, pinned, kubernetes=kubernetes)
        problems += probe.probe(config)
    return problems


def check_file(path: Path, release: str) -> list[str]:
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return [f"{path}: cannot read: {exc}"]
    rel = path.relative_to(paths.REPO) if path.is_relative_to(paths.REPO) else path
    return [f"{rel}: {p}" for p in validate(config, release, kubernetes=path.stem.startswith("kubernetes"))]


def check_generated() -> list[str]:
    """The `obsctl check` entry: every committed collector config of every environment."""
    release = source.load().file.release
    problems = []
    for name in render.ENVIRONMENTS:
        path = paths.COLLECTOR / f"{name}.yaml"
        if not path.exists():
            problems.append(f"{path}: missing; run `make collector`")
            continue
        problems += check_file(path, release)
    return problems
