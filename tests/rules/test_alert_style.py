"""Alert style: the mixtool/kubernetes-mixin rules, and runbook links that resolve."""

from __future__ import annotations

import re

from obsctl import paths
from tests.rules.helpers import alert_rules, groups

RUNBOOKS = paths.DOCS / "runbooks.md"


def _anchors() -> set[str]:
    out = set()
    for line in RUNBOOKS.read_text().splitlines():
        m = re.match(r"^#+\s+(.*)$", line)
        if m:
            # GitHub's anchor: lower case, spaces to dashes, punctuation dropped.
            out.add(re.sub(r"[^a-z0-9 -]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return out


def test_alert_names_are_camel_case_with_severity_and_team() -> None:
    for r in alert_rules():
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", r["alert"]), r["alert"]
        assert r["labels"]["severity"] in ("critical", "warning", "info"), r["alert"]


def test_every_alert_carries_a_team_for_routing() -> None:
    """team is a rule label (service alerts) or on every series the rule selects (SLO alerts)."""
    for f, g in groups():
        recorded_team = all("team" in r["labels"] for r in g["rules"] if "record" in r)
        for r in g["rules"]:
            if "alert" not in r:
                continue
            if "team" in r["labels"]:
                continue
            # SLO alerts select slo:* recordings (Sloth's prefix, written out as the contract), whose
            # labels (in the SLO's own file) carry team.
            slo_file = f.read_text()
            assert "slo:" in r["expr"] and recorded_team, f"{f.name}: {r['alert']} has no team"
            assert "team:" in slo_file or f.name == "slo-sli-absent.yml"


def test_summary_static_description_templated_runbook_resolves() -> None:
    anchors = _anchors()
    for r in alert_rules():
        ann = r["annotations"]
        assert ann["summary"].endswith("."), r["alert"]
        assert "{{" not in ann["summary"], r["alert"]
        assert "{{" in ann["description"], r["alert"]
        url = ann["runbook_url"]
        assert url.startswith("docs/runbooks.md#"), url
        assert url.split("#", 1)[1] == r["alert"].lower()
        assert url.split("#", 1)[1] in anchors, f"{r['alert']}: no section in docs/runbooks.md"


def test_at_most_20_rules_per_group() -> None:
    for f, g in groups():
        assert 0 < len(g["rules"]) <= 20, f"{f.name}: {g['name']} has {len(g['rules'])} rules"
