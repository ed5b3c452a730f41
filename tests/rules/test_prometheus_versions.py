"""What Prometheus 2.x and 3.x read differently, shown on both, and the generated rules free of it.

docs/slos.md ("Prometheus 2.x and 3.x") lists the differences and what the rules do about each:
classic-histogram `le` bounds normalised on scrape, left-open range and lookback windows, regex `.`
matching newlines, functions and names that exist in one version only. The promtool tests of
tests/rules/promtool/ that would fail on Prometheus 3 without the fixes are
notification-delivery-buckets.yml (le) and the newline case of dependency-error-rate-high.yml;
test_them_without_the_fixes below shows that they do.
"""

from __future__ import annotations

import http.server
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest

import catalog
from obsctl import paths
from obsctl.generate import promql
from obsctl.generate.rules import checks, layout
from obsctl.run.stack import prometheus as prometheus_module
from obsctl.run.stack.prometheus import static_job
from tests.rules.helpers import rules, run


def _major(tool: checks.Tool) -> int:
    return int(tool.version.split(".")[0])


# --- le: Prometheus 3 stores every classic-histogram bound as a float ----------------------------


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        # Go's strconv.FormatFloat(f, 'g', -1, 64) with ".0" added to a whole number, as
        # Prometheus 3's model/labels.FormatOpenMetricsFloat writes them (checked against Go).
        ("30", "30.0"),
        ("30.0", "30.0"),
        ("0.2", "0.2"),
        ("1", "1.0"),
        ("0", "0.0"),
        ("-3", "-3.0"),
        ("0.0001", "0.0001"),
        ("1e-5", "1e-05"),
        ("1.5e-7", "1.5e-07"),
        ("100000", "100000.0"),
        ("999999", "999999.0"),
        ("1e6", "1e+06"),
        ("1234567", "1.234567e+06"),
        ("1e22", "1e+22"),
        ("+Inf", "+Inf"),
        ("not a number", "not a number"),
    ],
)
def test_prometheus3_float_writes_bounds_as_prometheus_3_stores_them(written: str, stored: str) -> None:
    assert checks.prometheus3_float(written) == stored


def _exposed_bounds(metric: catalog.Metric) -> set[str]:
    """The `le` values of a catalog histogram as the services expose it (prometheus_client)."""
    registry = CollectorRegistry()
    kwargs: dict[str, Any] = {"buckets": list(metric.buckets)} if metric.buckets else {}
    histogram = Histogram(metric.name, metric.help, list(metric.labels), registry=registry, **kwargs)
    histogram.labels(*(["x"] * len(metric.labels))).observe(0.1)
    text = generate_latest(registry).decode()
    return set(re.findall(rf'^{metric.name}_bucket{{.*?le="([^"]*)"', text, flags=re.M))


def test_every_bound_a_rule_selects_is_one_the_service_exposes_and_prometheus_3_stores() -> None:
    cat = catalog.default()
    selected = set()
    for f, _, rule in rules():
        for sel in promql.selectors(rule["expr"]):
            for label, op, value in sel.matchers:
                if label == "le" and op == "=":
                    selected.add((f.name, sel.name, value))
    assert {v for _, _, v in selected} >= {"0.2", "30.0"}  # the latency and freshness SLIs
    for file, name, value in sorted(selected):
        exposed = _exposed_bounds(cat.metric(name.removesuffix("_bucket")))
        assert value in exposed, f"{file}: {name}{{le={value!r}}}: the service exposes {sorted(exposed)}"
        assert checks.prometheus3_float(value) == value, f"{file}: Prometheus 3 stores le={value!r} otherwise"


class _Exposition(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def exposition() -> Iterator[str]:
    """A /metrics of two histograms: one with bounds as Go clients write them (le="30"), one as the
    notification service writes them (prometheus_client: le="30.0"). Yields host:port."""
    registry = CollectorRegistry()
    metric = catalog.default().metric("notification_delivery_latency_seconds")
    Histogram(
        metric.name, metric.help, ["event_type"], registry=registry, buckets=list(metric.buckets)
    ).labels("payment.succeeded").observe(3)
    go_style = (
        "# HELP go_style_seconds Bounds as Go clients write them.\n"
        "# TYPE go_style_seconds histogram\n"
        'go_style_seconds_bucket{le="0.2"} 1\n'
        'go_style_seconds_bucket{le="30"} 2\n'
        'go_style_seconds_bucket{le="+Inf"} 2\n'
        "go_style_seconds_sum 3\n"
        "go_style_seconds_count 2\n"
    )
    handler = type("Handler", (_Exposition,), {"body": go_style.encode() + generate_latest(registry)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


PROMETHEUS_SERVERS = {"prometheus-2.42": "/usr/bin/prometheus", "prometheus-3.16": None}


@pytest.mark.parametrize("server", sorted(PROMETHEUS_SERVERS))
def test_prometheus_3_normalises_scraped_bounds_and_2_keeps_them_as_written(
    server: str,
    exposition: str,
    prometheus_server: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    binary = PROMETHEUS_SERVERS[server]
    if binary is not None:
        if not Path(binary).exists():
            pytest.fail(
                f"{binary} (Debian's Prometheus 2.42, package prometheus) is missing: run `make setup`"
            )
        monkeypatch.setattr(prometheus_module, "prometheus_binary", lambda: binary)
    prom = prometheus_server(scrape_configs=[static_job("exposition", [exposition])], interval="1s")
    deadline = time.monotonic() + 60
    while not prom.query("go_style_seconds_bucket") or not prom.query(
        "notification_delivery_latency_seconds_bucket"
    ):
        assert time.monotonic() < deadline, "no scrape within 60 s"
        time.sleep(0.5)

    def bounds(name: str) -> set[str]:
        return {s["metric"]["le"] for s in prom.query(name)}

    go_style = {"0.2", "30.0", "+Inf"} if server == "prometheus-3.16" else {"0.2", "30", "+Inf"}
    assert bounds("go_style_seconds_bucket") == go_style
    # What the notification SLO selects is stored the same on both versions.
    assert "30.0" in bounds("notification_delivery_latency_seconds_bucket")
    assert prom.query('notification_delivery_latency_seconds_bucket{le="30.0"}')


# --- range and lookback windows: left-open on Prometheus 3 ---------------------------------------


def test_windows_are_closed_on_prometheus_2_and_left_open_on_3(
    tmp_path: Path, promtool_tool: checks.Tool
) -> None:
    """With a sample a minute and evaluation on the minute, a 5m window holds 6 samples on 2.x and
    5 on 3.x; a 5m-old sample is still the current value on 2.x and gone on 3.x; samples every 5
    minutes leave rate(x[5m]) nothing on 3.x. The tests and rules avoid depending on this."""
    left_open = _major(promtool_tool) >= 3
    test = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": "x", "values": "0+1x10"}],
                "promql_expr_test": [
                    {
                        "expr": "count_over_time(x[5m])",
                        "eval_time": "10m",
                        "exp_samples": [{"labels": "{}", "value": 5 if left_open else 6}],
                    },
                    {
                        "expr": "x",
                        "eval_time": "15m",
                        "exp_samples": [] if left_open else [{"labels": "x", "value": 10}],
                    },
                ],
            },
            {
                "interval": "5m",
                "input_series": [{"series": "y", "values": "0+300x6"}],
                "promql_expr_test": [
                    {
                        "expr": "rate(y[5m])",
                        "eval_time": "30m",
                        "exp_samples": [] if left_open else [{"labels": "{}", "value": 1}],
                    },
                    {
                        "expr": "rate(y[10m])",
                        "eval_time": "30m",
                        "exp_samples": [{"labels": "{}", "value": 1}],
                    },
                ],
            },
        ],
    }
    f = tmp_path / "windows.yml"
    f.write_text(yaml.safe_dump(test))
    result = run([promtool_tool.binary(), "test", "rules", str(f)])
    assert result.returncode == 0, result.stdout + result.stderr


# --- the checks name what differs ----------------------------------------------------------------


def test_generated_rules_read_the_same_on_both_versions() -> None:
    assert checks.check_versions() == []


@pytest.mark.parametrize(
    ("expr", "named"),
    [
        ('sum(rate(x_bucket{le="30"}[5m]))', 'le="30.0"'),
        ('sum(rate(x_bucket{le!="1"}[5m]))', 'le!="1.0"'),
        ('sum(rate(x_count{code=~"5.."}[5m]))', "matches a newline"),
        ('sum(rate(x_count{code!~"2.*"}[5m]))', "matches a newline"),
    ],
)
def test_version_differences_names_the_matcher(expr: str, named: str) -> None:
    (found,) = checks.version_differences(expr)
    assert named in found


@pytest.mark.parametrize(
    "expr",
    [
        'sum(rate(x_bucket{le="30.0"}[5m]))',
        'sum(rate(x_bucket{le="0.2"}[5m])) / sum(rate(x_bucket{le="+Inf"}[5m]))',
        'sum(rate(x_count{code=~"5[0-9][0-9]|0"}[5m]))',
        r'sum(rate(x_count{host=~"a\\.b|[.]|[^.]|[].]"}[5m]))',
    ],
)
def test_version_differences_accepts_what_reads_the_same(expr: str) -> None:
    assert checks.version_differences(expr) == []


def _rules_root(tmp_path: Path, expr: str) -> Path:
    rules_dir = tmp_path / layout.RULES_DIR
    rules_dir.mkdir(parents=True)
    doc = {"groups": [{"name": "g", "rules": [{"record": "job:x:y", "expr": expr}]}]}
    (rules_dir / "x.yml").write_text(yaml.safe_dump(doc))
    return tmp_path


@pytest.mark.parametrize(
    ("expr", "fails_on", "reason"),
    [
        ("holt_winters(x[10m], 0.5, 0.5)", "promtool-3.16", 'unknown function with name "holt_winters"'),
        (
            'sum by (job) (rate({"http.server.request.duration_count"}[5m]))',
            "promtool-2.42",
            "parse error",
        ),
    ],
    ids=["holt_winters", "utf8-name"],
)
def test_a_query_of_one_version_fails_check_rules_naming_the_other_promtool(
    tmp_path: Path, expr: str, fails_on: str, reason: str
) -> None:
    problems = checks.check_rules(_rules_root(tmp_path, expr))
    assert len(problems) == 1, problems
    (tool,) = [t for t in checks.promtools() if t.id == fails_on]
    assert problems[0].startswith(f"{tool}: check rules failed:"), problems[0]
    assert reason in problems[0]


def test_a_missing_promtool_is_a_problem_naming_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    debian = checks.debian_tool("promtool", tmp_path / "promtool", "2.42")
    assert debian.id == "promtool-2.42" and debian.path is None
    monkeypatch.setenv("OBSCTL_TOOLS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    table = checks.table_tool("promtool")
    assert table.id == "promtool-3.16" and table.path is None
    problems = checks.check_rules(promtool=[debian, table])
    assert len(problems) == 2
    assert all("make setup" in p for p in problems)
    assert problems[0].startswith("promtool 2.42 (Debian, not installed)")
    assert problems[1].startswith("promtool 3.16.0 (tools/versions.yaml, not installed)")
    with pytest.raises(checks.MissingTool, match="make setup"):
        debian.binary()


# --- the hand-written tests that show the differences fail without the fixes ---------------------


def _copy_layout(tmp_path: Path, rule_file: str, test_file: str, old: str, new: str) -> Path:
    """The rule file with `old` written back for `new`, and the test beside it as in the repository."""
    text = (paths.REPO / rule_file).read_text()
    assert new in text
    (tmp_path / rule_file).parent.mkdir(parents=True)
    (tmp_path / rule_file).write_text(text.replace(new, old))
    test = tmp_path / layout.PROMTOOL_TESTS_DIR / test_file
    test.parent.mkdir(parents=True)
    shutil.copy(paths.REPO / layout.PROMTOOL_TESTS_DIR / test_file, test)
    return test


def test_them_without_the_le_fix(tmp_path: Path, promtool_tool: checks.Tool) -> None:
    """With le="30" (what the SLO said), the freshness SLI finds no good events on either version
    (the service exposes le="30.0"; Prometheus 3 would store even a le="30" so): error ratio 1."""
    test = _copy_layout(
        tmp_path,
        f"{layout.RULES_DIR}/slo-notification-notification-delivery.yml",
        "notification-delivery-buckets.yml",
        old='le="30"',
        new='le="30.0"',
    )
    result = run([promtool_tool.binary(), "test", "rules", str(test)])
    assert result.returncode != 0
    assert 'sloth_window="5m", team="messaging", tier="2"} 1E+00' in result.stdout + result.stderr


def test_them_without_the_regex_fix(tmp_path: Path, promtool_tool: checks.Tool) -> None:
    """With 5..|0 (what the query said), a status label holding a newline counts as a failure on
    Prometheus 3 only, and DependencyErrorRateHigh fires there."""
    test = _copy_layout(
        tmp_path,
        layout.SERVICE_ALERTS_FILE,
        "dependency-error-rate-high.yml",
        old='=~"5..|0"',
        new='=~"5[0-9][0-9]|0"',
    )
    result = run([promtool_tool.binary(), "test", "rules", str(test)])
    if _major(promtool_tool) >= 3:
        assert result.returncode != 0
        assert "DependencyErrorRateHigh" in result.stdout + result.stderr
    else:
        assert result.returncode == 0, result.stdout + result.stderr
