"""The payments benchmark's own arithmetic: /proc readings and the verdicts it prints."""

from __future__ import annotations

import os
import subprocess
import sys

from obsctl.run.load.run import LoadResult
from obsctl.run.telemetry import bench


def measured(config: bench.Config, rps: float, p99_ms: float, rss_mb: int) -> bench.Measured:
    load = LoadResult(
        requests=int(rps * 30), failures=0, rps=rps, p50_ms=p99_ms / 3, p95_ms=p99_ms / 2, p99_ms=p99_ms
    )
    m = bench.Measured(config, load, {"payment": [rss_mb * 1024, 40 * 1024]})
    m.cpu_s = {"payment": load.requests * 0.012}
    return m


def test_the_process_tree_includes_children_and_their_peak_memory() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(30)"], stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"up\n"  # the interpreter runs
        tree = bench.process_tree(os.getpid())
        assert child.pid in tree and os.getpid() in tree
        assert (bench.peak_rss_kb(child.pid) or 0) > 1000
        assert bench.cpu_seconds(os.getpid()) > 0
    finally:
        child.kill()
        child.wait()


def test_verdicts_follow_the_targets() -> None:
    base, tenth, full = bench.CONFIGS
    within = bench.report(
        [[measured(base, 100, 150, 120), measured(tenth, 95, 160, 150), measured(full, 80, 190, 190)]], 50, 30
    )
    text = "\n".join(within)
    assert "at 10% sampling at most 10% fewer payments/s: met (+5.0%)" in text
    assert "p99 < 200 ms, sampled_100: met (190 ms)" in text
    assert "< 200 MB per service process: met (largest 190 MB)" in text
    assert "12.0 ms" in text  # CPU per payment

    beyond = "\n".join(
        bench.report(
            [[measured(base, 100, 150, 120), measured(tenth, 85, 250, 150), measured(full, 80, 190, 230)]],
            50,
            30,
        )
    )
    assert "at 10% sampling at most 10% fewer payments/s: NOT met (+15.0%)" in beyond
    assert "p99 < 200 ms, sampled_10: NOT met (250 ms)" in beyond
    assert "< 200 MB per service process: NOT met (largest 230 MB)" in beyond


def test_rounds_are_compared_within_each_round_and_summarised_by_median() -> None:
    base, tenth, full = bench.CONFIGS
    rounds = [
        # The machine slowed down in round 2: both configurations lost, their ratio did not.
        [measured(base, 100, 150, 120), measured(tenth, 92, 160, 150), measured(full, 80, 190, 190)],
        [measured(base, 50, 400, 120), measured(tenth, 46, 420, 150), measured(full, 40, 450, 190)],
        [measured(base, 98, 140, 120), measured(tenth, 70, 170, 150), measured(full, 78, 200, 195)],
    ]
    assert [round(r, 3) for r in bench.throughput_ratios(rounds, tenth)] == [0.92, 0.92, 0.714]
    combined = bench.combine(rounds)
    assert [m.load.rps for m in combined] == [98, 70, 78]  # medians of the rounds
    assert combined[0].load.requests == (100 + 50 + 98) * 30
    assert combined[2].load.p99_ms == 200
    text = "\n".join(bench.report(rounds, 50, 20))
    # The verdict is the median of the rounds' ratios (x0.92), not the ratio of medians (70/98).
    assert "at 10% sampling at most 10% fewer payments/s: met (+8.0%)" in text
    assert "rounds: x0.920, x0.920, x0.714" in text
    assert "median of 3 rounds" in text
    assert "12.0 ms" in text  # CPU per payment over every round


def test_each_round_starts_one_configuration_later() -> None:
    names = ["plain", "unsampled", "sampled"]
    assert [bench.rotated(names, n) for n in range(4)] == [
        ["plain", "unsampled", "sampled"],
        ["unsampled", "sampled", "plain"],
        ["sampled", "plain", "unsampled"],
        ["plain", "unsampled", "sampled"],
    ]
