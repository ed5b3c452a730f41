"""The open-loop benchmark's own logic: arrivals, percentiles, the capacity search, the ratios
against the baseline, the verdicts and the JSON document (no stack, no timings)."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from obsctl.run.load import signing
from obsctl.run.load.openloop import OpenLoopResult, arrival_times, percentile
from obsctl.run.load.run import LoadResult
from obsctl.run.telemetry import bench
from obsctl.run.telemetry.capacity import Capacity, Probe, find_capacity


def probe_with_capacity(capacity: float, calls: list[float]) -> Callable[[float], Probe]:
    """A stack that answers within the SLO up to `capacity` payments/s and queues beyond it."""

    def probe(rate: float) -> Probe:
        calls.append(rate)
        p99 = 80.0 if rate <= capacity else 900.0
        return Probe(rate, min(rate, capacity), 30.0, p99, 0.0)

    return probe


def test_the_search_doubles_then_bisects_to_the_capacity() -> None:
    calls: list[float] = []
    printed: list[str] = []
    found = find_capacity(probe_with_capacity(57, calls), start=10, max_rate=1000, precision=0.1,
                          max_probes=20, progress=printed.append)  # fmt: skip
    assert calls[:4] == [10, 20, 40, 80]  # doubling while it passes
    assert calls[4] == 60  # then halfway between 40 (passed) and 80 (failed)
    assert 57 * 0.9 <= found.rate <= 57
    assert [p.rate for p in found.probes] == calls
    assert len(printed) == len(calls) and printed[0].startswith("   10.0/s: pass")
    assert any("FAIL" in line for line in printed)


def test_errors_fail_a_probe_even_when_fast() -> None:
    assert not Probe(10, 9.9, 20, 40, 0.01).passed
    assert not Probe(10, 10, 20, 200, 0.0).passed  # under 200 ms, strictly
    assert Probe(10, 10, 20, 199.9, 0.0).passed


def test_the_search_stops_at_its_ceiling_and_when_nothing_passes() -> None:
    calls: list[float] = []
    high = find_capacity(probe_with_capacity(10_000, calls), start=10, max_rate=100)
    assert high.rate == 100 and high.at_ceiling and calls == [10, 20, 40, 80, 100]
    none = find_capacity(probe_with_capacity(0, []), start=10, max_rate=100, max_probes=20)
    assert none.rate == 0 and not none.at_ceiling
    assert [p.rate for p in none.probes] == [10, 5, 2.5]  # never below start / 4
    bounded = find_capacity(probe_with_capacity(57, []), start=10, max_rate=1000, max_probes=5)
    assert len(bounded.probes) == 5 and bounded.rate == 40
    with pytest.raises(ValueError):
        find_capacity(probe_with_capacity(1, []), start=0)


def test_arrivals_are_fixed_in_advance() -> None:
    constant = arrival_times(4, 2.0, "constant", random.Random(1))
    assert constant == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    poisson = arrival_times(50, 20.0, "poisson", random.Random(7))
    assert 800 < len(poisson) < 1200  # 1000 expected
    assert poisson == sorted(poisson) and all(0 < t < 20 for t in poisson)
    gaps = [b - a for a, b in itertools.pairwise(poisson)]
    assert max(gaps) > 3 * min(gaps) * 10  # exponential gaps, not evenly spaced
    assert arrival_times(50, 20.0, "poisson", random.Random(7)) == poisson  # seeded: repeatable
    with pytest.raises(ValueError):
        arrival_times(1, 1, "bursty", random.Random(1))


def test_percentiles_are_nearest_rank_and_an_open_loop_result_counts_failures() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50 and percentile(values, 0.99) == 99 and percentile([], 0.99) == 0
    result = OpenLoopResult.from_document(
        json.loads(
            json.dumps(
                {
                    "rate": 10,
                    "duration_s": 10,
                    "sent": 100,
                    "latencies_ms": values[:98],
                    "failures_by_error": {"timeout": 2},
                }
            )
        )
    )
    assert result.failures == 2 and result.error_rate == 0.02
    assert result.payments_per_s == 9.8
    assert not bench.probe_of(result).passed
    load = bench.load_result(result)
    assert (load.requests, load.failures, load.p50_ms, load.p99_ms) == (100, 2, 49, 98)


def test_the_baseline_is_signed_with_its_own_scheme() -> None:
    args = ("secret", "1700000000", "POST", "/api/v1/payments", b"{}", "key-1")
    assert signing.signature(*args) != signing.signature(*args, scheme="v1")
    # v1 (before issue 16) did not cover the key: any key gives the same signature.
    assert signing.signature(*args[:5], "other", scheme="v1") == signing.signature(*args, scheme="v1")
    headers = signing.signed_headers("k", "secret", "POST", "/x", b"{}", "key-1", scheme="v1")
    assert headers["Idempotency-Key"] == "key-1"


def measured(config: bench.Config, cpu_ms: float, capacity: float, rss_mb: int = 90) -> bench.Measured:
    load = LoadResult(requests=1000, failures=0, rps=20.0, p50_ms=40, p95_ms=80, p99_ms=120)
    m = bench.Measured(config, load, {"payment": [rss_mb * 1024, 50 * 1024], "gateway": [60 * 1024]})
    m.cpu_s = {"payment": cpu_ms * 0.6, "gateway": cpu_ms * 0.4}  # seconds over 1000 payments
    m.capacity = Capacity(
        capacity, [Probe(capacity, capacity, 40, 150, 0.0), Probe(capacity * 2, 1, 1, 900, 0)]
    )
    return m


ALL = (*bench.CONFIGS, bench.BASELINE)


def a_round(
    plain: float, tenth: float, full: float, base: float, capacity: float = 100
) -> list[bench.Measured]:
    plain_c, tenth_c, full_c = bench.CONFIGS
    return [
        measured(plain_c, plain, capacity * 2.5),
        measured(tenth_c, tenth, capacity * 2.2),
        measured(full_c, full, capacity * 1.8),
        measured(bench.BASELINE, base, capacity),
    ]


def test_ratios_are_taken_within_each_round() -> None:
    rounds = [a_round(10, 11, 14, 25), a_round(20, 23, 28, 50, capacity=50), a_round(12, 15, 16, 24)]
    per_round = [bench.round_ratios(r) for r in rounds]
    assert [round(r["plain_cpu_vs_baseline"], 3) for r in per_round] == [0.4, 0.4, 0.5]
    assert [round(r["sampled_10_cpu_vs_plain"], 3) for r in per_round] == [1.1, 1.15, 1.25]
    assert per_round[0]["plain_capacity_vs_baseline"] == 2.5
    medians = bench.median_ratios(rounds)
    assert round(medians["plain_cpu_vs_baseline"], 3) == 0.4
    assert round(medians["sampled_10_cpu_vs_plain"], 3) == 1.15
    assert "baseline_cpu_vs_baseline" not in medians and "plain_cpu_vs_plain" not in medians


def test_open_loop_verdicts_follow_the_targets_of_issue_17() -> None:
    met = {t: (ok, figure) for t, ok, figure in bench.open_verdicts([a_round(10, 11, 14, 25)])}
    assert met["service CPU per payment at most 0.5x the baseline's"] == (True, "x0.40")
    assert met["capacity at p99 < 200 ms at least 2x the baseline's"] == (True, "x2.50")
    assert met["at 10% sampling at most 1.2x the plain CPU per payment"] == (True, "x1.10")
    assert met["< 200 MB per service process"] == (True, "largest 90 MB")
    missed = {t: ok for t, ok, _f in bench.open_verdicts([a_round(10, 13, 14, 15, capacity=100)])}
    assert missed["service CPU per payment at most 0.5x the baseline's"] is False
    assert missed["at 10% sampling at most 1.2x the plain CPU per payment"] is False
    without_baseline = {t: ok for t, ok, _f in bench.open_verdicts([a_round(10, 11, 14, 25)[:3]])}
    assert without_baseline["service CPU per payment at most 0.5x the baseline's"] is None


def test_the_json_document_has_every_figure_per_configuration_and_round() -> None:
    rounds = [a_round(10, 11, 14, 25), a_round(20, 23, 28, 50, capacity=50)]
    document = json.loads(json.dumps(bench.to_json(rounds, {"mode": "open", "rate": 20})))
    assert document["settings"] == {"mode": "open", "rate": 20}
    assert set(document["configurations"]) == {"plain", "sampled_10", "sampled_100", "baseline"}
    plain = document["configurations"]["plain"]
    for key in ("payments_per_s", "p50_ms", "p99_ms", "error_rate", "cpu_ms_per_payment", "max_rss_mb",
                "capacity_at_p99_200ms"):  # fmt: skip
        assert key in plain, key
    assert plain["cpu_ms_per_payment"] == 15.0  # (10 + 20) s over 2000 payments
    assert plain["capacity_at_p99_200ms"] == (250 + 125) / 2  # the median of the rounds
    assert plain["max_rss_mb"] == 90
    assert plain["cpu_ms_per_payment_by_service"] == {"gateway": 6.0, "payment": 9.0}
    assert [r["round"] for r in document["rounds"]] == [1, 2]
    assert document["rounds"][1]["configurations"]["baseline"]["capacity_at_p99_200ms"] == 50
    assert document["rounds"][0]["ratios"]["plain_cpu_vs_baseline"] == 0.4
    assert document["ratios"]["sampled_10_cpu_vs_plain"] == pytest.approx((1.1 + 1.15) / 2)
    assert {t["target"] for t in document["targets"]} >= {"< 200 MB per service process"}
    assert all(isinstance(t["met"], bool) for t in document["targets"])


def test_the_open_loop_report_prints_capacities_ratios_and_verdicts() -> None:
    options = bench.OpenLoop(rate=20, duration_s=20, warmup_s=5)
    text = "\n".join(bench.report_open([a_round(10, 11, 14, 25)], options))
    assert "poisson arrivals at 20/s" in text
    assert "plain_cpu_vs_baseline" in text and "x0.40" in text
    assert "250/s" in text  # plain's capacity
    assert "service CPU per payment at most 0.5x the baseline's: met (x0.40)" in text
    assert "10.0 ms" in text  # plain's CPU per payment
    assert not math.isnan(bench.combine([a_round(10, 11, 14, 25)])[0].cpu_ms_per_payment)


def test_probes_last_long_enough_for_a_p99() -> None:
    options = bench.OpenLoop(rate=20, duration_s=20, warmup_s=5, probe_s=10, probe_payments=150)
    assert bench.probe_seconds(options, 50) == 10  # 500 payments in 10 s
    assert bench.probe_seconds(options, 5) == 30  # 150 payments
    assert bench.probe_seconds(options, 1) == 40  # at most 4 x probe_s


def test_with_the_collector_the_services_keep_the_stacks_endpoint() -> None:
    _plain, tenth, _full = bench.CONFIGS
    to_sink = bench._service_variables(tenth, "http://127.0.0.1:1234")
    assert to_sink["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:1234"
    assert to_sink["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
    to_collector = bench._service_variables(tenth, None)
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in to_collector
    assert to_collector["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert "OTEL_TRACES_SAMPLER" not in bench._service_variables(bench.BASELINE, None)


def test_results_of_slices_combine_into_one_run() -> None:
    first = OpenLoopResult(20, 10, 200, [40.0] * 198, {"timeout": 2}, max_send_lag_ms=3.0)
    second = OpenLoopResult(20, 10, 200, [60.0] * 199, {"timeout": 1, "refused": 1}, max_send_lag_ms=1.0)
    both = OpenLoopResult.combined([first, second])
    assert (both.rate, both.duration_s, both.sent, len(both.latencies_ms)) == (20, 20, 400, 397)
    assert both.failures_by_error == {"timeout": 3, "refused": 1} and both.max_send_lag_ms == 3.0
    assert both.payments_per_s == 397 / 20
    with pytest.raises(ValueError):
        OpenLoopResult.combined([])


def test_interleaved_configurations_take_turns_slice_by_slice_and_are_searched_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The scheduling of measure_open with slices, with the stacks replaced by CPU counters: which
    configuration runs when, whose CPU each slice is, and when each stack stops."""
    cost_s = {"plain": 0.010, "baseline": 0.020}  # CPU seconds per payment of each "stack"
    cpu: dict[int, float] = {}
    events: list[tuple[str, ...]] = []

    def start(config: bench.Config, options: bench.OpenLoop, **kwargs: Any) -> bench._Running:
        pid = len(cpu) + 1
        cpu[pid] = 0.0
        state = tmp_path / config.name
        state.mkdir()
        return bench._Running(
            config, kwargs["label"], state, env={"NAME": config.name}, pids={"payment": pid}
        )

    def run_open_loop(
        env: dict[str, str], *, rate: float, duration_s: float, arrivals: str
    ) -> OpenLoopResult:
        name = env["NAME"]
        sent = int(rate * duration_s)
        events.append(("load", name, f"{duration_s:g}"))
        pid = 1 if name == "plain" else 2
        cpu[pid] += sent * cost_s[name]
        slow = 0 if rate <= 40 else sent // 20  # both "stacks" queue beyond 40/s
        return OpenLoopResult(rate, duration_s, sent, [50.0] * (sent - slow) + [900.0] * slow)

    real_down = bench._Running.down

    def down(self: bench._Running) -> int | None:
        events.append(("down", self.config.name))
        return real_down(self)

    monkeypatch.setattr(bench, "_start_open", start)
    monkeypatch.setattr(bench, "run_open_loop", run_open_loop)
    monkeypatch.setattr(bench, "cpu_of", lambda pids: {name: cpu[pid] for name, pid in pids.items()})
    monkeypatch.setattr(bench, "memory_of", lambda pids: {name: [50_000] for name in pids})
    monkeypatch.setattr(bench._Running, "down", down)
    monkeypatch.setattr(bench, "SETTLE_S", 0.0)
    options = bench.OpenLoop(
        rate=20, duration_s=30, warmup_s=5, slices=3, probe_s=7, probe_payments=1, start_rate=10, max_rate=80
    )
    plain, baseline = bench.CONFIGS[0], bench.BASELINE

    measured = bench.measure_open([plain, baseline], options, progress=lambda _line: None)

    measured_runs = [e for e in events if e[0] == "load" and e[2] == "10"]
    assert [name for _, name, _ in measured_runs] == [
        "plain",
        "baseline",
        "baseline",
        "plain",
        "plain",
        "baseline",
    ]
    assert events[:2] == [("load", "plain", "5"), ("load", "baseline", "5")]  # the warm-ups first
    by_name = {m.config.name: m for m in measured}
    assert by_name["plain"].load.requests == 600 and by_name["baseline"].load.requests == 600
    assert math.isclose(by_name["plain"].cpu_ms_per_payment, 10.0)
    assert math.isclose(by_name["baseline"].cpu_ms_per_payment, 20.0)
    # Searched one at a time, each stack stopped right after its own search.
    last_slice = max(i for i, e in enumerate(events) if e[0] == "load" and e[2] == "10")
    searches = events[last_slice + 1 :]
    plain_down = searches.index(("down", "plain"))
    assert {e[1] for e in searches[:plain_down]} == {"plain"}
    assert searches[-1] == ("down", "baseline") and {e[1] for e in searches[plain_down + 1 :]} == {"baseline"}
    assert by_name["plain"].capacity is not None and by_name["plain"].capacity.rate == 40
    assert not any(p.exists() for p in (tmp_path / "plain", tmp_path / "baseline"))


def test_each_lever_switches_off_one_installed_instrumentation_and_samples_nothing() -> None:
    from importlib.metadata import entry_points

    installed = {e.name for e in entry_points(group="opentelemetry_instrumentor")}
    levers = bench.INSTRUMENTATION_LEVERS
    assert {c.lever_of for c in levers} == {bench.UNSAMPLED.name}
    switched_off = []
    for lever in levers:
        variables = bench._service_variables(lever, "http://127.0.0.1:1234")
        assert variables["OTEL_TRACES_SAMPLER_ARG"] == "0"
        switched_off.append(variables["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"])
    # One lever per instrumentation the services run, each a name the agent knows.
    assert sorted(switched_off) == sorted(installed)
    assert "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS" not in bench._service_variables(bench.UNSAMPLED, None)


def test_a_levers_saving_is_its_reference_minus_itself_in_each_round_and_by_service() -> None:
    no_flask = next(c for c in bench.LEVERS if c.name == "unsampled_no_flask")
    plain = bench.CONFIGS[0]
    rounds = [
        [measured(plain, 10, 50), measured(bench.UNSAMPLED, 14, 40), measured(no_flask, 12, 45)],
        [measured(plain, 11, 50), measured(bench.UNSAMPLED, 16, 40), measured(no_flask, 15, 45)],
        [measured(plain, 10, 50), measured(bench.UNSAMPLED, 15, 40), measured(no_flask, 11, 45)],
    ]
    first = bench.round_savings(rounds[0])
    assert set(first) == {"unsampled_no_flask"}
    assert first["unsampled_no_flask"] == pytest.approx({"total": 2.0, "payment": 1.2, "gateway": 0.8})
    medians = bench.median_savings(rounds)  # totals 2, 1, 4
    assert medians["unsampled_no_flask"]["total"] == pytest.approx(2.0)
    assert medians["unsampled_no_flask"]["payment"] == pytest.approx(1.2)
    text = "\n".join(bench.report_open(rounds, bench.OpenLoop(rate=20, duration_s=20, warmup_s=5)))
    assert "what each lever saves, ms of CPU per payment against unsampled (median of the rounds)" in text
    [row] = [
        line for line in text.splitlines() if line.strip().startswith("unsampled_no_flask") and "+" in line
    ]
    assert row.split()[1:] == ["+0.80", "+1.20", "+2.00"]  # gateway, payment, total
    document = bench.to_json(rounds, {})
    assert document["savings_ms_per_payment"] == {
        "unsampled_no_flask": {"gateway": 0.8, "payment": 1.2, "total": 2.0}
    }
    assert document["rounds"][1]["savings_ms_per_payment"]["unsampled_no_flask"]["total"] == 1.0
    # Without its reference in the run a lever saves nothing that can be told.
    assert bench.round_savings([measured(no_flask, 12, 45)]) == {}


def test_the_bench_names_the_configurations_it_knows_when_given_another() -> None:
    from click.testing import CliRunner

    from obsctl.commands.bench import bench as bench_command
    from obsctl.errors import ObsctlError

    answer = CliRunner().invoke(bench_command, ["payments", "--only", "plain,unsampled_no_flsk"])
    assert isinstance(answer.exception, ObsctlError)  # obsctl's entry point prints it, no traceback
    message = str(answer.exception)
    assert "--only: unknown configuration(s): unsampled_no_flsk" in message
    assert "unsampled_no_flask" in message and "sampled_10" in message
