"""The one-hop benchmark (`obsctl bench hop`): its probe really runs instrumented, and its arithmetic."""

from __future__ import annotations

from obsctl.run.telemetry import hop


def test_the_probe_runs_in_each_configuration_and_reports_cpu_per_request() -> None:
    results = hop.run(requests=200, rounds=1, progress=lambda _: None)
    assert [r.name for r in results] == ["plain", "unsampled", "sampled"]
    for r in results:
        assert len(r.cpu_us) == 1 and 10 < r.best_us < 100_000, r
    # Keeping and exporting every span costs more than keeping none; no timing threshold beyond that.
    by_name = {r.name: r for r in results}
    assert by_name["sampled"].best_us > by_name["plain"].best_us


def test_the_report_splits_the_cost_into_every_request_and_sampled_requests() -> None:
    results = [
        hop.HopResult("plain", [520.0, 500.0]),
        hop.HopResult("unsampled", [650.0, 700.0]),
        hop.HopResult("sampled", [1000.0, 1100.0]),
    ]
    text = "\n".join(hop.report(results, 3000))
    assert "lowest of 2 runs" in text
    assert "unsampled                  650     1.30x   650, 700" in text
    assert "paid by every request, sampled or not: 150 us (+30% of plain)" in text
    assert "more for a sampled request (spans kept and exported): 350 us" in text
    assert "at 10% sampling one hop costs about 185 us more than plain (+37%)" in text


def test_the_levers_run_beside_unsampled_and_the_report_gives_each_against_it() -> None:
    results = hop.run(requests=200, rounds=1, progress=lambda _: None, levers=True)
    assert [r.name for r in results] == [*hop.CONFIGS, *hop.LEVERS]
    assert all(10 < r.best_us < 100_000 for r in results), results
    figures = {"plain": 500.0, "unsampled": 700.0, "sampled": 900.0,
               "unsampled_sdk_meters_on": 715.0, "unsampled_no_otlp_logs": 610.0}  # fmt: skip
    text = "\n".join(hop.report([hop.HopResult(name, [us]) for name, us in figures.items()], 3000))
    assert "  unsampled_sdk_meters_on       +15 us" in text
    assert "  unsampled_no_otlp_logs        -90 us" in text
