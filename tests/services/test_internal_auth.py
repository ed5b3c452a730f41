"""Service-to-service authentication on the real money path (gunicorn): an internal service accepts
a call only with a valid internal token (apps/common/internal_auth.py) from one of its callers in
the catalog's `calls` graph. Unsigned calls, tampered or stale tokens and callers that may not
call the service are refused with the JSON error body, and nothing moves."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

import catalog
from tests.services.payment_harness import MERCHANT, PaymentServices

# The payment_services money path: several services under gunicorn.
pytestmark = pytest.mark.slow

INTERNAL = [name for name, s in catalog.default().services.items() if not s.public]


def assert_refused(answer: requests.Response, status: int) -> None:
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["Content-Type"].startswith("application/json")
    error = answer.json()["error"]
    assert {"code", "message", "field"} <= set(error), error


def test_an_unsigned_payment_on_the_payment_service_is_refused(payment_services: PaymentServices) -> None:
    s = payment_services
    user = s.new_users(1, 10_000)[0]
    body = {"user_id": user, "amount": 500, "currency": "EUR", "payment_method": "card"}
    answer = requests.post(
        f"{s.payment}/v1/payments",
        json=body,
        headers={"X-Merchant-Id": "anyone", "Idempotency-Key": uuid.uuid4().hex},
        timeout=10,
    )
    assert_refused(answer, 401)
    assert s.balance(user) == 10_000
    assert s.query("SELECT 1 FROM payment.payments WHERE user_id = %s", user) == []


def test_an_unsigned_refund_credit_on_account_is_refused(payment_services: PaymentServices) -> None:
    s = payment_services
    user = s.new_users(1, 1_000)[0]
    credit = {
        "reference_id": "made-up-" + uuid.uuid4().hex,
        "kind": "refund",
        "user_id": user,
        "currency": "EUR",
        "amount": 99_999,
    }
    answer = requests.post(f"{s.urls['account']}/v1/ledger/credits", json=credit, timeout=10)
    assert_refused(answer, 401)
    assert s.balance(user) == 1_000


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [
        ("payment", "GET", "/v1/payments/00000000-0000-0000-0000-000000000000"),
        ("payment", "POST", "/v1/payments/00000000-0000-0000-0000-000000000000/refunds"),
        ("account", "POST", "/v1/ledger/debits"),
        ("account", "GET", "/v1/accounts/someone?currency=EUR"),
        ("risk", "POST", "/v1/risk/evaluations"),
        ("channel", "POST", "/v1/charges"),
        ("channel", "GET", "/v1/charges/someone"),
        ("channel", "POST", "/v1/refunds"),
        ("channel", "PUT", "/v1/faults"),
        ("channel", "DELETE", "/v1/faults"),
    ],
)
def test_every_internal_route_refuses_an_unsigned_call(
    payment_services: PaymentServices, service: str, method: str, path: str
) -> None:
    answer = requests.request(
        method,
        payment_services.urls[service] + path,
        json={},
        headers={"X-Merchant-Id": MERCHANT},
        timeout=10,
    )
    assert_refused(answer, 401)


def test_probes_and_metrics_need_no_token(payment_services: PaymentServices) -> None:
    for name in ("payment", "account", "risk", "channel"):
        for path in ("/healthz", "/readyz", "/metrics"):
            assert requests.get(payment_services.urls[name] + path, timeout=10).status_code == 200


def test_a_caller_the_catalog_does_not_allow_is_403(payment_services: PaymentServices) -> None:
    from apps.common import internal_auth

    s = payment_services
    user = s.new_users(1, 1_000)[0]
    debit = {"payment_id": str(uuid.uuid4()), "user_id": user, "currency": "EUR", "amount": 100}
    # risk calls nobody; account's callers are gateway and payment.
    assert "risk" not in internal_auth.allowed_callers("account")
    as_risk = internal_auth.InternalAuth("risk", s.internal_secret)
    answer = requests.post(f"{s.urls['account']}/v1/ledger/debits", json=debit, auth=as_risk, timeout=10)
    assert_refused(answer, 403)
    assert answer.json()["error"]["code"] == "caller_not_allowed"
    # The gateway may not charge: it calls payment, never the channel.
    charge = {"payment_id": str(uuid.uuid4()), "amount": 100, "currency": "EUR", "channel": "card"}
    as_gateway = internal_auth.InternalAuth("gateway", s.internal_secret)
    answer = requests.post(f"{s.urls['channel']}/v1/charges", json=charge, auth=as_gateway, timeout=10)
    assert_refused(answer, 403)
    assert s.balance(user) == 1_000
    # Signed by its real caller, the same debit is booked.
    as_payment = internal_auth.InternalAuth("payment", s.internal_secret)
    answer = requests.post(f"{s.urls['account']}/v1/ledger/debits", json=debit, auth=as_payment, timeout=10)
    assert answer.status_code == 201, answer.text
    assert s.balance(user) == 900


def test_a_tampered_stale_or_foreign_token_is_401(payment_services: PaymentServices) -> None:
    from apps.common import internal_auth

    s = payment_services
    user = s.new_users(1, 10_000)[0]
    url = f"{s.payment}/v1/payments"
    body = b'{"user_id":"' + user.encode() + b'","amount":300,"currency":"EUR","payment_method":"card"}'
    key = uuid.uuid4().hex

    def headers(merchant: str, **token_args: object) -> dict[str, str]:
        token = internal_auth.token(
            str(token_args.get("secret", s.internal_secret)),
            "gateway",
            "POST",
            "/v1/payments",
            body,
            merchant_id=MERCHANT,
            idempotency_key=key,
            timestamp=int(token_args.get("timestamp", time.time())),  # type: ignore[call-overload]
        )
        return {
            "Content-Type": "application/json",
            "X-Merchant-Id": merchant,
            "Idempotency-Key": key,
            internal_auth.HEADER: token,
        }

    cases = [
        (body.replace(b"300", b"900"), headers(MERCHANT)),  # another body
        (body, headers("merchant-other")),  # the merchant header is signed
        (body, {**headers(MERCHANT), "Idempotency-Key": key + "x"}),  # so is the key
        (body, headers(MERCHANT, secret="not-the-deployment-secret")),
        (body, headers(MERCHANT, timestamp=time.time() - internal_auth.WINDOW_S - 5)),
        (body, {**headers(MERCHANT), internal_auth.HEADER: "gateway:1:zz"}),
    ]
    for sent, sent_headers in cases:
        assert_refused(requests.post(url, data=sent, headers=sent_headers, timeout=10), 401)
    assert s.balance(user) == 10_000
    answer = requests.post(url, data=body, headers=headers(MERCHANT), timeout=15)
    assert answer.status_code == 201, answer.text
    assert s.balance(user) == 10_000 - 300


def test_every_internal_service_has_callers_from_the_catalog() -> None:
    from apps.common import internal_auth

    graph = catalog.default().services
    for name in INTERNAL:
        expected = {caller for caller, s in graph.items() if name in s.calls}
        assert internal_auth.allowed_callers(name) == expected, name
    assert internal_auth.allowed_callers("payment") == {"gateway"}
    assert internal_auth.allowed_callers("account") == {"gateway", "payment"}
