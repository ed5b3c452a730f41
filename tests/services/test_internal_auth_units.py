"""The internal token without servers: the tooling signs as the services verify, a service without
the secret does not start, and the local stack's secret is made once per state directory."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from apps.common import internal_auth
from apps.common.config import ConfigError
from obsctl.run import internal_secret


@pytest.mark.parametrize(
    ("method", "target", "body", "merchant", "key"),
    [
        ("PUT", "/v1/faults", b'{"decline_rate":1}', "", ""),
        ("post", "/v1/payments", b"{}", "merchant-1", "key-1"),
        ("GET", "/v1/accounts/u%201?currency=EUR", b"", "", ""),
    ],
)
def test_the_tooling_signs_as_the_services_verify(
    method: str, target: str, body: bytes, merchant: str, key: str
) -> None:
    ours = internal_secret.token(
        "s3cret", "operator", method, target, body, merchant_id=merchant, idempotency_key=key, timestamp=1
    )
    theirs = internal_auth.token(
        "s3cret", "operator", method, target, body, merchant_id=merchant, idempotency_key=key, timestamp=1
    )
    assert ours == theirs
    assert (internal_secret.HEADER, internal_secret.VARIABLE, internal_secret.OPERATOR) == (
        internal_auth.HEADER,
        internal_auth.SECRET_VARIABLE,
        internal_auth.OPERATOR,
    )


def test_both_request_auths_sign_the_prepared_request_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)

    def prepared() -> requests.PreparedRequest:
        return requests.Request(
            "POST",
            "http://payment/v1/payments?x=1",
            json={"a": 1},
            headers={"X-Merchant-Id": "m", "Idempotency-Key": "k"},
        ).prepare()

    ours = internal_secret.Signed("gateway", "s3cret")(prepared()).headers[internal_auth.HEADER]
    theirs = internal_auth.InternalAuth("gateway", "s3cret")(prepared()).headers[internal_auth.HEADER]
    assert ours == theirs
    assert ours.startswith("gateway:1700000000:")
    assert "s3cret" not in repr(internal_secret.Signed("gateway", "s3cret"))
    assert "s3cret" not in repr(internal_auth.InternalAuth("gateway", "s3cret"))


@pytest.mark.parametrize("service", ["account", "risk", "channel", "payment", "gateway"])
def test_a_service_without_the_secret_does_not_start(
    app_env: Callable[..., None], monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    app_env(
        service,
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
        REDIS_URL="redis://127.0.0.1:1/0",
        PAYMENT_URL="http://127.0.0.1:1",
        ACCOUNT_URL="http://127.0.0.1:1",
        RISK_URL="http://127.0.0.1:1",
        CHANNEL_URL="http://127.0.0.1:1",
        PAYMENT_RECONCILE_INTERVAL_S="0",
    )
    monkeypatch.delenv(internal_auth.SECRET_VARIABLE)
    module = __import__(f"apps.{service}.app", fromlist=["create_app"])
    with pytest.raises(ConfigError, match=internal_auth.SECRET_VARIABLE):
        module.create_app()


def test_the_stacks_secret_is_made_once_per_state_directory(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = set(pool.map(lambda _i: internal_secret.for_state_dir(tmp_path), range(32)))
    assert len(made) == 1
    (secret,) = made
    assert len(secret) == 64
    path = tmp_path / "run" / "internal-auth-secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert internal_secret.for_state_dir(tmp_path) == secret
    assert internal_secret.for_state_dir(tmp_path / "other") != secret
    assert [p.name for p in path.parent.iterdir()] == ["internal-auth-secret"]  # no drafts left
