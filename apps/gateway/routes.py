"""The public API, /api/v1: authenticate, validate, forward, and pass the answer through.

Answers of the payment and account services (below 500) are passed through unchanged, status,
body bytes and content type: the payment service's idempotent replay promises the same bytes for
the same request, so the gateway must not re-serialise them.

Retries: none for POST calls. The payment service is idempotent per Idempotency-Key, so a retry
would be safe, but it would only repeat the work into an outage (a 503 from payment means one of
its own dependencies is down) or collide with the first attempt still in flight (409). The
merchant retries with the same key, which is the contract. GET calls are retried on connection
failures while the deadline allows.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import requests
from flask import Blueprint, Response, current_app, g, request
from opentelemetry import trace
from werkzeug.exceptions import RequestEntityTooLarge

from apps.common.errors import ApiError, DependencyError
from apps.common.http import ServiceClient
from apps.gateway import auth, merchants, ratelimit, request_baggage, validation
from apps.gateway.merchants import Merchant

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Headers of the payment service's answer that mean something to the merchant.
_PASSED_HEADERS = ("Idempotent-Replayed", "Idempotency-Replayed", "Retry-After")


def _client(name: str) -> ServiceClient:
    client: ServiceClient = current_app.extensions["clients"][name]
    return client


def _signed_target() -> str:
    """The request target as the client sent it (path and query), which is what it signed."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    return request.full_path.removesuffix("?")


def _authenticated() -> Merchant:
    body = request.get_data(cache=True)  # over the limit: 413 before any other work
    if len(body) > validation.MAX_BODY_BYTES:
        raise RequestEntityTooLarge()
    merchant = auth.authenticate(request.headers, request.method, _signed_target(), body)
    # The limit before the replay marker: a request refused with 429 may be sent again unchanged.
    ratelimit.check(merchant)
    auth.mark_used(request.headers[auth.SIGNATURE_HEADER], request.headers[auth.TIMESTAMP_HEADER])
    g.merchant = merchant
    trace.get_current_span().set_attribute("merchant.id", merchant.merchant_id)
    return merchant


def _call(service: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    """One call to an internal service. Its own 503/504 answers (a JSON error body, which for a
    payment carries the payment's final or pending state in error.payment) are returned to be
    passed through; without an answer (connection refused, timeout) the base app's 503/504 apply."""
    try:
        return _client(service).request(method, path, **kwargs)
    except DependencyError as exc:
        answer = exc.response
        if answer is not None and answer.headers.get("Content-Type", "").startswith("application/json"):
            return answer
        raise


def _passthrough(answer: requests.Response) -> Response:
    response = Response(
        answer.content,
        status=answer.status_code,
        content_type=answer.headers.get("Content-Type", "application/json"),
    )
    for name in _PASSED_HEADERS:
        if name in answer.headers:
            response.headers[name] = answer.headers[name]
    return response


@bp.post("/payments")
def create_payment() -> Response:
    merchant = _authenticated()
    key = validation.idempotency_key(request.headers.get("Idempotency-Key"), required=True)
    payment = validation.validate(validation.PaymentRequest, validation.parse_json(request.get_data()))
    with request_baggage.carried(user_id=payment.user_id):
        answer = _call(
            "payment",
            "POST",
            "/v1/payments",
            json=payment.model_dump(exclude_none=True),
            headers={"X-Merchant-Id": merchant.merchant_id, "Idempotency-Key": str(key)},
            idempotent=False,
        )
    if answer.status_code in (201, 402):
        # The user is now this merchant's customer, whose balance it may read. Best effort: the
        # payment has happened, and its answer must reach the merchant even if this write fails.
        try:
            merchants.remember_customer(merchant.merchant_id, payment.user_id)
        except Exception:
            log.warning("could not record the merchant's customer", exc_info=True)
    return _passthrough(answer)


@bp.get("/payments/<payment_id>")
def get_payment(payment_id: str) -> Response:
    merchant = _authenticated()
    validation.path_id(payment_id, "payment")
    with request_baggage.carried():
        answer = _call(
            "payment",
            "GET",
            f"/v1/payments/{payment_id}",
            headers={"X-Merchant-Id": merchant.merchant_id},
            idempotent=True,
        )
    return _passthrough(answer)


@bp.post("/payments/<payment_id>/refunds")
def create_refund(payment_id: str) -> Response:
    merchant = _authenticated()
    key = validation.idempotency_key(request.headers.get("Idempotency-Key"), required=False)
    refund = validation.validate(validation.RefundRequest, validation.parse_json(request.get_data()))
    validation.path_id(payment_id, "payment")
    headers = {"X-Merchant-Id": merchant.merchant_id}
    if key:
        headers["Idempotency-Key"] = key
    with request_baggage.carried():
        answer = _call(
            "payment",
            "POST",
            f"/v1/payments/{payment_id}/refunds",
            json=refund.model_dump(),
            headers=headers,
            idempotent=False,
        )
    return _passthrough(answer)


@bp.get("/accounts/<user_id>")
def get_balance(user_id: str) -> Response:
    merchant = _authenticated()
    validation.path_user_id(user_id)
    currency = validation.currency_param(request.args.get("currency"))
    # A merchant reads only its own customers' balances; others look exactly like unknown users.
    if not merchants.is_customer(merchant.merchant_id, user_id):
        raise ApiError(404, "account_not_found", "account not found")
    with request_baggage.carried(user_id=user_id):
        answer = _call(
            "account",
            "GET",
            f"/v1/accounts/{quote(user_id, safe='')}",
            params={"currency": currency},
            idempotent=True,
        )
    return _passthrough(answer)
