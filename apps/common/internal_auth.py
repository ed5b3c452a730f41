"""Service-to-service authentication: every call between the services carries a signed token.

    X-Internal-Token: {caller}:{timestamp}:{signature}

signature = lowercase hex HMAC-SHA256, keyed by INTERNAL_AUTH_SECRET (one secret per deployment,
from the environment), of

    "{METHOD}\\n{target}\\n{sha256 hex of the raw body}\\n{timestamp}\\n{caller}\\n"
    "{X-Merchant-Id}\\n{Idempotency-Key}"

target is the request target as sent (path, and "?" and the query string when there is one),
timestamp unix seconds within WINDOW_S of the callee's clock, caller the calling service's name,
and the last two the headers' values (empty when absent): they carry authority (whose payment,
which payment), so a captured call cannot be sent again for another merchant or under another
key. Within the window a captured call can only be repeated as it was, and every internal call
is idempotent on the callee's side (payments per key, ledger movements per reference, charges
per payment id), so a repeat moves nothing.

The callee checks the token, then that the caller may call it: the catalog's `calls` graph
(observability/catalog.yaml) names who calls whom, and nothing else is allowed (401 for a
missing, malformed, stale or wrongly signed token, 403 for a caller not in the graph). A route
may accept extra callers (`also_from`): the channel simulator's fault switches accept
`operator`, the name the tooling signs with. Probes and scrapes (/healthz, /readyz, /metrics)
need no token.

The secret is shared by the deployment's services, so the token proves "one of our services",
and the caller name is what that service claims; a compromised service could claim another's
name. The chart's NetworkPolicies keep each service reachable only from its callers on the
network as well. The secret is never logged, and neither is a token (the header's name contains
"token", which the collector's redaction of captured headers matches).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
import requests.auth
from flask import Request, current_app

import catalog
from apps.common.config import env, service_name
from apps.common.errors import ApiError

log = logging.getLogger(__name__)

HEADER = "X-Internal-Token"
SECRET_VARIABLE = "INTERNAL_AUTH_SECRET"  # nosec B105 # the variable's name, not a secret
MERCHANT_HEADER = "X-Merchant-Id"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
# Internal hosts keep their clocks in sync; a minute covers skew and a slow first byte.
WINDOW_S = 60
# The caller name of the tooling (tests, `obsctl fault`, the demo) on routes that accept it.
OPERATOR = "operator"
# Paths that every service serves without a token: probes and Prometheus' scrape.
UNAUTHENTICATED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

# The codes of the callee's refusals (401, 403): a caller treats them as its own misconfiguration.
REFUSAL_CODES = frozenset({"unauthenticated_caller", "caller_not_allowed"})

_EXTRA_CALLERS_ATTRIBUTE = "internal_auth_extra_callers"


def secret() -> str:
    """The deployment's secret; a ConfigError naming INTERNAL_AUTH_SECRET when it is not set."""
    return env(SECRET_VARIABLE)


def _header_text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def message(
    method: str,
    target: str,
    body: bytes,
    timestamp: str,
    caller: str,
    merchant_id: str | None = None,
    idempotency_key: str | None = None,
) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    fields = (method.upper(), target, digest, timestamp, caller, merchant_id or "", idempotency_key or "")
    return "\n".join(fields).encode()


def token(
    secret: str,
    caller: str,
    method: str,
    target: str,
    body: bytes,
    *,
    merchant_id: str | None = None,
    idempotency_key: str | None = None,
    timestamp: int | None = None,
) -> str:
    """The X-Internal-Token value for one call."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    payload = message(method, target, body, stamp, caller, merchant_id, idempotency_key)
    signature = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    return f"{caller}:{stamp}:{signature}"


class InternalAuth(requests.auth.AuthBase):
    """requests auth that signs each request as `caller`: `session.auth = InternalAuth(...)`.

    It signs the prepared request (target, body and headers as they will be sent), so retries
    and redirects are signed afresh."""

    def __init__(self, caller: str, secret: str):
        self.caller = caller
        self._secret = secret

    @classmethod
    def from_env(cls) -> InternalAuth:
        """Signing as this process's service (SERVICE_NAME) with the deployment's secret."""
        return cls(service_name(), secret())

    def __repr__(self) -> str:  # the secret stays out of reprs and tracebacks
        return f"InternalAuth({self.caller!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        signed = self.sign(str(request.method), request.path_url, bytes(body), request.headers)
        request.headers[HEADER] = signed
        return request

    def sign(self, method: str, target: str, body: bytes, headers: Mapping[str, Any]) -> str:
        """The X-Internal-Token of one call: `target` is the path and query as sent."""
        by_name = {name.lower(): value for name, value in headers.items()}
        return token(
            self._secret,
            self.caller,
            method,
            target,
            body,
            merchant_id=_header_text(by_name.get(MERCHANT_HEADER.lower())),
            idempotency_key=_header_text(by_name.get(IDEMPOTENCY_KEY_HEADER.lower())),
        )


def allowed_callers(service: str, cat: catalog.Catalog | None = None) -> frozenset[str]:
    """The services whose `calls` in the catalog include `service`."""
    services = (cat or catalog.default()).services
    return frozenset(name for name, declared in services.items() if service in declared.calls)


V = TypeVar("V", bound=Callable[..., Any])


def also_from(*callers: str) -> Callable[[V], V]:
    """Mark a view as also callable by `callers` (besides the service's callers in the catalog)."""

    def mark(view: V) -> V:
        setattr(view, _EXTRA_CALLERS_ATTRIBUTE, frozenset(callers))
        return view

    return mark


def request_target(req: Request) -> str:
    """The request target as the client sent it (path and query), which is what it signed."""
    raw = req.environ.get("RAW_URI") or req.environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    return req.full_path.removesuffix("?")


def _unauthenticated(message: str) -> ApiError:
    # A refused internal call is worth a look (a misconfigured caller, or someone probing).
    log.warning("internal call refused: %s", message, extra={"status": 401})
    return ApiError(401, "unauthenticated_caller", message, field=HEADER)


class Guard:
    """The callee's check of every request (see the module's docstring)."""

    def __init__(self, service: str, cat: catalog.Catalog | None = None):
        self.service = service
        self.callers = allowed_callers(service, cat)
        self._secret = secret()

    def __repr__(self) -> str:
        return f"Guard({self.service!r}, callers={sorted(self.callers)})"

    def check(self, req: Request) -> str | None:
        """The authenticated caller's name (None for an unauthenticated path); raises ApiError."""
        if req.path in UNAUTHENTICATED_PATHS:
            return None
        value = req.headers.get(HEADER, "")
        if not value:
            raise _unauthenticated(f"{HEADER} is required: internal services accept only signed calls")
        parts = value.split(":")
        if len(parts) != 3:
            raise _unauthenticated(f"{HEADER} must be caller:timestamp:signature")
        caller, stamp, signature = parts
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            raise _unauthenticated(f"{HEADER}: the timestamp must be unix time in seconds")
        if abs(time.time() - int(stamp)) > WINDOW_S:
            raise _unauthenticated(f"{HEADER}: the timestamp is more than {WINDOW_S} s away")
        expected = token(
            self._secret,
            caller,
            req.method,
            request_target(req),
            req.get_data(cache=True),
            merchant_id=req.headers.get(MERCHANT_HEADER),
            idempotency_key=req.headers.get(IDEMPOTENCY_KEY_HEADER),
            timestamp=int(stamp),
        ).rsplit(":", 1)[1]
        # Constant-time comparison: timing must not reveal how much of the signature matched.
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise _unauthenticated(f"{HEADER}: the signature does not match the request")
        if caller not in self.callers | self._extra_callers(req):
            message = f"{caller} may not call {self.service}"
            log.warning("internal call refused: %s", message, extra={"status": 403})
            raise ApiError(403, "caller_not_allowed", message, field=HEADER)
        return caller

    @staticmethod
    def _extra_callers(req: Request) -> frozenset[str]:
        view = current_app.view_functions.get(req.endpoint or "")
        extra: frozenset[str] = getattr(view, _EXTRA_CALLERS_ATTRIBUTE, frozenset())
        return extra
