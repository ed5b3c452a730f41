"""Fixtures of the rules tests: a test that runs promtool or amtool runs once per version.

    def test_x(promtool: str): run([promtool, "test", "rules", ...])   # ids promtool-2.42, promtool-3.16
    def test_y(amtool: str): run([amtool, "check-config", ...])        # ids amtool-0.35 (, amtool-0.25)

The versions are obsctl.generate.rules.checks' (what `obsctl check` runs): Debian's promtool 2.42
and Prometheus 3's from tools/versions.yaml; Alertmanager 0.35's amtool and Debian's when installed.
A missing one fails its tests naming `make setup`: CI proves both versions, it does not skip one.
"""

from __future__ import annotations

import pytest

from obsctl.generate.rules import checks

PROMTOOLS = checks.promtools()
AMTOOLS = checks.amtools()


def _binary(tool: checks.Tool) -> str:
    try:
        return tool.binary()
    except checks.MissingTool as exc:
        pytest.fail(str(exc))


@pytest.fixture(params=PROMTOOLS, ids=[t.id for t in PROMTOOLS])
def promtool_tool(request: pytest.FixtureRequest) -> checks.Tool:
    """One of the promtools the rules must pass, as obsctl.generate.rules.checks describes it."""
    tool: checks.Tool = request.param
    _binary(tool)
    return tool


@pytest.fixture
def promtool(promtool_tool: checks.Tool) -> str:
    """The path of one of the promtools the rules must pass (each test runs once per version)."""
    return _binary(promtool_tool)


@pytest.fixture(params=AMTOOLS, ids=[t.id for t in AMTOOLS])
def amtool(request: pytest.FixtureRequest) -> str:
    """The path of one of the amtools alertmanager.yml must pass."""
    return _binary(request.param)
