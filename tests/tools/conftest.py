"""Fixtures for the tool table and the tools built from it (tools/versions.yaml, obsctl.tools)."""

from __future__ import annotations

import pytest

from obsctl import tools


@pytest.fixture(scope="session")
def table() -> dict[str, tools.Tool]:
    return tools.load_table()


@pytest.fixture(scope="session")
def built(table: dict[str, tools.Tool]) -> dict[str, tools.Tool]:
    """Every tool of the table, built for real when missing (make setup has normally built them)."""
    assert tools.build(table=table) == 0, "python -m obsctl.tools build failed: see its output above"
    return table
