"""The pinned component table (components-<release>.yaml, hand-written data next to this module) and
the check of a config against it.

The table lists, for one collector-contrib release, the component types we use and the keys each
accepts with their value types. A config passes when every component type is known (and not a
deprecated alias), every key is listed at its nesting level, and every value has the listed type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from obsctl.errors import ObsctlError, Problem

KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
TOP_LEVEL = (*KINDS, "service")

# ${env:VAR} or ${env:VAR:-default}: expanded by the collector, so any scalar type may hold one.
ENV_PLACEHOLDER = re.compile(r"^\$\{env:[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$")
DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
COMPONENT_ID = re.compile(r"^(?P<type>[a-z][a-z0-9_]*)(/(?P<name>[^/\s]+))?$")


def table_path(release: str) -> Path:
    return Path(__file__).with_name(f"components-{release}.yaml")


@dataclass(frozen=True)
class Table:
    release: str
    components: dict[str, dict[str, Any]]
    deprecated_aliases: dict[str, str]
    service: dict[str, Any]
    pipeline: dict[str, Any]

    def spec(self, kind: str, ctype: str) -> dict[str, Any] | None:
        return self.components.get(kind, {}).get(ctype)


@lru_cache(maxsize=4)
def load(release: str) -> Table:
    path = table_path(release)
    if not path.exists():
        raise ObsctlError(
            [Problem(file=str(path), message=f"no pinned component table for release {release}")]
        )
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if raw.get("release") != release:
        raise ObsctlError(
            [
                Problem(
                    file=str(path), field="release", message=f"expected {release}, got {raw.get('release')!r}"
                )
            ]
        )
    return Table(
        release=release,
        components=raw["components"],
        deprecated_aliases=raw.get("deprecated_aliases", {}),
        service=raw["service"],
        pipeline=raw["pipeline"],
    )


def component_type(component_id: str) -> str:
    m = COMPONENT_ID.match(component_id)
    return m.group("type") if m else component_id


def _scalar_ok(value: Any, kind: str) -> bool:
    if isinstance(value, str) and ENV_PLACEHOLDER.match(value) and kind != "any":
        return True
    if kind == "any":
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "duration":
        return (isinstance(value, str) and bool(DURATION.match(value))) or value == 0
    if kind.startswith("enum(") and kind.endswith(")"):
        return isinstance(value, str) and value in kind[5:-1].split("|")
    raise ValueError(f"unknown type {kind!r} in the component table")


def check_value(value: Any, schema: Any, where: str, problems: list[str]) -> None:
    """Append a problem for every unknown key or wrongly typed value under `where`."""
    if isinstance(schema, dict):
        if value is None:  # `grpc:` with no body: the component's defaults
            return
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a mapping, got {type(value).__name__}")
            return
        for key, sub in value.items():
            if key not in schema:
                known = ", ".join(sorted(schema)) or "none"
                problems.append(f"{where}.{key}: unknown key (known here: {known})")
                continue
            check_value(sub, schema[key], f"{where}.{key}", problems)
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check_value(item, schema[0], f"{where}[{i}]", problems)
        return
    kind = str(schema)
    if kind.startswith("list<") and kind.endswith(">"):
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check_value(item, kind[5:-1], f"{where}[{i}]", problems)
        return
    if kind.startswith("map<") and kind.endswith(">"):
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a mapping, got {type(value).__name__}")
            return
        for key, item in value.items():
            check_value(item, kind[4:-1], f"{where}.{key}", problems)
        return
    if not _scalar_ok(value, kind):
        problems.append(f"{where}: expected {kind}, got {value!r} ({type(value).__name__})")


def check_config(config: Any, table: Table) -> list[str]:
    """Every problem of `config` against the pinned table (empty when it passes)."""
    if not isinstance(config, dict):
        return ["config: expected a mapping at the top level"]
    problems: list[str] = []
    for key in config:
        if key not in TOP_LEVEL:
            problems.append(f"{key}: unknown top-level section (known: {', '.join(TOP_LEVEL)})")
    for kind in KINDS:
        section = config.get(kind) or {}
        if not isinstance(section, dict):
            problems.append(f"{kind}: expected a mapping")
            continue
        for cid, body in section.items():
            m = COMPONENT_ID.match(str(cid))
            if not m:
                problems.append(f"{kind}.{cid}: not a valid component id (type[/name])")
                continue
            ctype = m.group("type")
            spec = table.spec(kind, ctype)
            if spec is None:
                if ctype in table.deprecated_aliases:
                    problems.append(
                        f"{kind}.{cid}: '{ctype}' is a deprecated alias in {table.release}; "
                        f"use '{table.deprecated_aliases[ctype]}'"
                    )
                else:
                    known = ", ".join(sorted(table.components.get(kind, {})))
                    problems.append(
                        f"{kind}.{cid}: unknown {kind[:-1]} type '{ctype}' in the {table.release} table "
                        f"(known: {known})"
                    )
                continue
            check_value(body, spec.get("config", {}), f"{kind}.{cid}", problems)
    service = config.get("service")
    if not isinstance(service, dict):
        problems.append("service: missing")
        return problems
    check_value(service, table.service, "service", problems)
    for pid, pipeline in (service.get("pipelines") or {}).items():
        check_value(pipeline, table.pipeline, f"service.pipelines.{pid}", problems)
    return problems
