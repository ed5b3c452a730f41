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


class _IdleClosingServer:
    """A keep-alive HTTP server that drops a request arriving on a connection idle for longer
    than `idle_s`, unanswered, as a server does whose keep-alive timeout closes the connection
    while the request is on its way: the race a client must not run."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self.connections = 0
        self.dropped = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        answered_at: float | None = None
        with conn:
            buffered = b""
            while True:
                while b"\r\n\r\n" not in buffered:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffered += chunk
                _head, _, buffered = buffered.partition(b"\r\n\r\n")
                if answered_at is not None and time.monotonic() - answered_at > self.idle_s:
                    self.dropped += 1
                    return  # closed with the request unanswered
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                answered_at = time.monotonic()


def test_a_pooled_connection_idle_longer_than_the_clients_limit_is_replaced_not_written_on(
    as_payment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call after a pause goes out on a new connection once the pooled one has been idle for
    CLIENT_IDLE_S, so a server that closes idle connections later than that never drops it."""
    from apps.common import keepalive

    server = _IdleClosingServer(idle_s=0.3)
    try:
        monkeypatch.setattr(keepalive, "CLIENT_IDLE_S", 0.15)
        fresh = ServiceClient("channel", f"http://127.0.0.1:{server.port}")
        assert fresh.request("POST", "/v1/charges", json={}).status_code == 200
        assert fresh.request("POST", "/v1/charges", json={}).status_code == 200  # reused at once
        assert server.connections == 1
        time.sleep(0.5)
        assert fresh.request("POST", "/v1/charges", json={}).status_code == 200
        assert (server.connections, server.dropped) == (2, 0)

        # The same pause with a client that keeps connections longer than the server does: the
        # call is written on the connection the server gives up, and fails.
        monkeypatch.setattr(keepalive, "CLIENT_IDLE_S", 60.0)
        stale = ServiceClient("channel", f"http://127.0.0.1:{server.port}")
        assert stale.request("POST", "/v1/charges", json={}).status_code == 200
        time.sleep(0.5)
        with pytest.raises(DependencyError) as failed:
            stale.request("POST", "/v1/charges", json={})
        assert failed.value.kind == "unavailable" and server.dropped == 1
    finally:
        server.listener.close()


def test_the_services_keep_idle_connections_longer_than_their_callers_do() -> None:
    from apps.common import gunicorn_conf, keepalive

    # gunicorn closes an idle connection on the first loop iteration after its keepalive, about
    # a second late at most; the margin covers that and the time between the two ends' clocks.
    assert gunicorn_conf.keepalive == keepalive.SERVER_IDLE_S
    assert keepalive.SERVER_IDLE_S >= keepalive.CLIENT_IDLE_S + 5
    assert keepalive.SERVER_IDLE_S > 60  # the usual proxies' idle timeout towards a backend
