"""apps.seed.seed_demo: one demo merchant, at least 20 funded users; a re-run returns the same merchant
and funds nobody twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def test_the_command_seeds_a_merchant_of_its_options_and_prints_the_result(
    make_database: Callable[..., str],
) -> None:
    """`python -m apps.seed [options]`: what `obsctl up` (no options) and the benchmark run."""
    dsn = make_database("command")
    migrate(dsn)
    argv = [sys.executable, "-m", "apps.seed", "--merchant-id=bench", "--users=3", "--user-prefix=b-"]
    done = subprocess.run(
        [*argv, "--rate-limit-per-minute=99"],
        env={**os.environ, "DATABASE_URL": dsn},
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["merchant_id"] == "bench"
    assert result["user_ids"] == ["b-001", "b-002", "b-003"]
    with psycopg.connect(dsn) as conn:
        limit = conn.execute(
            "SELECT rate_limit_per_minute FROM gateway.merchants WHERE merchant_id = 'bench'"
        )
        assert limit.fetchone() == (99,)
