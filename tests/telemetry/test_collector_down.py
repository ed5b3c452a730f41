"""Nothing listens at the OTLP endpoint: the API keeps answering without errors, and a service
still stops on SIGTERM within gunicorn's graceful timeout (its workers are never SIGKILLed)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

import catalog
from obsctl.run.stack.wait import free_port
from tests.telemetry.conftest import state_dir
from tests.telemetry.stack_harness import TelemetryStack

BURST = 40
CONCURRENCY = 8


@pytest.fixture(scope="module")
def stack_without_collector() -> Iterator[TelemetryStack]:
    directory = state_dir("obsctl-nocollector-")
    dead_endpoint = f"http://127.0.0.1:{free_port()}"  # a free port: connections are refused
    running = TelemetryStack.start(directory, dead_endpoint)
    yield running
    running.stop()
    if not os.environ.get("OBSCTL_KEEP_TEST_STATE"):
        shutil.rmtree(directory, ignore_errors=True)


def test_no_request_fails_while_the_collector_is_down(stack_without_collector: TelemetryStack) -> None:
    running = stack_without_collector

    def pay(i: int) -> tuple[int, float]:
        started = time.perf_counter()
        answer = running.pay(running.users[i % len(running.users)], 100 + i)
        return answer.status_code, time.perf_counter() - started

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(pay, range(BURST)))
    statuses = [status for status, _ in results]
    durations = sorted(seconds for _, seconds in results)
    print(
        f"\n{BURST} payments with the OTLP endpoint down: p50 {durations[len(durations) // 2] * 1000:.0f} ms,"
        f" max {durations[-1] * 1000:.0f} ms"
    )
    assert statuses == [201] * BURST  # error rate 0


def test_sigterm_stops_each_service_within_the_graceful_timeout(
    stack_without_collector: TelemetryStack,
) -> None:
    running = stack_without_collector
    # Spans and logs are waiting in the batch processors, which flush (and fail) on shutdown.
    assert running.pay(running.users[0], 321).status_code == 201
    for service in reversed(catalog.default().start_order()):  # callers first
        server = running.stack.server(service)
        log = running.log_path(service)
        log_size = log.stat().st_size
        started = time.perf_counter()
        assert server.stop()
        seconds = time.perf_counter() - started
        print(f"\n{service}: stopped {seconds:.2f} s after SIGTERM (gunicorn graceful timeout 10 s)")
        after = log.read_text()[log_size:]
        # gunicorn SIGKILLs the workers still running when the graceful timeout ends, and says so.
        assert "SIGKILL" not in after, after[-2000:]
        assert not server.running()
