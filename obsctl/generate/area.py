"""What an area of `obsctl generate` is: the contract between the engine and each area package.

An area (rules, dashboards, collector, helm) owns some generated files. It exports one `AREA`: the
function that renders its files in memory, the static checks `obsctl check` runs on them, the
directories it owns entirely (a file there that it no longer renders is stale), and the areas whose
fresh output it reads. The ordered list of areas is obsctl/generate/areas.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Upstream:
    """What the areas an area `needs` produced in this run: their files and their stale paths."""

    files: Mapping[str, str]
    stale: frozenset[str]


# Renders the area's files: {path relative to the repository: content}.
Generator = Callable[[Upstream], dict[str, str]]
# A static check of committed files: the problems it found, empty when fine.
Check = Callable[[], list[str]]


@dataclass(frozen=True)
class Area:
    name: str
    generate: Generator
    checks: tuple[tuple[str, Check], ...] = ()
    owned_dirs: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    description: str = ""
