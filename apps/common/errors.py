"""The one error shape of every API: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered to the caller with a status, a stable code and a human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field, **self.extra}}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


class DependencyError(Exception):
    """An outbound call failed; `kind` says how so callers can map it to 503 or 504."""

    def __init__(
        self, dependency: str, kind: str, detail: str, status: int | None = None, response: Any = None
    ):
        super().__init__(f"{dependency}: {kind}: {detail}")
        self.dependency = dependency
        self.kind = kind  # "unavailable", "timeout", "circuit_open"
        self.detail = detail
        self.status = status
        # The callee's 5xx answer (an apps.common.http.ServiceResponse), when there was one: a
        # caller that passes answers through (the gateway) needs its body, which may say more
        # than the status.
        self.response = response


class DeadlineExceeded(Exception):
    """The request's budget ran out before the work could start or finish."""
