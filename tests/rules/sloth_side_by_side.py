"""obsctl's rules and Sloth v0.16.0's, generated from the same peer specs, run in promtool on the
same synthetic traffic: when each alert fires and resolves, per scenario.

Traffic is derived from each SLO's own queries (obsctl.generate.rules.slo_tests.fixture): 100
events a minute, 6 hours healthy (1 hour before the ticket burns), then the scenario, then healthy
again. Steady burns run at 1.13x each window pair's burn factor: over the pair's threshold, and
crossing it between two evaluations (at 1.1x, with whole-minute warm-ups, a partly filled window
reaches the threshold exactly at an evaluation, where float rounding in Sloth's thresholds decides;
test_sloth_side_by_side.py shows that difference on its own). Each tool's rules
run as one group per evaluation interval, in their order, so neither reads its recordings an
evaluation late by chance (promtool evaluates separate groups in no fixed order).

promtool prints what an expression returned when its expectation fails: the measuring expressions
expect nothing, so promtool lists, per alert, its first and last firing evaluation and how many
evaluations it fired in.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from obsctl import tools
from obsctl.errors import ObsctlError
from obsctl.generate import promql
from obsctl.generate.rules import slo_rules, windows
from obsctl.generate.rules.slo_tests import counter, fixture
from obsctl.generate.slo import load
from obsctl.generate.slo.model import SLO
from tests.rules import sloth_peer as peer

WARMUP = 360  # minutes of healthy traffic first
PER_MINUTE = Decimal(100)
OVER = Decimal("1.13")  # steady burns run 13% over a pair's factor: see the module doc
# The functions through which a counter SLI reads its series (synthetic traffic is counters).
COUNTER_FUNCTIONS = {"rate", "increase"}


@dataclass(frozen=True)
class Scenario:
    name: str
    step: int  # minutes between evaluations (samples are a minute apart)
    duration: int  # minutes of the scenario after the warm-up
    recovery: int  # minutes of healthy traffic after it
    # The error ratio during the scenario: a multiple of the budget from a pair (index into the
    # SLO's window pairs), `outage` (all errors), `idle` (no traffic) or `healthy` (no errors).
    kind: str
    pair: int | None = None
    errors_exist: bool = True  # False: the error series is never exported
    warmup: int = WARMUP  # minutes of healthy traffic before the scenario


SCENARIOS = (
    Scenario("steady burn at the page quick factor (14.4x for 30d)", 1, 120, 420, "burn", 0),
    Scenario("steady burn at the page slow factor (6x)", 5, 480, 420, "burn", 1),
    # (An hour of healthy traffic first: the long windows hold 1-3 days, a longer warm-up only
    # delays when a slow burn shows.)
    Scenario("steady burn at the ticket quick factor (3x)", 5, 960, 720, "burn", 2, warmup=60),
    Scenario("steady burn at the ticket slow factor (1x)", 5, 960, 720, "burn", 3, warmup=60),
    Scenario("short spike: 5 minutes of total outage", 1, 5, 420, "outage"),
    Scenario("total outage for 1 hour", 1, 60, 420, "outage"),
    Scenario("zero traffic for 6 hours", 5, 360, 60, "idle"),
    Scenario("never an error (no error series at all)", 5, 360, 60, "healthy", errors_exist=False),
)


@dataclass(frozen=True)
class Run:
    """When an alert fired in a scenario: minutes after the scenario's start of the first firing
    evaluation, and minutes after the scenario's end of the first evaluation it no longer fired
    (None: still firing at the end); `flapped` when it stopped and fired again."""

    fired: int | None
    resolved: int | None
    flapped: bool = False


@dataclass
class Compared:
    case: str
    excluded: dict[str, str] = field(default_factory=dict)  # SLO id -> why it is not compared
    # (scenario, alert, sloth_id, tier) -> (Sloth's run, ours)
    runs: dict[tuple[str, str, str, str], tuple[Run, Run]] = field(default_factory=dict)
    absent_fired: list[str] = field(default_factory=list)  # scenarios in which our SLIAbsent fired


def promtool() -> str:
    return str(tools.tool_path("promtool"))


def _ratio(scenario: Scenario, slo: SLO, opts: slo_rules.Options) -> Decimal | None:
    if scenario.kind == "idle":
        return None
    if scenario.kind == "outage":
        return Decimal(1)
    if scenario.kind == "healthy":
        return Decimal(0)
    assert scenario.pair is not None
    period = slo_rules.period_of(slo, opts)
    pair = slo_rules.windows_of(slo, opts).pairs[scenario.pair]
    return min(Decimal(1), OVER * pair.factor(period) * slo.error_budget)


def _inputs(slos: list[SLO], scenario: Scenario, opts: slo_rules.Options) -> list[dict[str, str]]:
    """promtool input series for every SLO of a case (SLOs reading the same series get the same)."""
    out: dict[str, str] = {}
    for slo in slos:
        ratio = _ratio(scenario, slo, opts)
        for s in fixture(slo):
            if s.role == "bad" and not scenario.errors_exist:
                continue
            phases = [
                (Decimal(0), scenario.warmup),
                (ratio, scenario.duration),
                (Decimal(0), scenario.recovery),
            ]
            out.setdefault(s.selector, counter(s.role, phases, PER_MINUTE))
    return [{"series": k, "values": v} for k, v in sorted(out.items())]


def _length(scenario: Scenario) -> int:
    return scenario.warmup + scenario.duration + scenario.recovery


def _measures(scenario: Scenario, index: int) -> list[dict[str, Any]]:
    """Per firing alert: its first and last firing evaluation and how many it fired in, labelled
    with the scenario's index (promtool's report does not name test groups)."""
    span = f"[{_length(scenario)}m:{scenario.step}m]"
    firing = 'ALERTS{alertstate="firing"}'
    return [
        {
            "expr": f'label_replace({kind}_over_time({inner}{span}), "scenario", "{index}", "", "")',
            "eval_time": f"{_length(scenario)}m",
            "exp_samples": [],
        }
        for kind, inner in (
            ("min", f"timestamp({firing})"),
            ("max", f"timestamp({firing})"),
            ("count", firing),
        )
    ]


_SAMPLE = re.compile(r"(\{[^{}]*\}) ([-+0-9.eE]+)")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _parse(output: str) -> dict[tuple[int, str, str, str, str], float]:
    """promtool's report of the measures: (scenario index, min|max|count, alert, sloth_id, tier) -> value."""
    out: dict[tuple[int, str, str, str, str], float] = {}
    kind = ""
    for line in output.splitlines():
        m = re.match(r'\s*expr: "label_replace\((min|max|count)_over_time', line)
        if m:
            kind = m.group(1)
        elif kind and line.strip().startswith("got:"):
            for labels_text, value in _SAMPLE.findall(line):
                labels = dict(_LABEL.findall(labels_text))
                alert = (
                    labels.get("alertname", ""),
                    labels.get("sloth_id", ""),
                    labels.get("sloth_severity", ""),
                )
                out[(int(labels["scenario"]), kind, *alert)] = float(value)
    return out


def _runs(
    groups: list[dict[str, Any]], slos: list[SLO], opts: slo_rules.Options, work: Path, tag: str
) -> dict[tuple[str, str, str, str], Run]:
    """Every scenario on these rules, in one promtool run per evaluation step."""
    rules = work / f"{tag}-rules.yml"
    rules.write_text(yaml.safe_dump({"groups": _sequential(groups)}, sort_keys=False))
    out: dict[tuple[str, str, str, str], Run] = {}
    for step in sorted({s.step for s in SCENARIOS}):
        indexed = [(i, s) for i, s in enumerate(SCENARIOS) if s.step == step]
        test = {
            "rule_files": [str(rules)],
            "evaluation_interval": f"{step}m",
            "tests": [
                {
                    "interval": "1m",
                    "input_series": _inputs(slos, s, opts),
                    "promql_expr_test": _measures(s, i),
                }
                for i, s in indexed
            ],
        }
        f = work / f"{tag}-{step}m.yml"
        f.write_text(yaml.safe_dump(test, sort_keys=False))
        result = subprocess.run(
            [promtool(), "test", "rules", str(f)], capture_output=True, text=True, check=False
        )
        text = result.stdout + result.stderr
        if result.returncode != 0 and "FAILED:" not in text:
            raise AssertionError(f"promtool could not run {f}: {text}")
        parsed = _parse(text)
        for i, s in indexed:
            start, end, stop = s.warmup * 60, (s.warmup + s.duration) * 60, _length(s) * 60
            for (index, kind, *alert), t0 in parsed.items():
                if index != i or kind != "min":
                    continue
                t1 = parsed[(i, "max", *alert)]
                count = parsed[(i, "count", *alert)]
                resolved = None if t1 >= stop else int(t1 + s.step * 60 - end) // 60
                flapped = count < (t1 - t0) / (s.step * 60) + 1
                out[(s.name, *alert)] = Run(int(t0 - start) // 60, resolved, flapped)
    return out


def _sequential(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules in one group per evaluation interval, in their order: promtool evaluates groups in
    no fixed order, so an alert could read its recordings one evaluation late in one run and not in
    the other; within a group, rules run in order. Both tools' rules get the same treatment."""
    merged: dict[str | None, dict[str, Any]] = {}
    for g in groups:
        target = merged.setdefault(
            g.get("interval"), {"name": f"all-{g.get('interval') or 'default'}", "rules": []}
        )
        if g.get("interval"):
            target["interval"] = g["interval"]
        target["rules"].extend(g["rules"])
    return list(merged.values())


def _sloth_groups(case: peer.Case) -> list[dict[str, Any]]:
    result = peer.run_sloth(["generate", "-i", str(case.input), *case.args])
    assert result.returncode == 0, result.stderr
    return peer.rule_groups([d for d in yaml.safe_load_all(result.stdout) if d])


def _our_groups(case: peer.Case) -> list[dict[str, Any]]:
    code, out, err = peer.run_obsctl("generate", "-i", str(case.input), *case.args)
    assert code == 0, err
    return peer.rule_groups([d for d in yaml.safe_load_all(out) if d])


def _options(case: peer.Case) -> tuple[list[SLO], slo_rules.Options]:
    args = list(case.args)
    period = args[args.index("--default-slo-period") + 1] if "--default-slo-period" in args else "30d"
    path = args[args.index("--slo-period-windows-path") + 1] if "--slo-period-windows-path" in args else None
    catalog = windows.load_catalog(Path(path)) if path else windows.DEFAULT
    slos = load.load(case.input, catalog=catalog, default_period=period).slos
    return slos, slo_rules.Options(period=period, windows=catalog)


def compare(case: peer.Case) -> Compared:
    slos, opts = _options(case)
    result = Compared(case.name)
    usable = []
    for slo in slos:
        if slo.page.enabled is False and slo.ticket.enabled is False:
            continue
        if slo.total_query is None:
            result.excluded[slo.id] = "a raw error ratio: no counters to drive"
            continue
        functions = {s.function for q in ("error", "total") for s in promql.selectors(slo.query(q, "5m"))}
        if not functions <= COUNTER_FUNCTIONS:
            result.excluded[slo.id] = "its SLI counts gauge samples, not counter increases"
            continue
        try:
            fixture(slo)
            usable.append(slo)
        except ObsctlError as exc:
            result.excluded[slo.id] = f"no synthetic traffic from its queries: {exc.problems[0].message}"
    if not usable:
        return result
    ids = {s.id for s in usable}
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as pool:
        work = Path(tmp)
        theirs_f = pool.submit(_runs, _sloth_groups(case), usable, opts, work, "sloth")
        ours_f = pool.submit(_runs, _our_groups(case), usable, opts, work, "obsctl")
        theirs, ours = theirs_f.result(), ours_f.result()
    never = Run(None, None)
    for key in sorted(set(theirs) | set(ours)):
        scenario, alert, slo_id, tier = key
        if alert == slo_rules.ABSENT_ALERT:
            result.absent_fired.append(scenario)
            continue
        if slo_id not in ids:
            continue
        result.runs[key] = (theirs.get(key, never), ours.get(key, never))
    # Alerts that fired in neither tool are "never" in both: listed per SLO and tier.
    for slo in usable:
        for tier in ("page", "ticket"):
            if getattr(slo, tier).enabled is False:
                continue
            for s in SCENARIOS:
                result.runs.setdefault((s.name, slo.alert_name, slo.id, tier), (never, never))
    return result


def cases() -> list[peer.Case]:
    """The peer cases compared: one per distinct behaviour (objective, period, windows, plugins,
    SLI shape); the others repeat one of these."""
    wanted = {
        "examples/multifile.yml",  # 99.9 and 99.99, two services reading the same series
        "examples/kubernetes-apiserver.yml",  # availability 99.9 and latency 99 (bucket subtracted)
        "examples/contrib-slo-plugins.yml",  # info labels; rule intervals of 5m
        "examples/contrib-denominator-corrected.yaml",  # the corrected SLI
        "examples/home-wifi.yml",  # gauges: excluded, with the reason
        "integration/28d",  # 28d period
        "integration/custom-windows-7d",  # 7d with Sloth's windows file
    }
    return [c for c in peer.example_cases() + peer.integration_cases() if c.name in wanted]


def _text(value: int | None, none: str) -> str:
    if value is None:
        return none
    return f"{value} min" if value < 120 else f"{value / 60:.1f} h"


def _span(values: list[int | None], none: str) -> str:
    """The values as a range (or one value), with how many are `none` (never fired, still firing)."""
    if not values:
        return "-"
    known = sorted(v for v in values if v is not None)
    missing = len(values) - len(known)
    if not known:
        return none
    text = (
        _text(known[0], none)
        if known[0] == known[-1]
        else f"{_text(known[0], none)} to {_text(known[-1], none)}"
    )
    return text + (f" ({missing} {none})" if missing else "")


def later(ours: int | None, theirs: int | None) -> bool:
    """`ours` is later than `theirs` (None: never fired, or still firing: the latest)."""
    if theirs is None:
        return False
    return ours is None or ours > theirs


def table(results: Iterable[Compared]) -> str:
    """The docs/slos.md table: per scenario and tier, when the alerts fire and resolve with Sloth's
    rules and with obsctl's, and how many of obsctl's fire or resolve later."""
    rows: dict[tuple[str, str], list[tuple[Run, Run]]] = {}
    for r in results:
        for (scenario, _, _, tier), pair in r.runs.items():
            rows.setdefault((scenario, tier), []).append(pair)
    lines = [
        "| scenario | tier | alerts | fires after (Sloth) | fires after (obsctl) | resolves after (Sloth) "
        "| resolves after (obsctl) | obsctl later |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    order = {s.name: i for i, s in enumerate(SCENARIOS)}
    for (scenario, tier), pairs in sorted(rows.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        fired = [p for p in pairs if p[0].fired is not None or p[1].fired is not None]
        n_later = sum(1 for a, b in pairs if later(b.fired, a.fired) or later(b.resolved, a.resolved))
        lines.append(
            f"| {scenario} | {tier} | {len(pairs)} "
            f"| {_span([a.fired for a, _ in pairs], 'never')} "
            f"| {_span([b.fired for _, b in pairs], 'never')} "
            f"| {_span([a.resolved for a, _ in fired], 'still firing')} "
            f"| {_span([b.resolved for _, b in fired], 'still firing')} | {n_later} |"
        )
    return "\n".join(lines)


def compared_specs(results: Iterable[Compared]) -> str:
    """Which peer specs and SLOs the table covers, and which SLOs it leaves out and why."""
    lines = []
    for r in results:
        ids = sorted({slo_id for (_, _, slo_id, _) in r.runs})
        text = f"- `{r.case}`: " + (", ".join(f"`{i}`" for i in ids) if ids else "nothing compared")
        if r.excluded:
            text += "; not compared: " + ", ".join(f"`{k}` ({v})" for k, v in sorted(r.excluded.items()))
        lines.append(text)
    return "\n".join(lines)
