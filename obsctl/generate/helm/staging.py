"""A chart directory whose generated inputs are the ones `obsctl generate` is about to write.

The chart reads alerts/, dashboards/generated/ and collector/ through symlinks. `obsctl generate`
renders every area in memory before writing anything, so rendering the chart's examples from the
files on disk would use the previous generation: a changed SLO would need two `make generate` runs
before `make check` passes. Instead the helm area stages a copy of the chart in a temporary
directory where each symlink becomes a real directory holding the fresh output of the areas it
needs, as the engine hands it over (files those areas no longer produce are left out, files they
do not generate are copied as-is).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from obsctl import paths
from obsctl.generate.area import Upstream


def linked_dirs(chart_dir: Path) -> dict[str, str]:
    """{name inside the chart: repository-relative directory} of the chart's top-level symlinks."""
    out = {}
    for entry in sorted(chart_dir.iterdir()):
        if entry.is_symlink():
            target = (chart_dir / os.readlink(entry)).resolve()
            out[entry.name] = target.relative_to(paths.REPO.resolve()).as_posix()
    return out


def stage(chart_dir: Path, into: Path, upstream: Upstream) -> Path:
    files, stale = upstream.files, upstream.stale
    staged = into / chart_dir.name
    links = linked_dirs(chart_dir)
    shutil.copytree(
        chart_dir, staged, ignore=lambda d, names: [n for n in names if Path(d) == chart_dir and n in links]
    )
    for name, rel_dir in links.items():
        source = paths.REPO / rel_dir
        dest = staged / name
        dest.mkdir(parents=True)
        if source.is_dir():
            for path in sorted(source.rglob("*")):
                rel = path.relative_to(paths.REPO).as_posix()
                if path.is_file() and rel not in stale:
                    _write(dest / path.relative_to(source), path.read_text(encoding="utf-8"))
        prefix = rel_dir.rstrip("/") + "/"
        for rel, content in files.items():
            if rel.startswith(prefix):
                _write(dest / rel[len(prefix) :], content)
    return staged


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
