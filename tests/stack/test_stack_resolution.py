"""Which components `obsctl up --only ...` starts, and how a failing component is reported."""

from __future__ import annotations

import pytest

from obsctl.errors import ObsctlError
from obsctl.run.stack.stack import Stack
from obsctl.run.stack.wait import StackError
from tests.stack.stand_in import stand_in


def test_the_catalogs_services_are_components_in_start_order(tmp_path):
    repo, services = stand_in(tmp_path / "repo", {"gateway": "", "risk": ""}, calls={"gateway": ["risk"]})
    stack = Stack(tmp_path / "state", repo=repo, catalog=services)
    assert stack.services() == ["risk", "gateway"]  # callees first
    assert stack.order() == [
        "postgres",
        "redis",
        "tansu",
        "jaeger",
        "victorialogs",
        "otelcol",
        "risk",
        "gateway",
        "webhook",
        "alertmanager",
        "prometheus",
    ]


def test_dependencies_groups_and_aliases_are_resolved(tmp_path):
    repo, services = stand_in(tmp_path / "repo", {"gateway": "", "risk": ""}, calls={"gateway": ["risk"]})
    stack = Stack(tmp_path / "state", repo=repo, catalog=services)
    assert stack.resolve(["kafka"]) == ["tansu"]
    assert stack.resolve(["gateway"]) == ["postgres", "redis", "tansu", "gateway"]
    assert stack.resolve(["services"]) == ["postgres", "redis", "tansu", "risk", "gateway"]
    assert stack.resolve(["alertmanager", "redis"]) == ["redis", "webhook", "alertmanager"]
    # The collector needs its backends; the services do not need the collector.
    assert stack.resolve(["collector"]) == ["jaeger", "victorialogs", "otelcol"]
    assert stack.resolve(["telemetry"]) == ["jaeger", "victorialogs", "otelcol"]
    assert stack.resolve(["logs", "risk"]) == ["postgres", "redis", "tansu", "victorialogs", "risk"]
    assert stack.resolve(["alerting"]) == ["webhook", "alertmanager", "prometheus"]
    assert stack.resolve(None) == stack.order()


def test_unknown_components_are_named(tmp_path):
    repo, services = stand_in(tmp_path / "repo", {"risk": ""})
    stack = Stack(tmp_path / "state", repo=repo, catalog=services)
    with pytest.raises(ObsctlError) as excinfo:
        stack.resolve(["redis", "postgress", "channel"])
    message = str(excinfo.value)
    assert "unknown component(s): postgress, channel;" in message  # channel: not in this catalog
    assert "expected some of: postgres, redis, tansu, jaeger, victorialogs, otelcol, risk" in message


def test_a_service_that_cannot_start_is_reported_with_its_log(tmp_path, state_dir_factory):
    state = state_dir_factory()
    repo, services = stand_in(
        tmp_path / "repo", {"risk": "raise RuntimeError('risk cannot import its rules')\n"}
    )
    stack = Stack(state, repo=repo, catalog=services)
    try:
        with pytest.raises(StackError) as excinfo:
            stack.up(["risk"])
        message = str(excinfo.value)
        assert "risk exited during start-up" in message
        assert str(state / "logs" / "risk.log") in message
        assert "risk cannot import its rules" in message  # the log's tail is part of the message
        assert "risk" not in stack.running()
    finally:
        stack.down()
    assert stack.running() == {}
