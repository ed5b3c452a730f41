"""SLO rule generation: Sloth-compatible names, labels and counts; clean numbers; determinism."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import yaml

from obsctl import paths
from obsctl.generate import conventions
from obsctl.generate.rules import layout, slo_rules, windows
from obsctl.generate.rules.generate import generate, options
from obsctl.generate.slo import load
from obsctl.generate.slo.numbers import clean

# Sloth's recording and label names are written out in this file, not taken from
# obsctl.generate.conventions: they are the contract with Sloth that the generated rules must keep.
SLOTH_SLI = {f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")}
SLOTH_META = {
    "slo:objective:ratio",
    "slo:error_budget:ratio",
    "slo:time_period:days",
    "slo:current_burn_rate:ratio",
    "slo:period_burn_rate:ratio",
    "slo:period_error_budget_remaining:ratio",
    "sloth_slo_info",
}


def test_conventions_spell_sloths_names() -> None:
    # Sloth names a window as Prometheus prints the duration: 7d is 1w, 28d is 4w.
    assert conventions.records(windows.RECORDED_WINDOWS) == SLOTH_SLI | SLOTH_META | {
        "slo:sli_error:ratio_rate1w",
        "slo:sli_error:ratio_rate4w",
    }
    assert conventions.sli_error_record("28d") == "slo:sli_error:ratio_rate4w"
    assert conventions.sli_error_record("36h") == "slo:sli_error:ratio_rate1d12h"
    assert conventions.sli_error_window("slo:sli_error:ratio_rate1h") == "1h"
    assert conventions.sli_error_window("slo:objective:ratio") is None
    assert (conventions.LABEL_ID, conventions.LABEL_SERVICE, conventions.LABEL_SLO) == (
        "sloth_id",
        "sloth_service",
        "sloth_slo",
    )
    assert (conventions.LABEL_WINDOW, conventions.LABEL_SEVERITY) == ("sloth_window", "sloth_severity")


def _slos() -> list:
    return load.read(paths.SLOS)


def test_clean_numbers() -> None:
    assert clean(Decimal("14.4") * Decimal("0.0005")) == "0.0072"
    assert clean((Decimal(100) - Decimal("99.9")) / 100) == "0.001"
    assert clean(30) == "30"
    assert clean(0.1 + 0.2) == "0.3"


def test_burn_factors_per_period() -> None:
    assert [clean(p.factor("30d")) for p in windows.pairs("30d")] == ["14.4", "6", "3", "1"]
    assert [clean(p.factor("28d")) for p in windows.pairs("28d")] == ["13.44", "5.6", "2.8", "0.9333333333"]
    assert [clean(p.factor("7d")) for p in windows.pairs("7d")] == ["13.44", "3.5", "1.4", "0.98"]


def test_per_slo_rule_counts_match_sloth() -> None:
    opts = options()
    for slo in _slos():
        gs = slo_rules.groups([slo], opts, include_absent=False)
        by_kind = {g["name"].split("-")[2]: g["rules"] for g in gs}
        assert {r["record"] for r in by_kind["sli"]} == SLOTH_SLI
        assert {r["record"] for r in by_kind["meta"]} == SLOTH_META
        assert [r["labels"]["sloth_severity"] for r in by_kind["alerts"]] == ["page", "ticket"]
        assert sum(len(g["rules"]) for g in gs) == 8 + 7 + 2


def test_sloth_labels_on_every_recording() -> None:
    slo = _slos()[0]
    for g in slo_rules.groups([slo], options(), include_absent=False):
        for r in g["rules"]:
            if "record" in r:
                assert r["labels"]["sloth_id"] == slo.id
                assert r["labels"]["sloth_service"] == slo.service
                assert r["labels"]["sloth_slo"] == slo.name


def test_period_window_is_computed_from_raw_counters() -> None:
    slo = next(s for s in _slos() if s.id == "gateway-payment-availability")
    rules = slo_rules.sli_rules(slo, options())
    period = next(r for r in rules if r["record"] == "slo:sli_error:ratio_rate30d")
    assert "[30d]" in period["expr"] and "avg_over_time" not in period["expr"]
    assert "slo:sli_error:ratio_rate5m" not in period["expr"]


def test_alert_thresholds_are_clean_products() -> None:
    slo = next(s for s in _slos() if s.id == "gateway-refund-availability")  # 99.9
    page = slo_rules.tier_alert(slo, "page", options())
    ticket = slo_rules.tier_alert(slo, "ticket", options())
    assert page and ticket
    assert "> 0.0144)" in page["expr"] and "> 0.006)" in page["expr"]
    assert "> 0.003)" in ticket["expr"] and "> 0.001)" in ticket["expr"]
    assert "0000000" not in page["expr"] + ticket["expr"]


def test_tier_defaults_disable_and_for(tmp_path: Path) -> None:
    from obsctl.generate.sources.slo_policy import TierDefaults

    slo = _slos()[0]
    opts = options(page=TierDefaults(enabled=False), ticket=TierDefaults.model_validate({"for": "15m"}))
    assert slo_rules.tier_alert(slo, "page", opts) is None
    ticket = slo_rules.tier_alert(slo, "ticket", opts)
    assert ticket is not None and ticket["for"] == "15m"


def test_min_traffic_guard() -> None:
    slo = _slos()[0]
    page = slo_rules.tier_alert(slo, "page", options(min_request_rate=0.5))
    assert page is not None
    assert page["expr"].count(">= 0.5)") == 2 and "[1h]" in page["expr"] and "[6h]" in page["expr"]


def test_extra_labels_disable_alerts_and_recordings() -> None:
    slos = _slos()
    only_rec = slo_rules.groups(slos, options(disable_alerts=True, extra_labels={"env": "prod"}))
    assert all("record" in r and r["labels"]["env"] == "prod" for g in only_rec for r in g["rules"])
    only_alerts = slo_rules.groups(slos, options(disable_recordings=True))
    assert all("alert" in r for g in only_alerts for r in g["rules"])


def test_openslo_reader() -> None:
    slo = next(s for s in _slos() if s.service == "notification")
    assert slo.objective == Decimal("99.5")
    assert slo.period == "30d"
    assert slo.labels == {"team": "messaging", "tier": "2"}
    assert slo.query("error", "1h").startswith("(sum(rate(notification_delivery_latency_seconds_count")
    assert 'le="30.0"}[1h]' in slo.query("error", "1h")


def test_output_is_deterministic() -> None:
    assert generate() == generate()


def test_committed_files_match_the_sources() -> None:
    for rel, content in generate().items():
        assert (paths.REPO / rel).read_text() == content, f"{rel} is stale: run `make rules`"


def test_generated_slo_files_parse() -> None:
    files = generate()
    for rel, content in files.items():
        if rel.endswith(".yml"):
            assert yaml.safe_load(content), rel
    assert paths.GENERATED_HEADER in files[layout.README]


def test_alerts_holds_only_what_the_rules_area_generates() -> None:
    files = generate()
    root = paths.REPO / layout.ALERTS_DIR
    on_disk = {p.relative_to(paths.REPO).as_posix() for p in root.rglob("*") if p.is_file()}
    assert on_disk == set(files)
    listed = [
        rel for rel in files if f"`{rel.removeprefix(layout.ALERTS_DIR + '/')}`" in files[layout.README]
    ]
    assert sorted(listed) == sorted(files), "alerts/README.md does not list every file"


RAW = """\
version: "prometheus/v1"
service: "legacy"
labels: {team: platform}
slos:
  - name: "availability"
    objective: 99.5
    sli:
      raw:
        error_ratio_query: sum(rate(x_errors_total[{{.window}}])) / sum(rate(x_total[{{.window}}]))
    alerting:
      name: LegacyAvailabilityBudgetBurn
      page_alert: {disable: true}
"""


def _promtool_check(promtool: str, tmp_path: Path, content: str) -> None:
    from tests.rules.helpers import run

    out = tmp_path / "rules.yml"
    out.write_text(content)
    result = run([promtool, "check", "rules", "--lint=all", "--lint-fatal", str(out)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_period_and_option_gives_valid_rules(promtool: str, tmp_path: Path) -> None:
    from obsctl.generate.rules.yamlout import dump

    for period, name in (("30d", "30d"), ("28d", "4w"), ("7d", "1w")):
        opts = options(period=period, extra_labels={"env": "prod"}, min_request_rate=0.2)
        content = dump({"groups": slo_rules.groups(_slos(), opts)})
        assert f"slo:sli_error:ratio_rate{name}" in content
        _promtool_check(promtool, tmp_path, content)


def test_raw_sli_and_disabled_page(promtool: str, tmp_path: Path) -> None:
    from obsctl.generate.rules.yamlout import dump

    spec = tmp_path / "raw.yaml"
    spec.write_text(RAW)
    slos = load.read(spec)
    gs = slo_rules.groups(slos, options())
    alerts = [r for g in gs for r in g["rules"] if r.get("alert") == "LegacyAvailabilityBudgetBurn"]
    assert [a["labels"]["sloth_severity"] for a in alerts] == ["ticket"]
    period = next(r for g in gs for r in g["rules"] if r.get("record") == "slo:sli_error:ratio_rate30d")
    assert period["expr"].startswith("avg_over_time(slo:sli_error:ratio_rate5m{")
    _promtool_check(promtool, tmp_path, dump({"groups": gs}))
