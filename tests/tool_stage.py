"""The tools of tools/versions.yaml's `tests` stage (sloth, etcd, kubernetes): built by the test session.

`make setup` builds only the setup stage. A test that runs a tests-stage tool says so with the
marker `built_tools("etcd", "kubernetes")` (no names: every tool of the stage). When the session
collects such tests and one of their tools is not built, `start_background_build` starts
`python -m obsctl.tools build --stage tests` under `nice -n 19` at once, and `run_last` moves the
marked tests behind the others, those of the tools built first (table order) first: with a cold
cache the tools compile on the CPU time the other tests leave idle instead of before the first
test. `wait_for` holds a marked test until its tools are there, then builds whatever is still
missing in the foreground (the tools' build lock keeps the two from building one tool twice), so a
failed background build fails those tests with the build's own error.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from obsctl import tools

MARKER = "built_tools"
# The first test that waits may wait for a cold compile of Kubernetes (about 20 min on 2 busy
# cores, longer niced beside a test run): pytest-timeout's 600 s would cut it short.
WAIT_TIMEOUT_S = 5400
POLL_S = 2.0


@functools.cache
def _table() -> dict[str, tools.Tool]:
    return tools.load_table()


def stage_order() -> list[str]:
    """The tests-stage tools of tools/versions.yaml, in the order the build takes them."""
    return [t.name for t in tools.of_stage("tests", _table())]


def tools_of(item: Any) -> tuple[str, ...]:
    """The tests-stage tools a test needs (its `built_tools` marker; no names: all of them)."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return ()
    order = stage_order()
    names = tuple(marker.args) or tuple(order)
    unknown = [n for n in names if n not in _table()]
    if unknown:
        raise pytest.UsageError(f"{item.nodeid}: @{MARKER} names unknown tools {unknown}")
    return tuple(n for n in names if n in order)


def run_last(items: list[Any]) -> list[Any]:
    """The tests that need tests-stage tools behind the others, ordered by the last tool they need
    in the build's order (each group keeps its own order)."""
    order = stage_order()
    needing = [(i, tools_of(i)) for i in items]
    first = [i for i, names in needing if not names]
    later = [(max(order.index(n) for n in names), k, i) for k, (i, names) in enumerate(needing) if names]
    return first + [i for _, _, i in sorted(later, key=lambda x: (x[0], x[1]))]


def log_path() -> Path:
    return tools.cache_root() / "tests-stage.build.log"


class BackgroundBuild:
    """`python -m obsctl.tools build --stage tests` at the lowest CPU priority, in its own process group."""

    def __init__(self, pending: Sequence[tools.Tool]) -> None:
        self.pending = [t.name for t in pending]
        tools.cache_root().mkdir(parents=True, exist_ok=True)
        self._log = open(log_path(), "w")  # noqa: SIM115 - kept open while the build runs
        self.process = subprocess.Popen(
            ["nice", "-n", "19", sys.executable, "-m", "obsctl.tools", "build", "--stage", "tests"],
            cwd=tools.REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self) -> int:
        code = self.process.wait()
        self._log.close()
        return code

    def stop(self) -> None:
        """Stop it if it still runs (the session ended early); an unfinished build never counts as built."""
        if self.running():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def start_background_build(names: Sequence[str]) -> BackgroundBuild | None:
    """Start the build when one of `names` (tests-stage tools) is not built; None when all are."""
    table = tools.load_table()
    pending = tools.not_built([table[n] for n in names])
    return BackgroundBuild(pending) if pending else None


def wait_for(names: Sequence[str], background: BackgroundBuild | None) -> None:
    """Return when `names` are built: after the background build got to them, or built here."""
    table = tools.load_table()
    wanted = [table[n] for n in names]
    while background is not None and background.running() and tools.not_built(wanted):
        time.sleep(POLL_S)
    if tools.not_built(wanted):
        assert tools.build(list(names), table=table) == 0, (
            f"building {', '.join(names)} failed (background build log: {log_path()})"
        )
