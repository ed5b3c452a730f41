"""The local stack's internal authentication, from the tooling's side.

The services sign every call between them with a token (X-Internal-Token) under the deployment's
INTERNAL_AUTH_SECRET; the contract is in docs/architecture.md ("Internal headers"). The tooling
signs like any caller would, from the contract, not from the services' code (obsctl imports only
the catalog from them); tests/services checks both sides agree.

The secret is one per state directory, made on the first service start and kept in
<state>/run/internal-auth-secret (mode 0600), so a service restarted on its own (a fault, `obsctl
up`) signs and verifies with the same secret as the ones still running. `obsctl up` exports it in
stack.env; the tooling signs the channel's fault switches as `operator`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

import requests
import requests.auth

VARIABLE = "INTERNAL_AUTH_SECRET"
HEADER = "X-Internal-Token"
OPERATOR = "operator"


def for_state_dir(state_dir: Path) -> str:
    """The state directory's secret, created when it has none (safe when services start in parallel:
    the first writer wins, every other reads it)."""
    path = Path(state_dir) / "run" / "internal-auth-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
        try:
            os.link(draft, path)  # atomic, and fails when another start made it first
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                draft.unlink()
    return path.read_text().strip()


def token(
    secret: str,
    caller: str,
    method: str,
    target: str,
    body: bytes,
    *,
    merchant_id: str = "",
    idempotency_key: str = "",
    timestamp: int | None = None,
) -> str:
    """X-Internal-Token: "{caller}:{timestamp}:{hex HMAC-SHA256}" of the method, target, body's
    SHA-256, timestamp, caller, X-Merchant-Id and Idempotency-Key, one per line."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hashlib.sha256(body).hexdigest()
    fields = (method.upper(), target, digest, stamp, caller, merchant_id, idempotency_key)
    signature = hmac.new(secret.encode(), "\n".join(fields).encode(), hashlib.sha256).hexdigest()
    return f"{caller}:{stamp}:{signature}"


class Signed(requests.auth.AuthBase):
    """requests auth signing each request as `caller` (the tooling: `operator`)."""

    def __init__(self, caller: str, secret: str):
        self.caller = caller
        self._secret = secret

    def __repr__(self) -> str:
        return f"Signed({self.caller!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        request.headers[HEADER] = token(
            self._secret,
            self.caller,
            str(request.method),
            request.path_url,
            bytes(body),
            merchant_id=str(request.headers.get("X-Merchant-Id", "")),
            idempotency_key=str(request.headers.get("Idempotency-Key", "")),
        )
        return request


def operator_auth(state_dir: Path) -> requests.auth.AuthBase:
    """requests auth for the tooling's calls to the stack's services (the channel's fault switches)."""
    return Signed(OPERATOR, for_state_dir(state_dir))
