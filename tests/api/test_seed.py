"""apps.seed.seed_demo: one demo merchant, at least 20 funded users; a re-run returns the same merchant
and funds nobody twice."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from apps.common.migrate import migrate
from apps.seed import seed_demo


def test_seed_demo_is_idempotent(make_database: Callable[..., str]) -> None:
    dsn = make_database("seed")
    migrate(dsn)
    first = seed_demo(dsn)
    assert set(first) >= {"api_key", "api_secret", "merchant_id", "user_ids", "currency"}
    assert len(first["user_ids"]) == len(set(first["user_ids"])) >= 20
    assert first["api_key"] and first["api_secret"] and first["api_key"] != first["api_secret"]
    with psycopg.connect(dsn) as conn:
        total = conn.execute("SELECT sum(balance) FROM ledger.accounts WHERE kind = 'user'").fetchone()
    again = seed_demo(dsn)
    assert again == first
    with psycopg.connect(dsn) as conn:
        query = "SELECT sum(balance) FROM ledger.accounts WHERE kind = 'user'"
        assert conn.execute(query).fetchone() == total
        assert conn.execute("SELECT count(*) FROM gateway.merchants").fetchone() == (1,)
        customers = conn.execute("SELECT count(*) FROM gateway.merchant_users").fetchone()
    assert customers == (len(first["user_ids"]),)
    assert total is not None and total[0] > 0


def test_seeded_credentials_differ_between_databases(make_database: Callable[..., str]) -> None:
    one, two = make_database("a"), make_database("b")
    migrate(one)
    migrate(two)
    assert seed_demo(one)["api_key"] != seed_demo(two)["api_key"]
