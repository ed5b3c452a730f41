"""tools/versions.yaml: it parses, every entry is complete, and the builder manifest follows it."""

from __future__ import annotations

import re

import pytest
import yaml

from obsctl import tools

VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
EXPECTED = {"otelcol", "jaeger", "prometheus", "alertmanager", "victorialogs", "sloth", "etcd", "kubernetes"}


def test_table_has_the_ecosystem_tools(table: dict[str, tools.Tool]) -> None:
    assert set(table) == EXPECTED


def test_raw_entries_name_every_field() -> None:
    raw = yaml.safe_load(tools.TABLE.read_text())["tools"]
    for name, entry in raw.items():
        for field in tools.REQUIRED_FIELDS:
            assert entry.get(field), f"{name}: {field} is empty"
        assert set(entry["version_check"]) == {"command", "regex"}, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_entry_is_complete(table: dict[str, tools.Tool], name: str) -> None:
    tool = table[name]
    assert VERSION.match(tool.version), f"{name}: {tool.version} is not an exact vX.Y.Z"
    assert tool.used_by.strip()
    assert tool.build in tools.BUILD_METHODS
    assert tool.binaries, name
    assert "{bin}" in tool.version_command, f"{name}: version_check.command must run {{bin}}"
    assert re.compile(tool.version_regex).groups >= 1
    assert tool.reports.lstrip("v")[0].isdigit()
    for package in tool.packages:
        assert package == tool.module or package.startswith(tool.module + "/"), (name, package)
    if tool.build == "otelcol-builder":
        assert tool.manifest is not None and tool.manifest.is_file()
        assert tool.packages == ("go.opentelemetry.io/collector/cmd/builder",)
    else:
        # one binary per main package, named as `go install` names it (the last element that is
        # not a major version suffix), or as the table's rename says
        installed = [re.sub(r"/v\d+$", "", p).rsplit("/", 1)[-1] for p in tool.packages]
        rename = dict(tool.rename)
        assert tool.binaries == tuple(rename.get(b, b) for b in installed), name


def test_binary_names_are_unique(table: dict[str, tools.Tool]) -> None:
    names = [b for tool in table.values() for b in tool.binaries]
    assert len(names) == len(set(names))
    # a tool name that is also a binary name must be that tool's main binary (tool_path looks up both)
    for name, tool in table.items():
        if name in names:
            assert tool.binaries[0] == name


def test_manifest_is_at_the_table_release(table: dict[str, tools.Tool]) -> None:
    otelcol = table["otelcol"]
    manifest = tools.check_manifest(otelcol)  # raises on any module at another release
    assert manifest["dist"]["name"] == otelcol.binaries[0]
    assert manifest["dist"]["version"] == otelcol.reports


def test_a_manifest_line_at_another_release_is_refused(table: dict[str, tools.Tool], tmp_path) -> None:
    otelcol = table["otelcol"]
    assert otelcol.manifest is not None
    text = otelcol.manifest.read_text().replace("transformprocessor v0.161.0", "transformprocessor v0.160.0")
    bad = tmp_path / "otelcol-builder.yaml"
    bad.write_text(text)
    other = tools.Tool(**{**otelcol.__dict__, "manifest": bad})
    with pytest.raises(tools.ToolError, match=r"transformprocessor is at v0\.160\.0"):
        tools.check_manifest(other)


def test_incomplete_entry_is_refused(tmp_path) -> None:
    table = tmp_path / "versions.yaml"
    table.write_text("tools:\n  half:\n    module: example.invalid/half\n    version: v1.0.0\n")
    with pytest.raises(tools.ToolError, match=r"half.*lacks packages, binaries, used_by, version_check"):
        tools.load_table(table)


def test_cache_root_follows_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("OBSCTL_TOOLS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tools.cache_root() == tmp_path / "xdg" / "payment-observability" / "tools"
    monkeypatch.setenv("OBSCTL_TOOLS_CACHE", str(tmp_path / "elsewhere"))
    assert tools.cache_root() == tmp_path / "elsewhere"


def test_manifest_replaces_point_at_stand_ins_of_the_same_module(table: dict[str, tools.Tool]) -> None:
    otelcol = table["otelcol"]
    assert otelcol.manifest is not None
    local = tools.local_replaces(otelcol.manifest)
    assert local, "tools/otelcol-builder.yaml has no local replaces"
    for module, directory in local.items():
        gomod = (directory / "go.mod").read_text()
        assert re.search(rf"^module {re.escape(module)}$", gomod, re.M), (module, directory)
        assert list(directory.glob("*.go")), directory
