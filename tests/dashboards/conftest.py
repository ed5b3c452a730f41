"""Shared fixtures: the dashboards rendered once from the real sources."""

from __future__ import annotations

from typing import Any

import pytest

from obsctl.generate.dashboards import render


@pytest.fixture(scope="session")
def dashboards() -> dict[str, dict[str, Any]]:
    return render.dashboards()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Tests taking `dashboard_name` run once per generated dashboard, named in the test id.
    if "dashboard_name" in metafunc.fixturenames:
        # The committed files name them without rendering at collection time; a dashboard missing
        # from them fails test_committed_files_are_up_to_date.
        metafunc.parametrize("dashboard_name", sorted(p.name for p in render.GENERATED.glob("*.json")))
