"""Merchant isolation through the gateway: a merchant charges and reads only its own customers, and
another merchant's customer looks exactly like a user who does not exist."""

from __future__ import annotations

import secrets

import pytest

from tests.api.conftest import MoneyPath, assert_error

# These need the whole money path (make test-unit leaves them out).
pytestmark = pytest.mark.slow


def test_a_payment_for_another_merchants_customer_answers_like_an_unknown_user(money_path: MoneyPath) -> None:
    customer = money_path.new_user(10_000)  # the demo merchant's
    other = money_path.new_merchant()
    before = money_path.snapshot()
    theirs = other.create_payment(money_path.payment(customer, 500))
    unknown = other.create_payment(money_path.payment("nobody-" + secrets.token_hex(4), 500))
    assert theirs.status_code == unknown.status_code
    assert 400 <= theirs.status_code < 500 and theirs.status_code != 402, theirs.text
    error = assert_error(theirs, theirs.status_code)
    assert error["field"] == "user_id"
    assert theirs.content == unknown.content  # the same bytes: nothing tells them apart
    assert money_path.snapshot() == before  # no payment row, no movement, no balance changed


def test_the_merchants_own_unknown_user_answers_the_same_way(money_path: MoneyPath) -> None:
    other = money_path.new_merchant()
    foreign = other.create_payment(money_path.payment(money_path.new_user(1_000), 10))
    unknown = money_path.client.create_payment(money_path.payment("nobody-" + secrets.token_hex(4), 10))
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (
        foreign.status_code,
        foreign.json()["error"]["code"],
    )


def test_another_merchants_customer_balance_is_refused_like_an_unknown_one(money_path: MoneyPath) -> None:
    customer = money_path.new_user(2_000)
    other = money_path.new_merchant()
    other.create_payment(money_path.payment(customer, 100))  # refused: does not make it a customer
    theirs = other.balance(customer, money_path.currency)
    unknown = other.balance("nobody-" + secrets.token_hex(4), money_path.currency)
    assert_error(theirs, 404, "account_not_found")
    assert_error(unknown, 404, "account_not_found")
    assert theirs.content == unknown.content
    assert money_path.balance(customer) == 2_000
    # The owner still reads it.
    assert money_path.client.balance(customer, money_path.currency).json()["balance"] == 2_000
