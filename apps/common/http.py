"""Outbound calls to other services: deadline-bound timeouts, a circuit breaker, jittered retries.

Every call is signed with the internal token (apps/common/internal_auth.py). A call's timeout is
whatever remains of the request's deadline, and the remaining budget is passed on in
X-Deadline-Ms. Retries happen only when the caller says the callee is idempotent for this call,
and only while budget remains. 5xx answers, connection failures and timeouts count as
failures for the breaker (pybreaker); 4xx answers are the callee's verdict and are returned.

Calls go through urllib3's connection pool directly. requests' session machinery (request
preparation, hooks, cookie jars, adapters) cost about as much CPU per call as urllib3's own work
(docs/performance.md), and an internal call needs none of it. The zero-code urllib3
instrumentation makes the client spans and propagates the trace context and baggage.
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import pybreaker
import urllib3
from flask import g, has_request_context
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from apps.common import internal_auth, keepalive, metrics
from apps.common.deadline import HEADER as DEADLINE_HEADER
from apps.common.deadline import Deadline
from apps.common.errors import DependencyError

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection  # the pool's own annotation

log = logging.getLogger(__name__)

# Below this much budget a retry cannot do useful work; give up instead of sleeping.
_MIN_USEFUL_BUDGET_S = 0.05
_FIRST_BACKOFF_S = 0.02
_MAX_BACKOFF_S = 0.25
_BREAKER_STATE_VALUE = {pybreaker.STATE_CLOSED: 0, pybreaker.STATE_OPEN: 1, pybreaker.STATE_HALF_OPEN: 2}


class _StateGauge(pybreaker.CircuitBreakerListener):
    def __init__(self, dependency: str):
        self.dependency = dependency
        self.gauge = metrics.gauge("circuit_breaker_state")
        self.gauge.labels(dependency).set(0)

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        self.gauge.labels(self.dependency).set(_BREAKER_STATE_VALUE.get(new_state.name, 0))


@dataclass(frozen=True)
class ServiceResponse:
    """A callee's answer: its status, headers (case-insensitive) and body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return jsonlib.loads(self.content)


# When a pooled connection was last given back (an attribute of the connection).
_IDLE_SINCE = "_service_client_idle_since"


class FreshConnectionPool(urllib3.HTTPConnectionPool):
    """urllib3's pool, except that a connection idle for longer than `max_idle_s` is closed when
    it is taken out and a new one opened: a call is never written on a connection the callee may
    be closing (apps/common/keepalive.py). The pool hands out the connection used last first, so
    under steady traffic the ones in use stay young."""

    def __init__(self, host: str, port: int, *, max_idle_s: float, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self.max_idle_s = max_idle_s

    def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
        conn = super()._get_conn(timeout)
        idle_since = getattr(conn, _IDLE_SINCE, None)
        if idle_since is not None and time.monotonic() - idle_since > self.max_idle_s:
            conn.close()  # reopened by the request written on it
        return conn

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        if conn is not None:
            setattr(conn, _IDLE_SINCE, time.monotonic())
        super()._put_conn(conn)


class ServiceClient:
    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        breaker: bool = False,
        fail_max: int = 5,
        reset_timeout_s: float = 10.0,
        max_attempts: int = 3,
    ):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts
        # Every call is signed as this service (apps/common/internal_auth.py): the callee accepts
        # only its callers. A ConfigError here (no INTERNAL_AUTH_SECRET) stops the caller at start.
        self._signer = internal_auth.InternalAuth.from_env()
        # Calls between services go straight to the callee: no proxy from the environment (an
        # HTTP(S)_PROXY meant for the outside world must not capture internal calls). The pool is
        # at least as large as a worker's threads, so calls never queue on connections; urllib3
        # itself never retries (the loop in request() does, by this module's policy).
        url = urlsplit(self.base_url)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"{name}: expected an http:// base URL, got {base_url!r}")
        self._prefix = url.path
        self._pool = FreshConnectionPool(
            url.hostname,
            url.port or 80,
            max_idle_s=keepalive.CLIENT_IDLE_S,
            maxsize=32,
            block=False,
            retries=False,
        )
        self.breaker: pybreaker.CircuitBreaker | None = None
        if breaker:
            self.breaker = pybreaker.CircuitBreaker(
                fail_max=fail_max,
                reset_timeout=reset_timeout_s,
                listeners=[_StateGauge(name)],
                name=name,
            )
        self._duration = metrics.histogram("http_client_request_duration_seconds")

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
        deadline: Deadline | None = None,
    ) -> ServiceResponse:
        """Send one logical call; returns the response for any status below 500."""
        deadline = deadline or (g.deadline if has_request_context() and "deadline" in g else None)
        if deadline is None:
            deadline = Deadline.start(5_000)
        # Retries of an unavailable callee (refused connection, 5xx, open breaker): at most
        # max_attempts for an idempotent call, while useful budget remains, after a jittered
        # exponential wait (uniform up to 20 ms, 40 ms, ... capped at 250 ms). A plain loop: a
        # tenacity Retrying built per call cost more than the rest of the client's own work.
        attempts = self.max_attempts if idempotent else 1
        attempt = 1
        while True:
            try:
                return self._guarded(method, path, json, params, headers, deadline)
            except DependencyError as exc:
                if exc.kind != "unavailable" or attempt >= attempts:
                    raise
                if deadline.remaining() < _MIN_USEFUL_BUDGET_S:
                    raise
                time.sleep(random.uniform(0, min(_MAX_BACKOFF_S, _FIRST_BACKOFF_S * 2 ** (attempt - 1))))
                attempt += 1

    def _guarded(self, *args: Any) -> ServiceResponse:
        if self.breaker is None:
            return self._once(*args)
        # calling(), not call(): pybreaker's call() holds the breaker's lock for the whole call
        # (pybreaker issue #55), so a worker's threads took turns at the callee, one call at a
        # time; with the channel's 20 to 40 ms that queued payments behind each other. calling()
        # takes the lock only to check the state before the call; the outcome is counted after it.
        try:
            with self.breaker.calling():
                return self._once(*args)
        except pybreaker.CircuitBreakerError as exc:
            raise DependencyError(self.name, "circuit_open", "circuit breaker is open") from exc

    def _once(
        self,
        method: str,
        path: str,
        json: Any,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        deadline: Deadline,
    ) -> ServiceResponse:
        remaining = deadline.remaining()
        if remaining < _MIN_USEFUL_BUDGET_S:
            raise DependencyError(self.name, "timeout", "no budget left for the call")
        send_headers = {DEADLINE_HEADER: str(int(remaining * 1000))}
        if has_request_context() and "request_id" in g:
            send_headers["X-Request-Id"] = g.request_id
        send_headers.update(headers or {})
        body = b""
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":"), allow_nan=False).encode()
            send_headers["Content-Type"] = "application/json"
        target = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        send_headers[internal_auth.HEADER] = self._signer.sign(method, target, body, send_headers)
        started = time.perf_counter()
        status = "0"
        try:
            answer = self._pool.urlopen(
                method,
                target,
                body=body or None,  # urllib3 sends Content-Length: 0 for a POST without one
                headers=send_headers,
                timeout=urllib3.Timeout(connect=min(remaining, 1.0), read=remaining),
                retries=False,
                redirect=False,
            )
            response = ServiceResponse(answer.status, answer.headers, answer.data)
            status = str(response.status_code)
        except NewConnectionError as exc:  # refused or unresolvable (a subclass of the timeouts)
            raise DependencyError(self.name, "unavailable", "connection failed") from exc
        except Urllib3Timeout as exc:
            raise DependencyError(self.name, "timeout", "no answer within the deadline") from exc
        except HTTPError as exc:  # reset, closed mid-answer, malformed answer
            raise DependencyError(self.name, "unavailable", "connection failed") from exc
        finally:
            self._duration.labels(method, self.name, status).observe(time.perf_counter() - started)
        if response.status_code in (401, 403) and _error_code(response) in internal_auth.REFUSAL_CODES:
            # The callee refused our internal token: a misconfiguration on our side (secrets or the
            # calls graph), not the caller's mistake, and nothing was done. An outage, never passed on.
            log.error(
                "internal call refused", extra={"dependency": self.name, "status": response.status_code}
            )
            raise DependencyError(
                self.name, "unavailable", f"refused our internal token ({response.status_code})"
            )
        if response.status_code == 504:
            raise DependencyError(
                self.name, "timeout", "callee ran out of time", response.status_code, response
            )
        if response.status_code >= 500:
            raise DependencyError(
                self.name, "unavailable", f"HTTP {response.status_code}", response.status_code, response
            )
        return response


def _error_code(response: ServiceResponse) -> str | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None
