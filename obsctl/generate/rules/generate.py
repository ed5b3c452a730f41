"""The `rules` area: every file under alerts/ that obsctl generates, from observability/."""

from __future__ import annotations

from pathlib import Path

import catalog as catalog_mod
from obsctl import paths
from obsctl.errors import ObsctlError, Problem
from obsctl.generate.rules import service_alerts, slo_rules, slo_tests
from obsctl.generate.rules.alertmanager import render_alertmanager
from obsctl.generate.rules.layout import (
    ABSENT_FILE,
    ALERTMANAGER,
    README,
    RULES_DIR,
    SERVICE_ALERTS_FILE,
    SLO_TESTS_DIR,
    readme,
)
from obsctl.generate.rules.yamlout import dump
from obsctl.generate.slo import load
from obsctl.generate.sources import alert_routing, slo_policy
from obsctl.generate.sources import service_alerts as service_alerts_source


def options(**overrides: object) -> slo_rules.Options:
    """Generation options from observability/slo-policy.yaml, alert-routing.yaml and the catalog."""
    policy = slo_policy.default()
    d = policy.defaults
    cat = catalog_mod.default()
    base: dict[str, object] = {
        "period": d.period,
        "page": d.page,
        "ticket": d.ticket,
        "min_request_rate": d.min_request_rate,
        "overrides": policy.overrides,
        "absent_for": d.absent_for,
        "runbook_base_url": alert_routing.default().runbook_base_url,
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
                    file=str(paths.SLO_POLICY),
                    obj=f"SLO {u}",
                    field="overrides",
                    message=f"got {u!r}, no such SLO; expected the sloth_id of an SLO: "
                    f"{', '.join(s.id for s in slos)}",
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
        {"groups": [{"name": slo_rules.ABSENT_GROUP, "rules": [slo_rules.absent_alert(opts, slos)]}]},
        comment="One alert for every SLO whose SLI has no series.",
    )
    files[SERVICE_ALERTS_FILE] = dump(
        {
            "groups": service_alerts.rules(
                catalog_mod.default(),
                service_alerts_source.default(),
                alert_routing.default().runbook_base_url,
            )
        },
        comment="Service alerts (not SLOs) from observability/service-alerts.yaml.",
    )
    files[ALERTMANAGER] = render_alertmanager()
    files[README] = readme(files)
    return files
