"""The test session's build of the tests-stage tools (tests/tool_stage.py): the order of the tests,
the background build itself (the real CLI in a niced process group), and stopping it early."""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from obsctl import tools
from tests import tool_stage
from tests.tools import test_tools_local_replaces as local_replaces
from tests.tools.test_tools_resolve import TWO_STAGES


@dataclass
class FakeItem:
    name: str
    tools: tuple[str, ...] | None = None  # the built_tools marker's names; None: no marker
    nodeid: str = "fake"

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        if name != tool_stage.MARKER or self.tools is None:
            return None
        return pytest.mark.built_tools(*self.tools).mark


def test_tests_that_need_the_tools_run_last_by_the_build_order() -> None:
    order = tool_stage.stage_order()
    assert order == ["sloth", "etcd", "kubernetes"]  # tools/versions.yaml: the build's order
    a, b, c, d, e = (
        FakeItem("a"),
        FakeItem("b", ("etcd", "kubernetes")),
        FakeItem("c"),
        FakeItem("d", ("sloth",)),
        FakeItem("e", ("prometheus", "sloth")),  # a setup-stage tool is not waited for
    )
    assert [i.name for i in tool_stage.run_last([a, b, c, d, e])] == ["a", "c", "d", "e", "b"]
    assert tool_stage.run_last([a, c]) == [a, c]
    assert tool_stage.tools_of(FakeItem("all", ())) == tuple(order)  # no names: the whole stage
    assert tool_stage.tools_of(e) == ("sloth",)


def test_a_marker_naming_an_unknown_tool_is_refused() -> None:
    with pytest.raises(pytest.UsageError, match=r"fake: @built_tools names unknown tools \['slothh'\]"):
        tool_stage.tools_of(FakeItem("x", ("slothh",)))


@pytest.fixture
def two_stages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A table with faketool (setup) and clustertool (tests), an empty cache; the CLI inherits both."""
    table = tmp_path / "versions.yaml"
    table.write_text(TWO_STAGES)
    monkeypatch.setenv("OBSCTL_TOOLS_TABLE", str(table))
    monkeypatch.setenv("OBSCTL_TOOLS_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_the_background_build_builds_the_tests_stage(go_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real `go` builds a tests-stage tool from the file proxy of `go_env` (tests/tools/conftest.py)."""
    table = go_env / "versions.yaml"
    table.write_text(local_replaces.TABLE.format(extra=local_replaces.PINNED + "    stage: tests\n"))
    monkeypatch.setenv("OBSCTL_TOOLS_TABLE", str(table))

    build = tool_stage.start_background_build(["fakeserver"])
    assert build is not None and build.pending == ["fakeserver"]
    tool_stage.wait_for(["fakeserver"], build)  # returns once the background build has it
    assert not build.running() and build.wait() == 0, tool_stage.log_path().read_text()
    assert "fakeserver v3.1.4: built" in tool_stage.log_path().read_text()
    assert tools.tool_path("fakeserver").is_file()
    assert tool_stage.start_background_build(["fakeserver"]) is None  # nothing left to build


def test_a_failed_background_build_leaves_its_reason_in_the_log(two_stages: Path, monkeypatch) -> None:
    bare = two_stages / "bare"
    bare.mkdir()
    monkeypatch.setenv("PATH", f"{bare}{os.pathsep}/usr/bin{os.pathsep}/bin")  # nice, but no go
    build = tool_stage.start_background_build(["clustertool"])
    assert build is not None
    assert build.wait() == 1
    assert "clustertool v0.1.0: missing, not built (no `go` on PATH)" in tool_stage.log_path().read_text()
    with pytest.raises(AssertionError, match="building clustertool failed"):
        tool_stage.wait_for(["clustertool"], build)  # the test that needs it fails, saying so


def test_stop_ends_a_build_that_still_runs(two_stages: Path) -> None:
    """The build waits on the tool's lock, held here; stop() ends it and nothing counts as built."""
    clustertool = tools.load_table()["clustertool"]
    cache = tools.cache_root()
    cache.mkdir(parents=True)
    with open(cache / f".lock-clustertool-{clustertool.version}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        build = tool_stage.start_background_build(["clustertool"])
        assert build is not None
        assert build.running()
        build.stop()
        assert build.process.returncode is not None and build.process.returncode != 0
    assert tools.not_built([clustertool]) == [clustertool]
    assert not list(cache.glob(".tmp-clustertool-*"))
