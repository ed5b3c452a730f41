"""Outbound calls to other services: deadline-bound timeouts, a circuit breaker, jittered retries.

Every call is signed with the internal token (apps/common/internal_auth.py). A call's timeout is
whatever remains of the request's deadline, and the remaining budget is passed on in
X-Deadline-Ms. Retries happen only when the caller says the callee is idempotent for this call,
and only while budget remains. 5xx answers, connection failures and timeouts count as
failures for the breaker (pybreaker); 4xx answers are the callee's verdict and are returned.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from typing import Any

import pybreaker
import requests
from flask import g, has_request_context

from apps.common import internal_auth, metrics
from apps.common.deadline import HEADER as DEADLINE_HEADER
from apps.common.deadline import Deadline
from apps.common.errors import DependencyError

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
        self.session = requests.Session()
        # Calls between services go straight to the callee. Without this, requests scans the whole
        # process environment for proxy settings on every call (about a tenth of the gateway's and
        # the payment service's CPU in a profile; Kubernetes puts dozens of *_SERVICE_* variables
        # there), and an HTTP(S)_PROXY meant for the outside world would capture internal calls.
        self.session.trust_env = False
        # Every call is signed as this service (apps/common/internal_auth.py): the callee accepts
        # only its callers. A ConfigError here (no INTERNAL_AUTH_SECRET) stops the caller at start.
        self.session.auth = internal_auth.InternalAuth.from_env()
        # A pool at least as large as a worker's threads, so calls never queue on connections.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        self.session.mount("http://", adapter)
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
    ) -> requests.Response:
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

    def _guarded(self, *args: Any) -> requests.Response:
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
    ) -> requests.Response:
        remaining = deadline.remaining()
        if remaining < _MIN_USEFUL_BUDGET_S:
            raise DependencyError(self.name, "timeout", "no budget left for the call")
        send_headers = {DEADLINE_HEADER: str(int(remaining * 1000))}
        if has_request_context() and "request_id" in g:
            send_headers["X-Request-Id"] = g.request_id
        send_headers.update(headers or {})
        started = time.perf_counter()
        status = "0"
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                json=json,
                params=params,
                headers=send_headers,
                timeout=(min(remaining, 1.0), remaining),
            )
            status = str(response.status_code)
        except requests.Timeout as exc:
            raise DependencyError(self.name, "timeout", "no answer within the deadline") from exc
        except requests.ConnectionError as exc:
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


def _error_code(response: requests.Response) -> str | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None
