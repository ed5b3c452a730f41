"""Evaluates dashboards/src/*.jsonnet into Grafana dashboard JSON (the `dashboards` area's generator).

A source is a plain dashboard, or, when listed in PER_SERVICE, a function of the service name that
is evaluated once per catalog service (top-level argument `service`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import _jsonnet

import catalog
from obsctl import paths
from obsctl.errors import ObsctlError, Problem
from obsctl.generate import conventions
from obsctl.generate.dashboards import inputs
from obsctl.generate.rules import windows

SRC = paths.DASHBOARDS / "src"
LIB = paths.DASHBOARDS / "lib"
GENERATED = paths.DASHBOARDS / "generated"
PER_SERVICE = {"service-red.jsonnet"}


def evaluate(path: Path, ext_vars: dict[str, str], tla: dict[str, str] | None = None) -> dict[str, Any]:
    try:
        out = _jsonnet.evaluate_file(str(path), jpathdir=[str(LIB)], ext_codes=ext_vars, tla_vars=tla or {})
    except RuntimeError as exc:
        rel = path.relative_to(paths.REPO).as_posix()
        raise ObsctlError([Problem(file=rel, message=_short(str(exc)))]) from exc
    result: dict[str, Any] = json.loads(out)
    return result


def _short(error: str) -> str:
    """The jsonnet error's first line and the first frame in a dashboard source, not the whole trace."""
    lines = [line.strip() for line in error.strip().splitlines()]
    frames = [line for line in lines[1:] if "/dashboards/src/" in line]
    return lines[0] + (f" (at {frames[0].split()[0]})" if frames else "")


def ext_vars() -> dict[str, str]:
    """The external variables every source is evaluated with: the inputs from observability/ and
    `conventions`, Sloth's rule and label names (obsctl.generate.conventions)."""
    names = conventions.for_jsonnet(windows.RECORDED_WINDOWS)
    return {**inputs.ext_vars(), "conventions": json.dumps(names, sort_keys=True)}


def _calls(services: list[str]) -> list[tuple[Path, dict[str, str]]]:
    """(source, top-level arguments) of every dashboard to render, in a stable order."""
    calls: list[tuple[Path, dict[str, str]]] = []
    for src in sorted(SRC.glob("*.jsonnet")):
        if src.name in PER_SERVICE:
            calls.extend((src, {"service": s}) for s in services)
        else:
            calls.append((src, {}))
    return calls


def _evaluate_all(calls: list[tuple[Path, dict[str, str]]], ext: dict[str, str]) -> list[dict[str, Any]]:
    """Every dashboard in one jsonnet evaluation: the library and the inputs are parsed once
    instead of once per dashboard. When it fails, each source is evaluated on its own so the
    error names the source that broke."""
    items = []
    for src, tla in calls:
        call = f"(import {json.dumps(src.name)})"
        if tla:
            call += "(" + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(tla.items())) + ")"
        items.append(call)
    try:
        out = _jsonnet.evaluate_snippet(
            "dashboards", "[" + ",\n".join(items) + "]", jpathdir=[str(SRC), str(LIB)], ext_codes=ext
        )
    except RuntimeError:
        return [evaluate(src, ext, tla) for src, tla in calls]
    result: list[dict[str, Any]] = json.loads(out)
    return result


def dashboards() -> dict[str, dict[str, Any]]:
    """Every generated dashboard by file name (its uid + .json)."""
    rendered = _evaluate_all(_calls(sorted(catalog.default().services)), ext_vars())
    out: dict[str, dict[str, Any]] = {}
    for dash in rendered:
        name = f"{dash.get('uid')}.json"
        if name in out:
            raise ObsctlError(f"dashboards/src: uid {dash.get('uid')!r} is used by two dashboards")
        out[name] = dash
    return out


def to_text(dashboard: dict[str, Any]) -> str:
    # Sorted keys and a trailing newline: the same sources always give the same bytes.
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    rel = GENERATED.relative_to(paths.REPO).as_posix()
    return {f"{rel}/{name}": to_text(d) for name, d in dashboards().items()}
