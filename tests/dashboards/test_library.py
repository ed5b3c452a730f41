"""The jsonnet library: golden output of a small example, the grid helper, and the inputs it reads."""

from __future__ import annotations

import json
import os
from itertools import combinations
from pathlib import Path

import _jsonnet
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import catalog
from obsctl import paths
from obsctl.errors import ObsctlError
from obsctl.generate.dashboards import fmt, inputs, render

# A small dashboard built with the library, the inputs it is evaluated with and its expected output.
GOLDEN = Path(__file__).parent / "golden"


def _render_example() -> str:
    ext = {k: json.dumps(v) for k, v in json.loads((GOLDEN / "example-inputs.json").read_text()).items()}
    return render.to_text(render.evaluate(GOLDEN / "example.jsonnet", ext))


def test_example_matches_golden():
    golden = GOLDEN / "example.golden.json"
    text = _render_example()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert text == golden.read_text(), (
        "run UPDATE_GOLDEN=1 pytest tests/dashboards/test_library.py and review"
    )


def _layout(sizes: list[list[tuple[int, int]]]) -> list[dict]:
    sections = ",".join(
        f"g.grid.section('s{i}', [{','.join(f'{{title: 1}} + g.grid.size({w}, {h})' for w, h in sec)}])"
        for i, sec in enumerate(sizes)
    )
    code = f"local g = import 'g.libsonnet'; g.grid.layout([{sections}])"
    out: list[dict] = json.loads(_jsonnet.evaluate_snippet("t", code, jpathdir=[str(render.LIB)]))
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.tuples(st.integers(1, 24), st.integers(1, 10)), max_size=8), min_size=1, max_size=4)
)
def test_grid_never_overlaps_and_numbers_panels(sizes):
    panels = _layout(sizes)
    assert len(panels) == sum(len(s) for s in sizes) + len(sizes)
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    for a, b in combinations([p["gridPos"] for p in panels], 2):
        assert a["x"] + a["w"] <= 24 and b["x"] + b["w"] <= 24
        separate = (
            a["x"] + a["w"] <= b["x"]
            or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"]
            or b["y"] + b["h"] <= a["y"]
        )
        assert separate, (a, b)


def test_grid_fills_rows_left_to_right():
    panels = _layout([[(12, 8), (12, 8), (8, 4)]])
    assert [p["gridPos"] for p in panels] == [
        {"x": 0, "y": 0, "w": 24, "h": 1},
        {"x": 0, "y": 1, "w": 12, "h": 8},
        {"x": 12, "y": 1, "w": 12, "h": 8},
        {"x": 0, "y": 9, "w": 8, "h": 4},
    ]


def _targets_of(dashboards, metric: str):
    for d in dashboards.values():
        for panel in d["panels"]:
            for t in panel.get("targets", []):
                if (
                    not t.get("instant")
                    and metric + "_bucket" in t["expr"]
                    and "histogram_quantile" in t["expr"]
                ):
                    yield d["uid"], panel["title"], t


def test_latency_targets_ask_for_exemplars_when_the_catalog_says_so(dashboards):
    seen = set()
    for metric in catalog.default().all_metrics():
        if metric.type != "histogram":
            continue
        for uid, title, target in _targets_of(dashboards, metric.name):
            seen.add(metric.exemplars)
            assert target.get("exemplar") is metric.exemplars, (uid, title, metric.name)
    assert seen == {True, False}


def test_thresholds_on_panels_follow_service_alerts_yaml(monkeypatch):
    real = inputs.thresholds()
    changed = json.loads(json.dumps(real))
    changed["alerts"]["ConsumerLagHigh"]["records"] = 4321
    changed["alerts"]["PostgresConnectionSaturation"]["ratio"] = 0.65

    def steps(dashboards, uid, title):
        d = next(d for d in dashboards.values() if d["uid"] == uid)
        panel = next(p for p in d["panels"] if p.get("title") == title)
        return [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]

    before = render.dashboards()
    assert steps(before, "payment-dependencies", "Consumer lag") == [
        None,
        real["alerts"]["ConsumerLagHigh"]["records"],
    ]
    monkeypatch.setattr(inputs, "thresholds", lambda: changed)
    after = render.dashboards()
    assert steps(after, "payment-dependencies", "Consumer lag") == [None, 4321]
    assert steps(after, "service-red-payment", "PostgreSQL pool usage") == [None, 0.65]


def test_slo_panels_draw_objectives_and_burn_factors_from_the_slo_sources(dashboards):
    slo = dashboards["slo-error-budgets.json"]
    page = next(p for p in slo["panels"] if p.get("title") == "Burn rate, page windows")
    values = [s["value"] for s in page["fieldConfig"]["defaults"]["thresholds"]["steps"][1:]]
    period = inputs.period()
    assert values == [w["factor"] for w in inputs.burn_windows(period) if w["severity"] == "page"]
    overview = dashboards["payments-overview.json"]
    latency = next(p for p in overview["panels"] if p.get("title") == "Payment API latency at the gateway")
    threshold = [s["value"] for s in latency["fieldConfig"]["defaults"]["thresholds"]["steps"]][1:]
    expected = [s["latency_threshold_seconds"] for s in inputs.slos() if s["id"] == "gateway-payment-latency"]
    assert threshold == expected and expected[0] is not None


def test_generated_files_are_deterministic_marked_and_committed(dashboards):
    first = render.generate()
    assert first == {f"dashboards/generated/{name}": render.to_text(d) for name, d in dashboards.items()}, (
        "two renderings differ"
    )
    committed = {p.name for p in render.GENERATED.glob("*.json")}
    assert committed == set(dashboards), "run `make dashboards`"
    for rel, text in first.items():
        assert paths.GENERATED_HEADER in json.loads(text)["description"], rel
        assert (paths.REPO / rel).read_text() == text, f"{rel} drifted: run `make dashboards`"


def test_jsonnet_sources_are_formatted():
    assert fmt.unformatted() == []
    example = (GOLDEN / "example.jsonnet").read_text()
    assert fmt.format_source(example) == example, "the golden example is not formatted as jsonnetfmt would"


def test_format_check_fails_on_unformatted_source(tmp_path, monkeypatch):
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "ok.jsonnet").write_text(fmt.format_source("{a:1}"))
    (tmp_path / "dashboards" / "bad.jsonnet").write_text("{a:1,\n\n\n\n   b :2}\n")
    (tmp_path / "dashboards" / "broken.libsonnet").write_text("{a:")
    monkeypatch.setattr(paths, "REPO", tmp_path)
    monkeypatch.setattr(paths, "DASHBOARDS", tmp_path / "dashboards")
    problems = fmt.unformatted()
    assert len(problems) == 2
    assert problems[0].startswith("dashboards/bad.jsonnet: not formatted")
    assert problems[1].startswith("dashboards/broken.libsonnet: jsonnet does not parse")


def test_jsonnet_error_names_the_file(tmp_path):
    bad = Path(render.SRC) / "does-not-exist.jsonnet"
    try:
        render.evaluate(bad, {})
    except Exception as exc:  # ObsctlError
        assert "dashboards/src/does-not-exist.jsonnet" in str(exc)
    else:
        raise AssertionError("expected an error")


def test_red_error_panels_draw_the_services_availability_budgets(dashboards):
    for name in ("gateway", "payment", "notification"):
        red = dashboards[f"service-red-{name}.json"]
        panel = next(p for p in red["panels"] if p.get("title") == "Error ratio by route")
        lines = [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"][1:]]
        slos = [s for s in inputs.slos() if s["service"] == name]
        budgets = sorted({s["error_budget"] for s in slos if not s["latency_threshold_seconds"]})
        assert lines == budgets, name
        if name == "gateway":
            assert lines, "the gateway has availability SLOs: their budgets must be drawn"


def test_an_error_in_one_source_names_that_source(tmp_path, monkeypatch):
    # Every dashboard renders in one evaluation; a failure must still point at the source that broke.
    src = tmp_path / "dashboards" / "src"
    src.mkdir(parents=True)
    (src / "fine.jsonnet").write_text("{ uid: 'fine' }\n")
    (src / "broken.jsonnet").write_text("{ uid: error 'no uid here' }\n")
    monkeypatch.setattr(paths, "REPO", tmp_path)
    monkeypatch.setattr(render, "SRC", src)
    with pytest.raises(ObsctlError) as raised:
        render.dashboards()
    assert str(raised.value).startswith("dashboards/src/broken.jsonnet: ")
    assert "no uid here" in str(raised.value)
