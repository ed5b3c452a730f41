"""`build: module` for a module whose go.mod replaces siblings with local directories (Kubernetes, etcd).

The real `go` builds a tool from a Go module proxy made of files in tmp_path (GOPROXY=file://):
`example.invalid/server/v3` (a main package, so `go install` names it `server`) whose go.mod says
`replace example.invalid/lib/v3 => ../lib`, as etcd's server module does, and `example.invalid/lib/v3`
itself. The table pins the replaced module with `local_replace_version` and renames the binary.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from obsctl import tools
from tests.tools.fake_go_proxy import LIB, VERSION

TABLE = """\
tools:
  fakeserver:
    module: example.invalid/server/v3
    packages: [example.invalid/server/v3]
    version: v3.1.4
    build: module
{extra}    binaries: [fakeserver]
    used_by: the tests of obsctl.tools
    version_check: {{command: ["{{bin}}"], regex: 'fakeserver Version: (\\S+)'}}
"""
PINNED = '    local_replace_version: "{version}"\n    rename: {server: fakeserver}\n'


def _table(tmp_path: Path, extra: str) -> dict[str, tools.Tool]:
    path = tmp_path / "versions.yaml"
    path.write_text(TABLE.format(extra=extra))
    return tools.load_table(path)


def test_local_replaces_are_pinned_to_the_published_release_and_the_binary_renamed(go_env: Path) -> None:
    table = _table(go_env, PINNED)
    assert tools.build(["fakeserver"], table=table) == 0
    binary = tools.tool_path("fakeserver", table)
    assert binary == tools.cache_root() / f"fakeserver-{VERSION}" / "bin" / "fakeserver"
    assert not (binary.parent / "server").exists()
    log = (tools.cache_root() / f"fakeserver-{VERSION}.build.log").read_text()
    assert f"-replace={LIB}={LIB}@{VERSION}" in log
    stamp = json.loads((binary.parents[1] / tools.STAMP).read_text())
    assert stamp["inputs"]["local_replace_version"] == VERSION
    assert stamp["inputs"]["rename"] == {"server": "fakeserver"}


def test_without_local_replace_version_the_build_names_the_directory_and_the_field(
    go_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = _table(go_env, "    rename: {server: fakeserver}\n")
    assert tools.build(["fakeserver"], table=table) == 1
    out = capsys.readouterr().out
    assert f"replaces {LIB} with a local directory (../lib)" in out, out
    assert "local_replace_version: VERSION" in out and "tools/versions.yaml" in out, out
    assert not os.path.exists(tools.cache_root() / f"fakeserver-{VERSION}")


def test_table_refuses_local_replace_version_outside_build_module(tmp_path: Path) -> None:
    path = tmp_path / "versions.yaml"
    path.write_text(TABLE.format(extra=PINNED).replace("build: module", "build: go-install"))
    with pytest.raises(
        tools.ToolError, match=r"versions.yaml: tool 'fakeserver': local_replace_version is for build: module"
    ):
        tools.load_table(path)


def test_table_refuses_a_rename_to_an_unknown_binary(tmp_path: Path) -> None:
    path = tmp_path / "versions.yaml"
    path.write_text(TABLE.format(extra="    rename: {server: etcd}\n"))
    with pytest.raises(
        tools.ToolError, match=r"rename target 'etcd' is not one of its binaries \['fakeserver'\]"
    ):
        tools.load_table(path)


def test_the_new_fields_leave_the_other_tools_digests_alone(table: dict[str, tools.Tool]) -> None:
    # Only an entry that sets them has them among its inputs: the existing builds stay valid.
    for name, tool in table.items():
        inputs = tools.Tool.inputs(tool)
        assert ("local_replace_version" in inputs) == bool(tool.local_replace_version), name
        assert ("rename" in inputs) == bool(tool.rename), name
