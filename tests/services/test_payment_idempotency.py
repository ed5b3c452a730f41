"""Unit tests of the idempotency store against a real Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from apps.common import metrics, redis_client
from apps.payment import idempotency
from apps.payment.idempotency import IdempotencyStore, Outcome, StoreUnavailable, fingerprint
from tests.services.service_harness import free_port

BODY = {"user_id": "u1", "amount": 500, "currency": "EUR", "payment_method": "card", "description": None}


@pytest.fixture
def store(app_env: Callable[..., None], redis_server: Any) -> IdempotencyStore:
    app_env("payment", REDIS_URL=redis_server.url)
    return IdempotencyStore("payment")


def _key() -> str:
    return f"key-{uuid.uuid4().hex}"


def test_a_new_key_is_claimed_and_a_duplicate_is_in_flight(store: IdempotencyStore) -> None:
    key = _key()
    first = store.claim("m1", key, BODY, 5_000)
    assert first.outcome == Outcome.NEW
    assert store.claim("m1", key, BODY, 5_000).outcome == Outcome.IN_FLIGHT
    assert store.claim("m1", key, {**BODY, "amount": 501}, 5_000).outcome == Outcome.CONFLICT


def test_a_completed_key_replays_the_exact_bytes_for_24_hours(store: IdempotencyStore) -> None:
    key = _key()
    claim = store.claim("m1", key, BODY, 5_000)
    body = b'{"payment_id":"p","status":"succeeded","description":"caf\xc3\xa9"}'
    assert store.complete(claim, 201, body)
    again = store.claim("m1", key, dict(reversed(list(BODY.items()))), 5_000)
    assert again.outcome == Outcome.REPLAYED
    assert again.response is not None
    assert (again.response.status, again.response.body) == (201, body)
    ttl = redis_client.client().ttl(claim.key)
    assert 24 * 3600 - 60 < ttl <= 24 * 3600
    assert store.claim("m1", key, {**BODY, "amount": 1}, 5_000).outcome == Outcome.CONFLICT


def test_keys_are_scoped_by_merchant(store: IdempotencyStore) -> None:
    key = _key()
    assert store.claim("m1", key, BODY, 5_000).outcome == Outcome.NEW
    assert store.claim("m2", key, BODY, 5_000).outcome == Outcome.NEW


def test_the_in_flight_claim_expires_after_the_deadline(
    store: IdempotencyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _key()
    claim = store.claim("m1", key, BODY, 2_000)
    ttl_ms = redis_client.client().pttl(claim.key)
    assert 0 < ttl_ms <= 2_000 + idempotency.CLAIM_MARGIN_MS
    monkeypatch.setattr(idempotency, "CLAIM_MARGIN_MS", 0)
    crashed_key = _key()
    assert store.claim("m1", crashed_key, BODY, 50).outcome == Outcome.NEW
    time.sleep(0.2)  # the request "crashed" and never completed: its claim is gone
    assert store.claim("m1", crashed_key, BODY, 5_000).outcome == Outcome.NEW


def test_a_release_frees_the_key_and_a_stale_claim_cannot_complete(store: IdempotencyStore) -> None:
    key = _key()
    claim = store.claim("m1", key, BODY, 5_000)
    store.release(claim)
    newer = store.claim("m1", key, BODY, 5_000)
    assert newer.outcome == Outcome.NEW
    assert not store.complete(claim, 201, b"{}")  # the old token no longer owns the key
    assert store.complete(newer, 402, b'{"status":"failed"}')


def test_fingerprint_ignores_key_order_but_not_values() -> None:
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_an_unreachable_store_refuses_and_is_counted(app_env: Callable[..., None]) -> None:
    app_env("payment", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", REDIS_TIMEOUT_S="0.2")
    counter = metrics.counter("payment_idempotency_store_errors_total")
    before = counter._value.get()
    with pytest.raises(StoreUnavailable):
        IdempotencyStore("payment").claim("m1", _key(), BODY, 5_000)
    assert counter._value.get() == before + 1
