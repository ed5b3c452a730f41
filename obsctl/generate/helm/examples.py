"""The rendered output of every example under helm/examples/<name>/rendered/, one file per template.

Rendering is deterministic except for the Secrets the chart generates at install time (random
values, kept across upgrades). Their values are replaced by a fixed marker in the committed output,
so the drift check compares everything else byte for byte; the keys and metadata stay as rendered.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

import yaml

from obsctl import paths
from obsctl.generate.area import Upstream
from obsctl.generate.helm import chart, staging

GENERATED_SECRET_ANNOTATION = "payment-platform/generated"  # nosec B105 # an annotation name
GENERATED_MARKER = base64.b64encode(b"generated-at-install").decode()


def rendered_files(name: str, chart_dir: Path | None = None) -> dict[str, str]:
    """{repository path: content} of one example's rendered output."""
    out: dict[str, str] = {}
    for template, text in chart.render(chart.example_values(name), chart_dir=chart_dir).items():
        target = f"helm/examples/{name}/rendered/{template.rsplit('/', 1)[-1]}"
        out[target] = f"# {paths.GENERATED_HEADER}\n" + mask_generated_secrets(text)
    return out


def all_rendered_files(upstream: Upstream) -> dict[str, str]:
    """Every example rendered from the fresh output of the areas the chart reads (see staging)."""
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="obsctl-helm-") as tmp:
        staged = staging.stage(chart.CHART, Path(tmp), upstream)
        for name in chart.example_names():
            files.update(rendered_files(name, chart_dir=staged))
    return files


def mask_generated_secrets(text: str) -> str:
    if "kind: Secret" not in text:
        return text
    docs = text.split("\n---\n")
    for i, doc in enumerate(docs):
        obj = yaml.safe_load(doc)
        if _is_generated_secret(obj):
            obj["data"] = {key: GENERATED_MARKER for key in obj.get("data") or {}}
            docs[i] = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False).rstrip("\n")
    return "\n---\n".join(docs)


def _is_generated_secret(obj: Any) -> bool:
    if not isinstance(obj, dict) or obj.get("kind") != "Secret":
        return False
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(GENERATED_SECRET_ANNOTATION) == "true"
