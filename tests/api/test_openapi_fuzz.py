"""schemathesis against the OpenAPI document: generated valid and invalid requests, signed by the
demo merchant, never get a 5xx, and every answer conforms to the document (status code, content
type, headers, body schema). Bounded: a fixed number of examples per operation and mode.

The document is read from the repository (apps/gateway/openapi.yaml) to build the tests, and a
separate test checks that the gateway serves that same document.
"""

from __future__ import annotations

import os
import uuid

import pytest
import requests
import schemathesis
import schemathesis.checks
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.gateway.app import OPENAPI_PATH
from apps.gateway.client import SigningAuth
from tests.api.conftest import MoneyPath

# These need the whole money path (make test-unit leaves them out).
pytestmark = pytest.mark.slow

RAW = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
SCHEMA = schemathesis.openapi.from_dict(RAW)
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))


def test_gateway_serves_the_repository_document(money_path: MoneyPath) -> None:
    served = requests.get(money_path.gateway_url + "/api/v1/openapi.json", timeout=5)
    assert served.status_code == 200
    assert served.json() == RAW


def test_document_covers_every_public_route() -> None:
    assert set(OPERATIONS) == {
        "POST /api/v1/payments",
        "GET /api/v1/payments/{payment_id}",
        "POST /api/v1/payments/{payment_id}/refunds",
        "GET /api/v1/accounts/{user_id}",
        "GET /api/v1/openapi.json",
    }


SECURITY_HEADERS = ("X-Api-Key", "X-Timestamp", "X-Signature")


class CaseAuth(SigningAuth):
    """Signs the request validly, but leaves out the security headers the generated case left out
    (a negative case may drop one to check that the gateway refuses it)."""

    present: set[str] = set()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request = super().__call__(request)
        for name in SECURITY_HEADERS:
            if name.lower() not in self.present:
                request.headers.pop(name, None)
        return request


@pytest.fixture(scope="module")
def signing_session() -> requests.Session:
    return requests.Session()


# Every operation in both modes, except the document itself: without parameters or a body there
# is no invalid request to generate for it.
CASES = [
    pytest.param(label, mode, id=f"{label} {mode.value}")
    for label in sorted(OPERATIONS)
    for mode in schemathesis.GenerationMode
    if not (label == "GET /api/v1/openapi.json" and mode is schemathesis.GenerationMode.NEGATIVE)
]


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_gateway_conforms_to_its_document(
    money_path: MoneyPath, signing_session: requests.Session, label: str, mode: schemathesis.GenerationMode
) -> None:
    operation = OPERATIONS[label]
    # One signer for the whole run: it never signs one request twice with the same timestamp, so
    # hypothesis repeating a keyless refund example makes a refund each time, as a client would.
    auth = CaseAuth(money_path.client.api_key, money_path.client.api_secret)
    seen: list[int] = []

    @given(data=st.data())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy(generation_mode=mode))
        auth.present = {name.lower() for name in (case.headers or {})}
        positive = mode is schemathesis.GenerationMode.POSITIVE
        if positive and case.headers and "Idempotency-Key" in case.headers:
            # A fresh key: generated keys collide (409) and would hide the payment path behind them.
            case.headers["Idempotency-Key"] = uuid.uuid4().hex
        response = case.call(base_url=money_path.gateway_url, session=signing_session, auth=auth, timeout=15)
        seen.append(response.status_code)
        assert response.status_code < 500, (case.as_curl_command(), response.status_code, response.text)
        # Conformance, minus "valid data is accepted": a schema-valid payment for a user who is
        # not one of the merchant's customers is refused (422 customer_not_found), as documented.
        case.validate_response(response, excluded_checks=[schemathesis.checks.positive_data_acceptance])

    run()
    assert seen, "no request was sent"
