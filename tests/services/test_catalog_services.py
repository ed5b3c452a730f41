"""The catalog's services: one package per entry, their calls, budgets and schemas, and the errors a
wrong entry gives."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

import catalog
from apps.common import config
from apps.common.migrate import migration_files
from catalog import SpecError

ROOT = Path(__file__).resolve().parents[2]
CATALOG = catalog.default()


def test_every_service_has_a_package_and_every_package_an_entry() -> None:
    # apps/common holds the app factory's base (common/app.py), not a service.
    packages = {p.parent.name for p in (ROOT / "apps").glob("*/app.py")} - {"common"}
    assert packages == set(CATALOG.services)
    for name in CATALOG.services:
        tree = ast.parse((ROOT / "apps" / name / "app.py").read_text())
        factories = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "create_app"]
        assert factories, f"apps/{name}/app.py has no create_app() (its entry point)"


def test_start_order_puts_callees_before_callers() -> None:
    order = CATALOG.start_order()
    assert sorted(order) == sorted(CATALOG.services)
    for name, service in CATALOG.services.items():
        for callee in service.calls:
            assert order.index(callee) < order.index(name), (callee, name)
    assert order == ("account", "risk", "channel", "notification", "payment", "gateway")


def test_the_public_api_and_what_it_reaches() -> None:
    assert CATALOG.public_services() == ("gateway",)
    assert set(CATALOG.reachable_from("gateway")) == {"gateway", "payment", "account", "risk", "channel"}
    assert CATALOG.reachable_from("notification") == ("notification",)  # reached through Kafka only


def test_a_service_with_migrations_uses_the_database() -> None:
    owners = {service for service, _ in migration_files()}
    assert owners
    for service in owners:
        assert "database" in CATALOG.services[service].uses, service
    assert [s for s in CATALOG.start_order() if s in owners] == list(
        dict.fromkeys(s for s, _ in migration_files())
    )


def test_a_service_reads_its_budget_from_the_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUEST_BUDGET_MS", raising=False)
    for name, service in CATALOG.services.items():
        assert config.budget_ms(name) == service.budget_ms
    monkeypatch.setenv("REQUEST_BUDGET_MS", "1234")
    assert config.budget_ms("gateway") == 1234
    with pytest.raises(config.ConfigError, match="'ledger' is not in the catalog"):
        config.budget_ms("ledger")


def _write_catalog_with(tmp_path: Path, service: str, **fields: object) -> Path:
    document = yaml.safe_load(catalog.DEFAULT_PATH.read_text())
    document["services"][service].update(fields)
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_a_call_to_an_unknown_service_names_the_file_service_and_field(tmp_path: Path) -> None:
    path = _write_catalog_with(tmp_path, "payment", calls=["risk", "ledger"])
    with pytest.raises(SpecError) as caught:
        catalog.load(path)
    (problem,) = caught.value.problems
    assert (problem.file, problem.obj, problem.field) == (str(path), "service payment", "calls")
    assert problem.message.startswith("'ledger' is not a service; expected one of: gateway, payment")


def test_a_cycle_of_calls_is_an_error(tmp_path: Path) -> None:
    path = _write_catalog_with(tmp_path, "account", calls=["payment"])
    with pytest.raises(SpecError) as caught:
        catalog.load(path)
    (problem,) = caught.value.problems
    assert problem.field == "calls"
    assert "payment -> account -> payment" in problem.message


def test_a_missing_budget_is_an_error(tmp_path: Path) -> None:
    document = yaml.safe_load(catalog.DEFAULT_PATH.read_text())
    del document["services"]["risk"]["budget_ms"]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(SpecError) as caught:
        catalog.load(path)
    assert [p.field for p in caught.value.problems] == ["services.risk.budget_ms"]
