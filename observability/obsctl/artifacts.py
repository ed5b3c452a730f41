"""The registry of generated artifacts.

Each area (rules, dashboards, collector, helm) registers a generator: a function that returns the
files it produces as {path relative to the repository: content}. `obsctl generate` renders every
generator in memory first and writes only when all succeeded (nothing half-written), and
`obsctl generate --check` compares instead of writing (the drift check of `make check`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from obsctl import paths

Generator = Callable[[], dict[str, str]]


@dataclass(frozen=True)
class Area:
    name: str
    generate: Generator
    # Directories this area owns entirely: files in them that the generator no longer produces
    # are stale and get removed (and reported by --check).
    owned_dirs: tuple[str, ...] = ()


_AREAS: dict[str, Area] = {}


def register(area: Area) -> None:
    _AREAS[area.name] = area


def areas() -> dict[str, Area]:
    # Import the areas lazily so `obsctl --help` stays fast and one broken area names itself.
    from obsctl import areas as _  # noqa: F401  (registers every area)

    return dict(_AREAS)


def render(names: list[str] | None = None) -> dict[str, str]:
    selected = areas()
    if names:
        unknown = sorted(set(names) - set(selected))
        if unknown:
            raise KeyError(f"unknown area(s): {', '.join(unknown)}; known: {', '.join(sorted(selected))}")
        selected = {n: selected[n] for n in names}
    files: dict[str, str] = {}
    for area in selected.values():
        for rel, content in area.generate().items():
            if rel in files:
                raise ValueError(f"{rel} is produced twice (area {area.name})")
            files[rel] = content
    return files


def stale_files(names: list[str] | None, files: dict[str, str]) -> list[str]:
    selected = areas()
    if names:
        selected = {n: selected[n] for n in names}
    stale = []
    for area in selected.values():
        for owned in area.owned_dirs:
            root = paths.REPO / owned
            if not root.exists():
                continue
            for p in sorted(root.rglob("*")):
                rel = p.relative_to(paths.REPO).as_posix()
                if p.is_file() and rel not in files:
                    stale.append(rel)
    return stale


def drift(files: dict[str, str], stale: list[str]) -> list[str]:
    """Paths whose committed content differs from what the sources generate."""
    out = []
    for rel, content in sorted(files.items()):
        p = paths.REPO / rel
        if not p.exists() or p.read_text(encoding="utf-8") != content:
            out.append(rel)
    return out + stale


def write(files: dict[str, str], stale: list[str]) -> list[str]:
    """Write atomically file by file (temp file + rename); returns the paths that changed."""
    changed = []
    for rel, content in sorted(files.items()):
        p = paths.REPO / rel
        if p.exists() and p.read_text(encoding="utf-8") == content:
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.chmod(tmp, 0o644)
        Path(tmp).replace(p)
        changed.append(rel)
    for rel in stale:
        (paths.REPO / rel).unlink()
        changed.append(rel)
    return changed
