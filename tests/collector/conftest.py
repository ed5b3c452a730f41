"""Shared fixtures: the configs as the generator renders them from observability/, and the built
collector (our distribution at the pinned release) that runs and validates them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from obsctl.generate.collector import render, source, validate


@pytest.fixture(scope="session")
def collector_source() -> source.CollectorSource:
    return source.load()


@pytest.fixture(scope="session")
def otelcol() -> Path:
    """The built collector, printing the pinned release (`make setup` builds it)."""
    try:
        return validate.collector_binary()
    except validate.CollectorUnavailable as exc:
        pytest.fail(str(exc))


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
