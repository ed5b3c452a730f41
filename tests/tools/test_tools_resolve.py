"""How `python -m obsctl.tools` finds a tool: on PATH at the pinned version, or not at all without Go.

Each test runs the real CLI in a subprocess with its own table, cache and PATH; nothing is mocked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from obsctl import tools


def fake_entry(name: str, version: str, extra: str = "") -> str:
    """One tool of a table: example.invalid/<name>, whose binary prints `<name> version <version>`."""
    return (
        f"  {name}:\n"
        f"    module: example.invalid/{name}\n"
        f"    packages: [example.invalid/{name}/cmd/{name}]\n"
        f"    version: v{version}\n"
        f"    binaries: [{name}]\n"
        f"    used_by: the tests of obsctl.tools\n"
        f'    version_check: {{command: ["{{bin}}", "--version"], regex: \'{name} version (\\S+)\'}}\n'
        f"{extra}"
    )


def one_tool_table(extra: str = "") -> str:
    """A table of one tool, faketool v1.2.3, with `extra` lines in its entry."""
    return "tools:\n" + fake_entry("faketool", "1.2.3", extra)


def _fake_binary(directory: Path, version: str, name: str = "faketool") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / name
    script.write_text(f"#!/bin/sh\necho '{name} version {version} (fake)'\n")
    script.chmod(0o755)
    return script


def _run(
    args: list[str], *, path: str, cache: Path, table: Path | None = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("OBSCTL_TOOLS_TABLE", "OBSCTL_TOOLS_CACHE")}
    env.update(PATH=path, OBSCTL_TOOLS_CACHE=str(cache))
    if table is not None:
        env["OBSCTL_TOOLS_TABLE"] = str(table)
    return subprocess.run(
        [sys.executable, "-m", "obsctl.tools", *args],
        cwd=tools.REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _path_without_go(tmp_path: Path) -> str:
    """A PATH without `go` (or anything else: the fake binaries are run by their #!/bin/sh line)."""
    bare = tmp_path / "bare-bin"
    bare.mkdir(exist_ok=True)
    return str(bare)


@pytest.fixture
def fake_table(tmp_path: Path) -> Path:
    table = tmp_path / "versions.yaml"
    table.write_text(one_tool_table())
    return table


def test_binary_on_path_with_the_pinned_version_is_used(tmp_path: Path, fake_table: Path) -> None:
    script = _fake_binary(tmp_path / "onpath", "1.2.3")
    cache = tmp_path / "cache"
    path = f"{script.parent}{os.pathsep}{os.environ['PATH']}"  # go is on PATH too: it must not be used

    built = _run(["build"], path=path, cache=cache, table=fake_table)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "faketool v1.2.3: ok (on PATH at v1.2.3" in built.stdout
    assert str(script) in built.stdout
    assert not (cache / "faketool-v1.2.3").exists(), "it built although the binary on PATH matches"
    assert (cache / "faketool-v1.2.3.on-path.json").is_file()

    where = _run(["path", "faketool"], path=path, cache=cache, table=fake_table)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip() == str(script)

    listed = _run(["list"], path=path, cache=cache, table=fake_table)
    assert listed.stdout.split()[:3] == ["faketool", "v1.2.3", "on"]

    again = _run(["build"], path=path, cache=cache, table=fake_table)
    assert again.returncode == 0 and "ok (on PATH" in again.stdout


def test_binary_on_path_at_another_version_is_not_used(tmp_path: Path, fake_table: Path) -> None:
    _fake_binary(tmp_path / "onpath", "1.2.4")
    cache = tmp_path / "cache"
    path = f"{tmp_path / 'onpath'}{os.pathsep}{_path_without_go(tmp_path)}"

    where = _run(["path", "faketool"], path=path, cache=cache, table=fake_table)
    assert where.returncode == 1
    assert "faketool v1.2.3 (faketool) is not built: run `make setup`" in where.stderr

    built = _run(["build"], path=path, cache=cache, table=fake_table)
    assert built.returncode == 1
    assert "faketool v1.2.3: missing" in built.stdout


def test_on_path_can_be_refused_by_the_table(tmp_path: Path) -> None:
    table = tmp_path / "versions.yaml"
    table.write_text(one_tool_table("    on_path: false\n"))
    _fake_binary(tmp_path / "onpath", "1.2.3")
    path = f"{tmp_path / 'onpath'}{os.pathsep}{_path_without_go(tmp_path)}"
    built = _run(["build"], path=path, cache=tmp_path / "cache", table=table)
    assert built.returncode == 1
    assert "missing" in built.stdout


def test_without_go_build_says_what_to_install_and_builds_nothing(tmp_path: Path) -> None:
    """The real table, an empty cache and a PATH without `go`: every tool is missing."""
    cache = tmp_path / "cache"
    result = _run(["build"], path=_path_without_go(tmp_path), cache=cache)
    assert result.returncode != 0
    assert tools.GO_INSTALL_HINT in result.stderr
    assert "install Go >= 1.26 (https://go.dev/doc/install) and re-run make setup" in result.stderr
    for tool in tools.of_stage("setup"):
        assert f"{tool.name} {tool.version}: missing, not built (no `go` on PATH)" in result.stdout
    for tool in tools.of_stage("tests"):  # left to the tests that use them
        assert f"{tool.name} {tool.version}:" not in result.stdout
    leftovers = [p.name for p in cache.iterdir()] if cache.exists() else []
    assert not [n for n in leftovers if not n.endswith(".on-path.json")], leftovers


def test_without_go_a_tool_on_path_is_enough(tmp_path: Path, fake_table: Path) -> None:
    """Exit non-zero only if a tool is missing."""
    script = _fake_binary(tmp_path / "onpath", "1.2.3")
    path = f"{script.parent}{os.pathsep}{_path_without_go(tmp_path)}"
    result = _run(["build"], path=path, cache=tmp_path / "cache", table=fake_table)
    assert result.returncode == 0, result.stdout + result.stderr
    assert tools.GO_INSTALL_HINT not in result.stderr


def test_tool_path_error_names_the_tool_and_make_setup(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OBSCTL_TOOLS_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("PATH", _path_without_go(tmp_path))
    with pytest.raises(
        tools.ToolMissing, match=r"prometheus v0\.316\.0 \(promtool\) is not built: run `make setup`"
    ):
        tools.tool_path("promtool")
    with pytest.raises(tools.ToolError, match="unknown tool 'nosuchtool'"):
        tools.tool_path("nosuchtool")


def test_interrupted_build_does_not_count(tmp_path: Path, monkeypatch) -> None:
    """A temporary build directory (what an interrupted build leaves) is never taken as built."""
    monkeypatch.setenv("OBSCTL_TOOLS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", _path_without_go(tmp_path))
    sloth = tools.load_table()["sloth"]
    half = tmp_path / "cache" / f".tmp-sloth-{sloth.version}-x" / "bin"
    half.mkdir(parents=True)
    (half / "sloth").write_text("#!/bin/sh\necho v0.16.0\n")
    (half / "sloth").chmod(0o755)
    # and a final directory without its stamp (written last, just before the rename)
    final = tools.tool_dir(sloth) / "bin"
    final.mkdir(parents=True)
    (final / "sloth").write_text("#!/bin/sh\necho v0.16.0\n")
    (final / "sloth").chmod(0o755)
    with pytest.raises(tools.ToolMissing):
        tools.tool_path("sloth")


TWO_STAGES = one_tool_table() + fake_entry("clustertool", "0.1.0", "    stage: tests\n")


def test_build_takes_the_setup_stage_unless_told_another(tmp_path: Path) -> None:
    table = tmp_path / "versions.yaml"
    table.write_text(TWO_STAGES)
    onpath = tmp_path / "onpath"
    _fake_binary(onpath, "1.2.3")
    _fake_binary(onpath, "0.1.0", "clustertool")
    path = f"{onpath}{os.pathsep}{_path_without_go(tmp_path)}"
    cache = tmp_path / "cache"

    setup = _run(["build"], path=path, cache=cache, table=table)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "faketool v1.2.3: ok" in setup.stdout and "clustertool" not in setup.stdout

    tests_stage = _run(["build", "--stage", "tests"], path=path, cache=cache, table=table)
    assert tests_stage.returncode == 0, tests_stage.stdout + tests_stage.stderr
    assert "clustertool v0.1.0: ok" in tests_stage.stdout and "faketool" not in tests_stage.stdout

    everything = _run(["build", "--stage", "all"], path=path, cache=cache, table=table)
    assert [line.split(":")[0] for line in everything.stdout.splitlines()] == [
        "faketool v1.2.3",
        "clustertool v0.1.0",
    ]
    named = _run(["build", "clustertool"], path=path, cache=cache, table=table)  # a name wins over stages
    assert "clustertool v0.1.0: ok" in named.stdout


def test_a_tests_stage_tool_names_who_builds_it(tmp_path: Path, monkeypatch) -> None:
    table = tmp_path / "versions.yaml"
    table.write_text(TWO_STAGES)
    monkeypatch.setenv("OBSCTL_TOOLS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", _path_without_go(tmp_path))
    with pytest.raises(
        tools.ToolMissing, match=r"clustertool v0\.1\.0 \(clustertool\) is not built: the tests"
    ):
        tools.tool_path("clustertool", tools.load_table(table))


def test_an_unknown_stage_is_refused_naming_the_tool(tmp_path: Path) -> None:
    table = tmp_path / "versions.yaml"
    table.write_text(one_tool_table("    stage: nightly\n"))
    with pytest.raises(
        tools.ToolError, match=r"tool 'faketool': stage 'nightly' is not one of \('setup', 'tests'\)"
    ):
        tools.load_table(table)
