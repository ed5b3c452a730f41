"""The engine behind `obsctl generate`: render the areas in order, then write, compare or check.

Every area renders in memory first, once per run, and files are written only when all areas
succeeded, so a bad input never leaves half-written output. `--check` compares instead of
writing (the drift check of `make check`). Areas and their order: obsctl/generate/areas.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from obsctl import paths
from obsctl.generate.area import Area, Check, Upstream
from obsctl.generate.areas import AREAS
from obsctl.generate.files import write_atomically


def by_name() -> dict[str, Area]:
    return {area.name: area for area in AREAS}


@dataclass(frozen=True)
class Generation:
    """The files the selected areas render, and the files in their owned directories that they
    no longer render (stale: removed on write, reported by --check)."""

    files: dict[str, str]
    stale: list[str]


def _selected(names: list[str] | None) -> list[Area]:
    known = by_name()
    if not names:
        return list(AREAS)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise KeyError(f"unknown area(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [area for area in AREAS if area.name in names]


def _with_needs(selected: list[Area]) -> list[Area]:
    """The selected areas and every area they need, in the order of AREAS."""
    known = by_name()
    wanted = {area.name for area in selected}
    pending = list(wanted)
    while pending:
        for need in known[pending.pop()].needs:
            if need not in wanted:
                wanted.add(need)
                pending.append(need)
    return [area for area in AREAS if area.name in wanted]


def stale_of(area: Area, files: dict[str, str]) -> list[str]:
    stale = []
    for owned in area.owned_dirs:
        root = paths.REPO / owned
        if root.exists():
            for p in sorted(root.rglob("*")):
                rel = p.relative_to(paths.REPO).as_posix()
                if p.is_file() and rel not in files:
                    stale.append(rel)
    return stale


def render(names: list[str] | None = None) -> Generation:
    """Render the named areas (all when None), each exactly once; areas they need render too, but
    only the named areas' files are returned."""
    selected = {area.name for area in _selected(names)}
    files: dict[str, str] = {}
    stale: list[str] = []
    done: dict[str, tuple[dict[str, str], list[str]]] = {}
    for area in _with_needs(_selected(names)):
        upstream_files: dict[str, str] = {}
        upstream_stale: set[str] = set()
        for need in area.needs:
            need_files, need_stale = done[need]
            upstream_files.update(need_files)
            upstream_stale.update(need_stale)
        own = area.generate(Upstream(files=upstream_files, stale=frozenset(upstream_stale)))
        own_stale = stale_of(area, own)
        done[area.name] = (own, own_stale)
        if area.name not in selected:
            continue
        for rel in own:
            if rel in files:
                raise ValueError(f"{rel} is produced twice (area {area.name})")
        files.update(own)
        stale.extend(own_stale)
    return Generation(files=files, stale=stale)


def drift(generation: Generation) -> list[str]:
    """Paths whose committed content differs from what the sources generate, then stale paths."""
    out = []
    for rel, content in sorted(generation.files.items()):
        p = paths.REPO / rel
        if not p.exists() or p.read_text(encoding="utf-8") != content:
            out.append(rel)
    return out + generation.stale


def write(generation: Generation) -> list[str]:
    """Write every changed file atomically and remove stale ones; returns the paths that changed."""
    changed = []
    for rel, content in sorted(generation.files.items()):
        p = paths.REPO / rel
        if p.exists() and p.read_text(encoding="utf-8") == content:
            continue
        write_atomically(p, content)
        changed.append(rel)
    for rel in generation.stale:
        (paths.REPO / rel).unlink()
        changed.append(rel)
    return changed


def checks(names: list[str] | None = None) -> list[tuple[str, Check]]:
    """(check name, check) of the selected areas, in the order of AREAS."""
    return [check for area in _selected(names) for check in area.checks]
