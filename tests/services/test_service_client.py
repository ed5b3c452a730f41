"""apps/common/http.py's ServiceClient: calls through one circuit breaker run side by side.

A callee that answers only once CONCURRENT calls are in flight at the same time (a barrier in
its handler): if the client let one call at a time through its breaker, the barrier would break
and every call would get 503. The breaker still opens after its failures and fails fast while open.
How a call fails decides what a payment does next, so each failure's kind is checked too: a
refused connection is `unavailable` (urllib3's connection errors are a subclass of its
timeouts), an answer later than the deadline is `timeout`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.common import internal_auth
from apps.common.deadline import Deadline
from apps.common.errors import DependencyError
from apps.common.http import ServiceClient
from tests.services.service_harness import TEST_SECRET

CONCURRENT = 4


class _Callee(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.barrier = threading.Barrier(CONCURRENT, timeout=10)
        self.failing = False
        self.delay_s = 0.0


class _Handler(BaseHTTPRequestHandler):
    server: _Callee

    def do_GET(self) -> None:
        status = 200
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        elif self.server.failing:
            status = 503
        else:
            try:
                self.server.barrier.wait()
            except threading.BrokenBarrierError:
                status = 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def callee() -> Iterator[_Callee]:
    server = _Callee()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def as_payment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment a client signs its calls from: this process is the payment service."""
    monkeypatch.setenv(internal_auth.SECRET_VARIABLE, TEST_SECRET)
    monkeypatch.setenv("SERVICE_NAME", "payment")


@pytest.fixture
def client(callee: _Callee, as_payment: None) -> ServiceClient:
    host, port = callee.server_address[:2]
    return ServiceClient("channel", f"http://{host!s}:{port}", breaker=True, fail_max=3, reset_timeout_s=600)


def _get(client: ServiceClient) -> int:
    try:
        return client.request("GET", "/slow", deadline=Deadline.start(15_000)).status_code
    except DependencyError as exc:
        return exc.status or 0


def test_calls_through_one_breaker_are_in_flight_together(client: ServiceClient, callee: _Callee) -> None:
    with ThreadPoolExecutor(CONCURRENT) as pool:
        statuses = list(pool.map(lambda _: _get(client), range(CONCURRENT)))
    assert statuses == [200] * CONCURRENT
    assert not callee.barrier.broken


def test_the_breaker_still_opens_after_its_failures_and_then_fails_fast(
    client: ServiceClient, callee: _Callee
) -> None:
    callee.failing = True
    kinds = []
    for _ in range(5):
        try:
            client.request("GET", "/slow", deadline=Deadline.start(5_000))
        except DependencyError as exc:
            kinds.append(exc.kind)
    # fail_max 3: two failures counted, the third opens the breaker, then calls fail fast.
    assert kinds == ["unavailable", "unavailable", "circuit_open", "circuit_open", "circuit_open"]
    assert client.breaker is not None and client.breaker.current_state == "open"


def _kind_of_failure(client: ServiceClient, budget_ms: int) -> str:
    with pytest.raises(DependencyError) as failed:
        client.request("GET", "/slow", deadline=Deadline.start(budget_ms))
    return failed.value.kind


def test_a_refused_connection_is_unavailable(as_payment: None) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    client = ServiceClient("risk", f"http://127.0.0.1:{port}", max_attempts=1)
    assert _kind_of_failure(client, 2_000) == "unavailable"


def test_an_answer_after_the_deadline_is_a_timeout(client: ServiceClient, callee: _Callee) -> None:
    callee.delay_s = 1.0
    assert _kind_of_failure(client, 300) == "timeout"
