"""A quick redaction probe `obsctl check` runs on every generated config.

tests/collector holds the full proof; this probe makes `make check` fail as soon as an edit to
observability/collector.yaml lets a card number, CVV, key, signature or email through.
"""

from __future__ import annotations

from typing import Any

from obsctl.generate.collector import ottl_eval

_CARD, _CVV, _KEY, _SIG, _EMAIL = (
    "4111111111111111",
    "737",
    "pk_live_probe1",
    "a1b2c3d4e5f6",
    "probe@example.com",
)

_ATTRIBUTES: dict[str, Any] = {
    "payment.card.number": _CARD,
    "payment.card.cvv": _CVV,
    "http.request.header.x-api-key": [_KEY],
    "http.request.header.x-signature": [_SIG],
    "user.email": _EMAIL,
    "url.full": f"https://gw/api/v1/payments?api_key={_KEY}&cvv={_CVV}",
    "db.query.text": f"SELECT 1 FROM users WHERE email = '{_EMAIL}' AND pan = '{_CARD}'",
}
_SECRETS = (_CARD, _KEY, _SIG, _EMAIL, f"cvv={_CVV}", "payment.card.cvv")


def probe(config: dict[str, Any]) -> list[str]:
    problems = []
    try:
        outputs = {
            "span": ottl_eval.redact_span(config, {"attributes": dict(_ATTRIBUTES), "events": []}),
            "log record": ottl_eval.redact_log(
                config, {"body": f"card {_CARD} for {_EMAIL}", "attributes": dict(_ATTRIBUTES)}
            ),
        }
    except ottl_eval.OttlError as exc:
        return [f"redaction: {exc}"]
    for kind, record in outputs.items():
        text = repr(record)
        problems += [f"redaction: {secret!r} survives in a {kind}" for secret in _SECRETS if secret in text]
    if outputs["span"]["attributes"].get("payment.card.number") != "****1111":
        problems.append("redaction: card numbers must keep exactly their last four digits (****1111)")
    return problems
