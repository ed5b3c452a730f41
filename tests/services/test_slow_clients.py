"""Slow and stalled clients cannot starve the gateway (issue 16, finding 6).

The gateway runs under gunicorn with the services' own configuration (apps/common/gunicorn_conf.py:
2 workers x 8 threads), in front of the real payment path. 50 connections each declare a body of
100 bytes, send 10 and stall: with gunicorn's stock threaded worker each of them holds a thread
until the client gives up, so 16 of them hold them all. With the buffering worker
(apps/common/gunicorn_worker.py) they wait in the event loop, legitimate payments keep being
answered within the latency SLO, and each stalled connection is answered 408 once its read
deadline has passed.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
import requests

from apps.common import gunicorn_worker
from apps.gateway import signing
from tests.services.payment_harness import PaymentServices

MERCHANT = "merchant-slow-clients"
API_KEY = "slow-clients-key"
API_SECRET = "slow-clients-secret"
STALLED = 50
READ_TIMEOUT_S = 20
PAYMENTS = 8
# The payment latency SLO (p99 under 200 ms). The bound below is ten times that, generous for a
# shared 2-CPU machine running other suites, and still far below what a starved gateway does: it
# answers nothing until a stalled client gives up (here: the payment's own 10 s client timeout).
SLO_MS = 200
BOUND_S = 10 * SLO_MS / 1000


@pytest.fixture(scope="module")
def customer(payment_services: PaymentServices) -> str:
    user = payment_services.new_users(1, 10**9)[0]
    with psycopg.connect(payment_services.dsn) as conn:
        conn.execute(
            "INSERT INTO gateway.merchants (merchant_id, name, api_key, api_secret, rate_limit_per_minute)"
            " VALUES (%s, 'slow clients', %s, %s, 1000000) ON CONFLICT (merchant_id) DO NOTHING",
            (MERCHANT, API_KEY, API_SECRET),
        )
        conn.execute(
            "INSERT INTO gateway.merchant_users (merchant_id, user_id) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            (MERCHANT, user),
        )
    return user


@pytest.fixture
def gateway(payment_services: PaymentServices, run_gunicorn: Callable[..., str]) -> str:
    env = {
        "DATABASE_URL": payment_services.dsn,
        "REDIS_URL": payment_services.redis_url,
        "PAYMENT_URL": payment_services.urls["payment"],
        "ACCOUNT_URL": payment_services.urls["account"],
        "INTERNAL_AUTH_SECRET": payment_services.internal_secret,
        gunicorn_worker.READ_TIMEOUT_VARIABLE: str(READ_TIMEOUT_S),
    }
    return run_gunicorn("gateway", env, workers=None)  # the configuration's own worker count


def _payment_request(user: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"user_id": user, "amount": 100, "currency": "EUR", "payment_method": "card"}).encode()
    key = uuid.uuid4().hex
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Api-Key": API_KEY,
        "X-Timestamp": stamp,
        "Idempotency-Key": key,
        "X-Signature": signing.sign(API_SECRET, stamp, "POST", "/api/v1/payments", body, key),
    }
    return body, headers


def _pay(gateway: str, user: str) -> tuple[requests.Response, float]:
    body, headers = _payment_request(user)
    started = time.monotonic()
    answer = requests.post(f"{gateway}/api/v1/payments", data=body, headers=headers, timeout=10)
    return answer, time.monotonic() - started


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture
def stalled(gateway: str) -> Iterator[list[socket.socket]]:
    """STALLED connections that declare a 100-byte body and send 10 bytes of it."""
    sockets = []
    head = (
        b"POST /api/v1/payments HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    try:
        for _ in range(STALLED):
            s = socket.create_connection(("127.0.0.1", _port(gateway)), timeout=5)
            s.sendall(head + b'{"user_id"')
            sockets.append(s)
        yield sockets
    finally:
        for s in sockets:
            s.close()


def _answered(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return False
    finally:
        s.setblocking(True)


def test_stalled_bodies_do_not_starve_payments(
    gateway: str, customer: str, stalled: list[socket.socket]
) -> None:
    started = time.monotonic()
    time.sleep(0.5)  # every stalled connection accepted and waiting for its body
    latencies = []
    for _ in range(PAYMENTS):
        answer, took = _pay(gateway, customer)
        assert answer.status_code == 201, answer.text
        latencies.append(took)
    assert max(latencies) < BOUND_S, f"payments took {[round(t, 3) for t in latencies]} s"
    # The stalled connections were held open meanwhile (not refused to make room); the payments,
    # each within the bound, ended well before the read deadline.
    assert time.monotonic() - started < READ_TIMEOUT_S
    assert not any(_answered(s) for s in stalled)

    # Past their read deadline each is answered 408 with the JSON error body, and closed.
    for s in stalled:
        s.settimeout(READ_TIMEOUT_S + 5)
    answers = [_read_all(s) for s in stalled]
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[0]
    body = answers[0].split(b"\r\n\r\n", 1)[1]
    assert json.loads(body)["error"]["code"] == "request_timeout"


def test_a_body_sent_slowly_within_the_deadline_is_served(gateway: str, customer: str) -> None:
    body, headers = _payment_request(customer)
    head = "POST /api/v1/payments HTTP/1.1\r\nHost: gateway\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in {**headers, "Content-Length": str(len(body))}.items()
    )
    with socket.create_connection(("127.0.0.1", _port(gateway)), timeout=10) as s:
        s.sendall(head.encode())
        time.sleep(0.3)
        s.sendall(b"\r\n" + body[:5])
        time.sleep(0.3)
        s.sendall(body[5:])
        answer = _read_response(s)
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:200]


def test_chunked_and_expect_continue_bodies_are_buffered_whole(gateway: str, customer: str) -> None:
    body, headers = _payment_request(customer)
    head = "POST /api/v1/payments HTTP/1.1\r\nHost: gateway\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    with socket.create_connection(("127.0.0.1", _port(gateway)), timeout=10) as s:
        s.sendall((head + "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n").encode())
        assert s.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")  # asked for the body
        half = len(body) // 2
        for part in (body[:half], body[half:]):
            s.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            time.sleep(0.2)
        s.sendall(b"0\r\n\r\n")
        answer = _read_response(s)
    assert b"HTTP/1.1 201 " in answer, answer[:300]


def test_a_declared_body_over_the_limit_is_refused_unread(gateway: str) -> None:
    with socket.create_connection(("127.0.0.1", _port(gateway)), timeout=10) as s:
        size = gunicorn_worker.DEFAULT_MAX_BODY_BYTES + 1
        s.sendall(
            f"POST /api/v1/payments HTTP/1.1\r\nHost: gateway\r\nContent-Length: {size}\r\n\r\n".encode()
        )
        answer = _read_all(s)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def _read_all(s: socket.socket) -> bytes:
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    return data


def _read_response(s: socket.socket) -> bytes:
    """One final response (interim 100 answers included) read up to its Content-Length."""
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return data
        data += chunk
        final = data.replace(b"HTTP/1.1 100 Continue\r\n\r\n", b"")
        head, sep, rest = final.partition(b"\r\n\r\n")
        if sep:
            length = _content_length(head)
            if length is not None and len(rest) >= length:
                return data


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def test_request_state_reads_the_framing() -> None:
    state = gunicorn_worker.request_state
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n"
    assert state(head[:10], 100) == (gunicorn_worker.INCOMPLETE, False)
    assert state(head + b"ab", 100) == (gunicorn_worker.INCOMPLETE, False)
    assert state(head + b"abcd", 100) == (gunicorn_worker.COMPLETE, False)
    assert state(head + b"abcd", 3)[0] == gunicorn_worker.TOO_LARGE
    assert state(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 100)[0] == gunicorn_worker.COMPLETE
    chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
    assert state(chunked, 100) == (gunicorn_worker.INCOMPLETE, True)
    assert state(chunked + b"3\r\nabc\r\n", 100)[0] == gunicorn_worker.INCOMPLETE
    assert state(chunked + b"3\r\nabc\r\n0\r\n\r\n", 100)[0] == gunicorn_worker.COMPLETE
    assert state(chunked + b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n", 100)[0] == gunicorn_worker.INCOMPLETE
    assert state(chunked + b"zz\r\n", 100)[0] == gunicorn_worker.COMPLETE  # the parser refuses it
    assert state(chunked + b"ff\r\n", 100)[0] == gunicorn_worker.TOO_LARGE
    # Two Content-Length fields: left to the parser, which answers 400.
    assert state(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 100)[0] == "complete"
