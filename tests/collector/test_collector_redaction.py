"""Redaction proven on data: spans and log records carrying every sensitive attribute our services
could emit go through the redaction rules exactly as rendered in each generated config.

The attribute list comes from what the services handle (the gateway's X-Api-Key, X-Signature,
Idempotency-Key headers, card data in payment_method/description, user emails) and from the
OpenTelemetry semantic conventions for HTTP (http.request.header.<name>, url.full, url.query,
the older http.url/http.target) and databases (db.query.text, the older db.statement).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from obsctl.generate.collector import ottl_eval

CARD = "4111111111111111"
CARD_SPACED = "5500 0000 0000 0004"
CARD_DASHED = "3782-822463-10005"  # Amex, 15 digits
CVV = "737"
API_KEY = "pk_live_Zx81QwErTy"
SIGNATURE = "9f2c4a7b1e0d83c5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9"
SECRET = "whsec_Mn3PqRsTuV"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
PASSWORD = "hunter2-Pa55"
EMAIL = "alice.merchant+test@example.com"
EMAIL_2 = "bob@shop.example.org"

SECRETS = [CARD, CARD_SPACED, CARD_DASHED, API_KEY, SIGNATURE, SECRET, TOKEN, PASSWORD, EMAIL, EMAIL_2]


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# What a payment request could leave on the gateway's server span (zero-code Flask/requests
# instrumentation with header capture on, plus business attributes set through the API).
SENSITIVE_SPAN_ATTRIBUTES: dict[str, Any] = {
    # headers (semantic conventions: lowercase name, value is a string array)
    "http.request.header.x-api-key": [API_KEY],
    "http.request.header.x-signature": [SIGNATURE],
    "http.request.header.authorization": [f"Bearer {TOKEN}"],
    "http.request.header.cookie": [f"session={TOKEN}"],
    "http.response.header.set-cookie": [f"session={TOKEN}; HttpOnly"],
    "http.request.header.x-webhook-secret": [SECRET],
    # card data
    "payment.card.number": CARD,
    "payment.card_number": CARD_SPACED,
    "card.pan": CARD_DASHED,
    "payment.card.cvv": CVV,
    "card_cvc": CVV,
    "payment.card.security_code": CVV,
    # keys, secrets, passwords by attribute name
    "merchant.api_key": API_KEY,
    "merchant.apiKey": API_KEY,
    "merchant.secret": SECRET,
    "webhook.signing_secret": SECRET,
    "request.signature": SIGNATURE,
    "db.password": PASSWORD,
    "oauth.access_token": TOKEN,
    # emails
    "user.email": EMAIL,
    "enduser.email": EMAIL_2,
    # URLs with credentials and card data in the query string
    "url.full": f"https://gw.example.com/api/v1/payments?api_key={API_KEY}&signature={SIGNATURE}&email={EMAIL}",
    "url.query": f"token={TOKEN}&card={CARD}&cvv={CVV}",
    "http.url": f"http://payment:8000/internal/charge?access_token={TOKEN}&pan={CARD}",
    "http.target": f"/api/v1/payments?apikey={API_KEY}&password={PASSWORD}",
    # database statements with literal values
    "db.query.text": f"SELECT id FROM users WHERE email = '{EMAIL}' AND card_number = '{CARD}'",
    "db.statement": f"UPDATE merchants SET api_key = '{API_KEY}', secret='{SECRET}' WHERE id = 7",
    # free text a merchant controls
    "payment.description": f"Order for {EMAIL_2}, card {CARD_SPACED}, cvv={CVV}",
    "payment.payment_method": f"card:{CARD}",
}

# Attributes that carry nothing sensitive and must arrive unchanged.
HARMLESS_SPAN_ATTRIBUTES: dict[str, Any] = {
    "http.request.method": "POST",
    "http.route": "/api/v1/payments/{payment_id}/refunds",
    "url.path": "/api/v1/payments/pay_01HZX3/refunds",
    "url.scheme": "https",
    "http.response.status_code": 402,
    "http.request.header.idempotency-key": ["3f6c1d2e-9a8b-4c7d-8e6f-5a4b3c2d1e0f"],
    "http.request.header.x-timestamp": ["1732245600"],
    "http.request.header.content-type": ["application/json"],
    "http.request.header.x-request-id": ["req-7c9e6679"],
    "server.address": "gateway",
    "server.port": 8000,
    "client.address": "10.42.0.17",
    "user_agent.original": "payment-load/1.0",
    "db.system": "postgresql",
    "db.system.name": "postgresql",
    "db.operation.name": "SELECT",
    "db.collection.name": "payments",
    "db.query.text.safe": "SELECT status FROM payments WHERE id = %s",
    "messaging.system": "kafka",
    "messaging.destination.name": "payments.events",
    "messaging.kafka.message.key": "pay_01HZX3",
    "payment.id": "pay_01HZX3",
    "payment.amount_minor": 125000,
    "payment.currency": "EUR",
    "payment.status": "failed",
    "payment.decline_reason": "insufficient_funds",
    "risk.decision": "approve",
    "risk.score": 0.12,
    # set by the services themselves (apps/gateway/routes.py, apps/notification/consumer.py)
    "merchant.id": "m_42",
    "payment.event_type": "payment.succeeded",
    "notification.result": "sent",
    "user.id": "u_1001",
    "deadline.remaining_ms": 4870,
    "payment.card.last4": "1111",
    "payment.card.brand": "visa",
    "trace.sampled": True,
}


def _span() -> dict[str, Any]:
    return {
        "attributes": {**SENSITIVE_SPAN_ATTRIBUTES, **HARMLESS_SPAN_ATTRIBUTES},
        "events": [
            {
                "name": "exception",
                "attributes": {
                    "exception.type": "ChannelDeclined",
                    "exception.message": f"card {CARD} declined for {EMAIL}; Authorization: Bearer {TOKEN}",
                    "exception.stacktrace": f'File "charge.py", line 12\n  pan="{CARD}" cvv="{CVV}"',
                    "payment.card.cvv": CVV,
                },
            }
        ],
    }


def _log(body: Any) -> dict[str, Any]:
    return {"body": body, "attributes": {**SENSITIVE_SPAN_ATTRIBUTES, **HARMLESS_SPAN_ATTRIBUTES}}


LOG_BODIES = [
    f"payment failed for {EMAIL}: card {CARD} declined",
    f'request body {{"card_number": "{CARD}", "cvv": "{CVV}", "email": "{EMAIL_2}"}}',
    f"headers: X-Api-Key={API_KEY} X-Signature={SIGNATURE} Authorization: Basic {TOKEN}",
    f"connecting with password={PASSWORD} secret: {SECRET}",
]


def _assert_nothing_sensitive(record: dict[str, Any]) -> None:
    dumped = json.dumps(record)
    for secret in SECRETS:
        assert secret not in dumped, f"{secret!r} survived: {dumped}"
    # The CVV is three digits, so look for it only where a key could carry it.
    for key, value in record["attributes"].items():
        if "cvv" in key.lower() or "cvc" in key.lower() or "security_code" in key.lower():
            pytest.fail(f"{key}={value!r} survived")
        if isinstance(value, str):
            assert f"cvv={CVV}" not in value and f'"cvv": "{CVV}"' not in value, (key, value)
    for unmasked in ("41111111", "55000000", "5500 0000", "3782-8224"):
        assert unmasked not in dumped, unmasked


@pytest.mark.parametrize("environment", ["local", "kubernetes"])
def test_spans_lose_every_sensitive_value(configs: dict, environment: str) -> None:
    out = ottl_eval.redact_span(configs[environment], _span())
    _assert_nothing_sensitive(out)
    _assert_nothing_sensitive({"attributes": out["events"][0]["attributes"]})


@pytest.mark.parametrize("environment", ["local", "kubernetes"])
def test_spans_keep_what_is_useful(configs: dict, environment: str) -> None:
    attrs = ottl_eval.redact_span(configs[environment], _span())["attributes"]
    for key, value in HARMLESS_SPAN_ATTRIBUTES.items():
        assert attrs.get(key) == value, key
    # card numbers keep their last four digits, emails become a stable hash
    assert attrs["payment.card.number"] == "****1111"
    assert attrs["payment.card_number"] == "****0004"
    assert attrs["card.pan"] == "****0005"
    assert attrs["user.email"] == sha(EMAIL)
    assert attrs["enduser.email"] == sha(EMAIL_2)
    assert attrs["payment.payment_method"] == "card:****1111"
    # URLs and statements keep their shape, only the values go
    assert attrs["url.full"] == (
        f"https://gw.example.com/api/v1/payments?api_key=[REDACTED]&signature=[REDACTED]&email={sha(EMAIL)}"
    )
    assert attrs["url.query"] == "token=[REDACTED]&card=****1111&cvv=[REDACTED]"
    assert attrs["db.query.text"] == (
        f"SELECT id FROM users WHERE email = '{sha(EMAIL)}' AND card_number = '****1111'"
    )
    assert attrs["db.statement"].startswith("UPDATE merchants SET api_key = '[REDACTED]")
    # header arrays of credentials are deleted outright (pattern replacement only sees strings)
    for gone in (
        "http.request.header.x-api-key",
        "http.request.header.x-signature",
        "http.request.header.authorization",
    ):
        assert gone not in attrs
    event = ottl_eval.redact_span(configs[environment], _span())["events"][0]["attributes"]
    assert event["exception.type"] == "ChannelDeclined"
    assert (
        event["exception.message"]
        == f"card ****1111 declined for {sha(EMAIL)}; Authorization: Bearer [REDACTED]"
    )


@pytest.mark.parametrize("environment", ["local", "kubernetes"])
@pytest.mark.parametrize("body", LOG_BODIES)
def test_log_records_lose_every_sensitive_value(configs: dict, environment: str, body: str) -> None:
    out = ottl_eval.redact_log(configs[environment], _log(body))
    _assert_nothing_sensitive(out)
    assert f'cvv": "{CVV}' not in out["body"] and f"cvv={CVV}" not in out["body"]
    for key, value in HARMLESS_SPAN_ATTRIBUTES.items():
        assert out["attributes"].get(key) == value, key


def test_log_body_keeps_its_message(configs: dict) -> None:
    out = ottl_eval.redact_log(configs["kubernetes"], _log(LOG_BODIES[0]))
    assert out["body"] == f"payment failed for {sha(EMAIL)}: card ****1111 declined"


def test_structured_log_body_is_left_alone_not_dropped(configs: dict) -> None:
    """A map body is no string: body statements are skipped (error_mode ignore), attributes still redacted."""
    out = ottl_eval.redact_log(configs["kubernetes"], _log({"event": "payment.created", "amount_minor": 100}))
    assert out["body"] == {"event": "payment.created", "amount_minor": 100}
    assert "merchant.api_key" not in out["attributes"]


def test_without_the_transform_nothing_is_redacted(configs: dict) -> None:
    """The proof depends on the rendered rules: remove them and the secrets survive."""
    config = configs["kubernetes"]
    config["processors"]["transform/redact"]["trace_statements"] = []
    out = ottl_eval.redact_span(config, _span())
    assert out["attributes"]["payment.card.number"] == CARD


def test_a_weakened_rule_lets_card_numbers_through(configs: dict) -> None:
    config = configs["kubernetes"]
    statements = config["processors"]["transform/redact"]["trace_statements"][0]["statements"]
    statements[:] = [s for s in statements if "{9,15}" not in s]
    out = ottl_eval.redact_span(config, _span())
    assert out["attributes"]["payment.card.number"] == CARD
