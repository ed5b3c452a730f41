"""The `rules` area: every file under alerts/ that obsctl generates, from observability/."""

from __future__ import annotations

from pathlib import Path

import catalog as catalog_mod
from obsctl import paths
from obsctl.errors import ObsctlError, Problem
from obsctl.generate.rules import service_alerts, slo_rules, slo_tests
from obsctl.generate.rules import thresholds as thresholds_mod
from obsctl.generate.rules.alertmanager import render_alertmanager
from obsctl.generate.rules.yamlout import dump
from obsctl.generate.slo import load

RULES_DIR = "alerts/rules"
SLO_TESTS_DIR = "alerts/slo-tests"
ALERTMANAGER = "alerts/alertmanager.yml"
ABSENT_FILE = f"{RULES_DIR}/slo-sli-absent.yml"
SERVICE_ALERTS_FILE = f"{RULES_DIR}/service-alerts.yml"


def options(**overrides: object) -> slo_rules.Options:
    """Generation options from observability/thresholds.yaml (slo_defaults) and the catalog."""
    t = thresholds_mod.default()
    d = t.slo_defaults
    cat = catalog_mod.default()
    base: dict[str, object] = {
        "period": d.period,
        "page": d.page,
        "ticket": d.ticket,
        "min_request_rate": d.min_request_rate,
        "overrides": t.slo_overrides,
        "absent_for": d.absent_for,
        "runbook_base_url": t.runbook_base_url,
        "teams": {name: svc.team for name, svc in cat.services.items()},
    }
    base.update(overrides)
    return slo_rules.Options(**base)  # type: ignore[arg-type]


def generate(slo_dir: Path | None = None) -> dict[str, str]:
    slos = load.read(slo_dir or paths.SLOS)
    opts = options()
    unknown = sorted(set(opts.overrides) - {s.id for s in slos})
    if unknown:
        raise ObsctlError(
            [
                Problem(
                    file=str(paths.THRESHOLDS),
                    field=f"slo_overrides.{u}",
                    message=f"no such SLO; expected one of {', '.join(s.id for s in slos)}",
                )
                for u in unknown
            ]
        )
    files: dict[str, str] = {}
    for slo in slos:
        rel = f"{RULES_DIR}/slo-{slo.id}.yml"
        files[rel] = dump(
            {"groups": slo_rules.groups([slo], opts, include_absent=False)},
            comment=f"SLO {slo.id} from {Path(slo.source).name} (Sloth-compatible names and labels).",
        )
        rule_files = [f"../rules/slo-{slo.id}.yml", "../rules/slo-sli-absent.yml"]
        tests = slo_tests.tests_for(slo, opts)
        if tests is not None:
            files[f"{SLO_TESTS_DIR}/{slo.id}.yml"] = dump(
                {"rule_files": rule_files, **tests},
                comment=f"promtool tests proving detection and reset times of SLO {slo.id}.",
            )
        long_tests = slo_tests.long_tests_for(slo, opts)
        if long_tests is not None:
            files[f"{SLO_TESTS_DIR}/{slo.id}.steady.yml"] = dump(
                {"rule_files": rule_files, **long_tests},
                comment=f"promtool tests: SLO {slo.id} tickets at 2x its budget, stays quiet at half of it.",
            )
    files[ABSENT_FILE] = dump(
        {"groups": [{"name": "slo-sli-absent", "rules": [slo_rules.absent_alert(opts)]}]},
        comment="One alert for every SLO whose SLI has no series.",
    )
    files[SERVICE_ALERTS_FILE] = dump(
        {"groups": service_alerts.rules(catalog_mod.default(), thresholds_mod.default())},
        comment="Service alerts (not SLOs); thresholds in observability/thresholds.yaml.",
    )
    files[ALERTMANAGER] = render_alertmanager()
    return files
