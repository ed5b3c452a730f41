"""Every tool of tools/versions.yaml, built for real: its binaries run and print the pinned version."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from obsctl import tools

# every tool, the tests stage's too; a cold build of everything takes long on 2 cores
pytestmark = [pytest.mark.timeout(5400), pytest.mark.built_tools()]


def _binaries() -> list[tuple[str, str]]:
    return [(name, b) for name, tool in tools.load_table().items() for b in tool.binaries]


@pytest.mark.parametrize(("name", "binary"), _binaries())
def test_binary_prints_the_pinned_version(built: dict[str, tools.Tool], name: str, binary: str) -> None:
    tool = built[name]
    path = tools.tool_path(binary, built)
    assert path.is_file() and os.access(path, os.X_OK), path
    command = [str(path) if part == "{bin}" else part for part in tool.version_command]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    output = proc.stdout + proc.stderr
    assert tool.reports.lstrip("v") in output, f"{' '.join(command)} printed: {output!r}"
    assert tools.read_version(tool, path) is not None


def test_tool_path_is_in_the_versioned_cache_or_on_path(built: dict[str, tools.Tool]) -> None:
    for name, tool in built.items():
        path = tools.tool_path(name, built)
        if path.is_relative_to(tools.cache_root()):
            assert path == tools.cache_root() / f"{name}-{tool.version}" / "bin" / tool.binaries[0]
        else:
            assert tool.on_path, f"{name} resolved to {path} outside the cache"


def test_second_build_is_cached_and_fast(built: dict[str, tools.Tool]) -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "obsctl.tools", "build", "--stage", "all"],
        cwd=tools.REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(built)
    for line in lines:
        assert ": ok (cached" in line or ": ok (on PATH" in line, line
    assert took < 1.0 * len(built), f"warm build took {took:.1f} s"


def test_list_shows_every_tool(built: dict[str, tools.Tool]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "obsctl.tools", "list"], cwd=tools.REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0
    rows = [line.split() for line in proc.stdout.splitlines()]
    assert [r[0] for r in rows] == list(built)
    for row, tool in zip(rows, built.values(), strict=True):
        assert row[1] == tool.version
        assert row[2] in ("built", "on")


def test_modsrc_of_sloth_has_its_examples(built: dict[str, tools.Tool]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "obsctl.tools", "modsrc", "sloth"],
        cwd=tools.REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    src = Path(proc.stdout.strip())
    assert src.name == f"sloth@{built['sloth'].version}"
    assert (src / "examples").is_dir()
    assert (src / "test" / "integration").is_dir()
