"""Fixtures for the tool table and the tools built from it (tools/versions.yaml, obsctl.tools)."""

from __future__ import annotations

from pathlib import Path

import pytest

from obsctl import tools
from tests.tools.fake_go_proxy import LIB, SERVER, VERSION, publish


@pytest.fixture(scope="session")
def table() -> dict[str, tools.Tool]:
    return tools.load_table()


@pytest.fixture(scope="session")
def built(table: dict[str, tools.Tool]) -> dict[str, tools.Tool]:
    """Every tool of the table, built for real when missing (make setup and the session normally have)."""
    assert tools.build(table=table, stage="all") == 0, "obsctl.tools build failed: see its output above"
    return table


@pytest.fixture
def go_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if tools.go_binary() is None:
        pytest.fail(f"no `go` on PATH: {tools.GO_INSTALL_HINT}")
    proxy = tmp_path / "proxy"
    publish(
        proxy,
        LIB,
        {"go.mod": f"module {LIB}\n\ngo 1.22\n", "lib.go": 'package lib\n\nconst Version = "3.1.4"\n'},
    )
    publish(
        proxy,
        SERVER,
        {
            "go.mod": f"module {SERVER}\n\ngo 1.22\n\nrequire {LIB} {VERSION}\n\nreplace {LIB} => ../lib\n",
            "main.go": (
                'package main\n\nimport (\n\t"fmt"\n\n\tlib "example.invalid/lib/v3"\n)\n\n'
                'func main() { fmt.Println("fakeserver Version:", lib.Version) }\n'
            ),
        },
    )
    monkeypatch.setenv("GOPROXY", f"file://{proxy}")
    monkeypatch.setenv("GOSUMDB", "off")
    monkeypatch.setenv("GOTOOLCHAIN", "local")
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "modcache"))
    monkeypatch.setenv("GOFLAGS", "-modcacherw -buildvcs=false")
    monkeypatch.setenv("OBSCTL_TOOLS_CACHE", str(tmp_path / "cache"))
    return tmp_path
