"""Shared fixtures: the configs as the generator renders them from observability/."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from obsctl.generate.collector import render, source, table


@pytest.fixture(scope="session")
def collector_source() -> source.CollectorSource:
    return source.load()


@pytest.fixture(scope="session")
def pinned(collector_source: source.CollectorSource) -> table.Table:
    return table.load(collector_source.file.release)


@pytest.fixture(scope="session")
def _rendered(collector_source: source.CollectorSource) -> dict[str, dict[str, Any]]:
    return {name: build(collector_source) for name, build in render.ENVIRONMENTS.items()}


@pytest.fixture
def configs(_rendered: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A fresh deep copy per test, so negative tests can mutate freely."""
    return copy.deepcopy(_rendered)


@pytest.fixture
def kubernetes(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return configs["kubernetes"]


@pytest.fixture
def local(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return configs["local"]
