"""The public API, /api/v1: authenticate, validate, forward, and pass the answer through.

A merchant charges and reads only its own customers (gateway.merchant_users); any other user,
whether it exists or not, gets the same answer, so nothing tells another merchant's customer
from a user who does not exist.

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

import hashlib
import logging
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, g, request
from opentelemetry import trace
from werkzeug.exceptions import RequestEntityTooLarge

from apps.common import internal_auth
from apps.common.errors import ApiError, DependencyError
from apps.common.http import ServiceClient, ServiceResponse
from apps.gateway import auth, merchants, ratelimit, request_baggage, validation
from apps.gateway.merchants import Merchant

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Headers of the payment service's answer that mean something to the merchant.
_PASSED_HEADERS = ("Idempotent-Replayed", "Idempotency-Replayed", "Retry-After")
log = logging.getLogger(__name__)


def _client(name: str) -> ServiceClient:
    client: ServiceClient = current_app.extensions["clients"][name]
    return client


def _authenticated(*, keyed: bool = False) -> Merchant:
    """The request's merchant, after the body size (413) and, for a `keyed` route, the syntax of its
    Idempotency-Key (400): the signature covers the key, and a key that is not printable ASCII
    could not be signed the same way on both sides (the answer would be a misleading 401)."""
    body = request.get_data(cache=True)  # over the limit: 413 before any other work
    if len(body) > validation.MAX_BODY_BYTES:
        raise RequestEntityTooLarge()
    if keyed:
        _idempotency_key_header()
    merchant = auth.authenticate(request.headers, request.method, internal_auth.request_target(request), body)
    ratelimit.check(merchant)
    g.merchant = merchant
    trace.get_current_span().set_attribute("merchant.id", merchant.merchant_id)
    return merchant


def _call(service: str, method: str, path: str, **kwargs: Any) -> ServiceResponse:
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


def _passthrough(answer: ServiceResponse) -> Response:
    response = Response(
        answer.content,
        status=answer.status_code,
        content_type=answer.headers.get("Content-Type", "application/json"),
    )
    for name in _PASSED_HEADERS:
        if name in answer.headers:
            response.headers[name] = answer.headers[name]
    return response


def _log_answer(subject: str, answer: ServiceResponse, payment_id: str | None = None) -> None:
    """One line per payment or refund (`subject`) answered: ids, status and reason, read from the
    payment service's answer (on an error, its code and the payment or refund it carries), never the
    body itself (the description is the merchant's free text)."""
    try:
        document = answer.json()
    except ValueError:
        document = None
    document = document if isinstance(document, dict) else {}
    error = document.get("error") if isinstance(document.get("error"), dict) else None
    found = (error.get(subject) if error else document) or {}
    found = found if isinstance(found, dict) else {}
    fields: dict[str, Any] = {"http.status_code": answer.status_code}
    if payment_id or found.get("payment_id"):
        fields["payment.id"] = str(payment_id or found["payment_id"])
    if found.get("refund_id"):
        fields["refund.id"] = str(found["refund_id"])
    for key in ("status", "failure_reason"):
        if found.get(key):
            fields[f"{subject}.{key}"] = str(found[key])
    if error and error.get("code"):
        fields["error.code"] = str(error["code"])
    log.info("%s answered", subject, extra=fields)


def _idempotency_key_header() -> str | None:
    """The Idempotency-Key header; 400 when it is there but malformed."""
    return validation.idempotency_key(request.headers.get(auth.IDEMPOTENCY_KEY_HEADER), required=False)


def _not_a_customer() -> ApiError:
    # The same answer for a user who does not exist and for another merchant's customer.
    return ApiError(422, "customer_not_found", "user_id: not a customer of this merchant", field="user_id")


@bp.post("/payments")
def create_payment() -> Response:
    merchant = _authenticated(keyed=True)
    key = validation.idempotency_key(request.headers.get(auth.IDEMPOTENCY_KEY_HEADER), required=True)
    payment = validation.validate(validation.PaymentRequest, validation.parse_json(request.get_data()))
    if not merchants.is_customer(merchant.merchant_id, payment.user_id):
        raise _not_a_customer()
    with request_baggage.carried(user_id=payment.user_id):
        answer = _call(
            "payment",
            "POST",
            "/v1/payments",
            json=payment.model_dump(exclude_none=True),
            headers={"X-Merchant-Id": merchant.merchant_id, "Idempotency-Key": str(key)},
            idempotent=False,
        )
    _log_answer("payment", answer)
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


def _request_key() -> str:
    """The idempotency key of a refund sent without one: derived from its signature, so the same
    signed request sent again (a retry, or a captured copy) is the same refund, not a second one.
    A hash, so the signature itself is stored nowhere."""
    signature = request.headers.get(auth.SIGNATURE_HEADER, "")
    return "request:" + hashlib.sha256(signature.encode("utf-8", "replace")).hexdigest()


@bp.post("/payments/<payment_id>/refunds")
def create_refund(payment_id: str) -> Response:
    merchant = _authenticated(keyed=True)
    key = _idempotency_key_header() or _request_key()
    refund = validation.validate(validation.RefundRequest, validation.parse_json(request.get_data()))
    validation.path_id(payment_id, "payment")
    headers = {"X-Merchant-Id": merchant.merchant_id, "Idempotency-Key": key}
    with request_baggage.carried():
        answer = _call(
            "payment",
            "POST",
            f"/v1/payments/{payment_id}/refunds",
            json=refund.model_dump(),
            headers=headers,
            idempotent=False,
        )
    _log_answer("refund", answer, payment_id=payment_id)
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
