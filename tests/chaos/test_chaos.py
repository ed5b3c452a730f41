"""Chaos: payments from retrying clients while each component is SIGKILLed and restarted (issue 16).

The whole local stack (durable PostgreSQL, Redis, tansu, the collector with Jaeger and
VictoriaLogs, the six services) runs in a state directory of its own. Merchant clients send signed
payments (obsctl/run/load/signing.py, the load generator's signing) at about 10/s, well below the
capacity docs/performance.md measures, and retry every answer that is not final (5xx, 409
idempotency_in_flight, 429, connection errors and timeouts) with the same Idempotency-Key and body,
with backoff, as docs/gateway.md's retry contract tells a client to. Meanwhile each of payment,
account, PostgreSQL, Redis, the broker and the collector in turn is SIGKILLed (the whole process
group: a crash, no shutdown) and brought back as `obsctl up` does.

Afterwards, once the reconcilers ran:
- every payment is final (no row pending) and every client got a final answer for its key;
- no acknowledged payment is lost: every 201's payment is there, succeeded; every 402 failed;
- no Idempotency-Key has two payments: at most one attempt per key succeeded or was declined,
  and it is the one the client was answered with;
- money is conserved: what the users' balances lost is exactly what the succeeded payments took,
  and the provider's approved charges are exactly the succeeded payments (after the provider
  reconciliation voided charges of payments that failed or do not exist);
- no event is lost: every final payment's outbox event has its notification, once, also the
  events the broker had acknowledged and lost in its own crash (the relays send them again).

The figures per fault (client errors, recovery time) are printed; `pytest -s` shows them.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from apps.account.seed import open_account
from apps.common import internal_auth
from obsctl.run.load.signing import signed_headers
from obsctl.run.stack import postgres as pg
from obsctl.run.stack.stack import Stack
from tests.chaos.crash import sigkill
from tests.services.service_harness import samples

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CURRENCY = "EUR"
FAULTS = ("payment", "account", "postgres", "redis", "tansu", "otelcol")
CLIENTS = 4
RATE_PER_CLIENT = 2.5  # payments per second per client: 10/s in all
STEADY_S = 6.0  # traffic between two faults
DOWN_S = 1.0  # from the kill to the restart
BALANCE = 100_000_000
FINAL = (201, 402)


@dataclass
class Attempt:
    sent: float
    answered: float
    status: int  # 0: no answer (connection error or timeout)
    code: str = ""


@dataclass
class Key:
    key: str
    body: bytes
    amount: int
    attempts: list[Attempt] = field(default_factory=list)
    payment_id: str | None = None

    @property
    def final(self) -> Attempt | None:
        last = self.attempts[-1] if self.attempts else None
        return last if last is not None and last.status in FINAL else None


@dataclass
class Chaos:
    stack: Stack
    merchant_id: str
    api_key: str
    api_secret: str
    users: list[str]
    keys: list[Key] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    acknowledged: threading.Event = field(default_factory=threading.Event)  # set at each 201

    @property
    def dsn(self) -> str:
        return self.stack.env()["DATABASE_URL"]

    def pay_until_final(self, key: Key, give_up_at: float) -> None:
        """One client's payment: send, and retry what is not final, with the same key and body."""
        url = self.stack.server("gateway").url + "/api/v1/payments"
        backoff = 0.1
        while time.monotonic() < give_up_at:
            headers = signed_headers(
                self.api_key, self.api_secret, "POST", "/api/v1/payments", key.body, key.key
            )
            sent = time.monotonic()
            try:
                answer = requests.post(url, data=key.body, headers=headers, timeout=15)
                status, code = answer.status_code, _code(answer)
            except requests.RequestException as exc:
                answer, status, code = None, 0, type(exc).__name__
            key.attempts.append(Attempt(sent, time.monotonic(), status, code))
            if answer is not None and status in FINAL:
                if status == 201:
                    key.payment_id = answer.json()["payment_id"]
                    self.acknowledged.set()
                return
            if answer is not None and 400 <= status < 500 and status not in (409, 429):
                return  # a client error: final too (and a failure of the test, checked later)
            time.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, 1.0)

    def client(self, seed: int) -> None:
        rng = random.Random(seed)
        interval = 1.0 / RATE_PER_CLIENT
        while not self.stop.is_set():
            started = time.monotonic()
            amount = rng.randint(100, 5_000)
            body = {
                "user_id": rng.choice(self.users),
                "amount": amount,
                "currency": CURRENCY,
                "payment_method": "card",
            }
            key = Key(uuid.uuid4().hex, json.dumps(body, separators=(",", ":")).encode(), amount)
            with self.lock:
                self.keys.append(key)
            self.pay_until_final(key, give_up_at=started + 90)
            self.stop.wait(max(0.0, interval - (time.monotonic() - started)))


def _code(answer: requests.Response) -> str:
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def _seed(stack: Stack) -> tuple[str, str, str, list[str]]:
    merchant, api_key, secret = f"m-{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4().hex}", uuid.uuid4().hex
    users = [f"user-{uuid.uuid4().hex[:12]}" for _ in range(8)]
    with psycopg.connect(stack.env()["DATABASE_URL"]) as conn:
        conn.execute(
            "INSERT INTO gateway.merchants (merchant_id, name, api_key, api_secret, rate_limit_per_minute)"
            " VALUES (%s, %s, %s, %s, 1000000)",
            (merchant, f"chaos {merchant}", api_key, secret),
        )
        for user in users:
            open_account(conn, user, CURRENCY, BALANCE)
            conn.execute(
                "INSERT INTO gateway.merchant_users (merchant_id, user_id) VALUES (%s, %s)", (merchant, user)
            )
    return merchant, api_key, secret, users


@pytest.fixture(scope="module")
def chaos(state_dir_factory: Callable[[], Path]) -> Iterator[Chaos]:
    if os.environ.get(pg.DURABILITY_VARIABLE, "").lower() == "fast":
        del os.environ[pg.DURABILITY_VARIABLE]  # this test measures durability: never the fast mode
    stack = Stack(
        state_dir_factory(),
        service_env={
            # Many payments by few users in minutes: velocity scoring is not what this tests.
            "RISK_VELOCITY_MAX": "1000000",
            "RISK_FIRST_PAYMENT_POINTS": "0",
        },
    )
    try:
        stack.up(["otelcol", "services"])
        postgres = stack.server("postgres")
        assert isinstance(postgres, pg.Postgres) and postgres.durable
        yield Chaos(stack, *_seed(stack))
    finally:
        stack.down()


def query(dsn: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def wait_for(what: str, check: Any, timeout: float) -> None:
    until = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < until:
        try:
            last = check()
            if last is True:
                return
        except (psycopg.Error, requests.RequestException) as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting until {what}: {last}")


def provider_reconcile(chaos: Chaos) -> str:
    env = {
        **os.environ,
        "SERVICE_NAME": "payment",
        "DATABASE_URL": chaos.dsn,
        "CHANNEL_URL": chaos.stack.server("channel").url,
        internal_auth.SECRET_VARIABLE: chaos.stack.env()[internal_auth.SECRET_VARIABLE],
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    run = subprocess.run(
        [sys.executable, "-m", "apps.payment.provider_reconcile", "--grace", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def provider_charges(chaos: Chaos) -> dict[str, int]:
    """payment id -> amount of every approved, not voided charge at the provider."""
    url = chaos.stack.server("channel").url + "/v1/charges"
    auth = internal_auth.InternalAuth("operator", chaos.stack.env()[internal_auth.SECRET_VARIABLE])
    found: dict[str, int] = {}
    after = ""
    while True:
        page = requests.get(url, params={"limit": "1000", "after": after}, auth=auth, timeout=10).json()
        found.update({c["payment_id"]: c["amount"] for c in page["charges"]})
        if not page["next"]:
            return found
        after = page["next"]


def report(chaos: Chaos, windows: list[tuple[str, float, float, float]]) -> list[dict[str, Any]]:
    """Per fault: the client errors in its window (kill to the next fault) and the recovery time
    (kill to the first 201 of a payment first sent after the kill)."""
    with chaos.lock:
        keys = list(chaos.keys)
    rows = []
    for name, killed, restarted, until in windows:
        errors: Counter[str] = Counter()
        for key in keys:
            for a in key.attempts:
                if killed <= a.sent < until and a.status not in FINAL:
                    errors[f"{a.status or 'no answer'} {a.code}".strip()] += 1
        recovered = min(
            (
                k.attempts[-1].answered
                for k in keys
                if k.attempts
                and k.attempts[0].sent >= killed
                and k.final is not None
                and k.final.status == 201
            ),
            default=None,
        )
        rows.append(
            {
                "fault": name,
                "client_errors": sum(errors.values()),
                "by_kind": dict(errors),
                "restart_s": round(restarted - killed, 1),
                "recovery_s": round(recovered - killed, 1) if recovered is not None else None,
            }
        )
    return rows


def test_payments_survive_sigkill_of_every_component(chaos: Chaos) -> None:
    began = time.monotonic()
    clients = [threading.Thread(target=chaos.client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in clients:
        thread.start()
    time.sleep(STEADY_S)
    windows: list[tuple[str, float, float, float]] = []
    for name in FAULTS:
        victim = chaos.stack.server(name)
        if name == "postgres":
            # The worst moment for the database: right after it acknowledged a payment's commits
            # (with asynchronous commits, that payment is the one a crash loses).
            chaos.acknowledged.clear()
            assert chaos.acknowledged.wait(timeout=10), "no payment answered 201 for 10 s"
        killed, pid = time.monotonic(), victim.pid
        print(f"{time.strftime('%H:%M:%S')} SIGKILL {name}", flush=True)
        sigkill(victim)
        time.sleep(DOWN_S)  # a crashed process is not back at once: a supervisor's restart delay
        chaos.stack.up([name])  # what `obsctl up` does: the component comes back on its port
        assert chaos.stack.server(name).pid != pid
        restarted = time.monotonic()
        time.sleep(STEADY_S)
        windows.append((name, killed, restarted, time.monotonic()))
    chaos.stop.set()
    for thread in clients:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in clients)
    load_s = time.monotonic() - began
    dsn = chaos.dsn

    # Every payment final: the payment reconciler (a thread of each payment worker) finishes them.
    mine = "SELECT count(*) FROM payment.payments WHERE merchant_id = %s"
    wait_for(
        "every payment is final",
        lambda: query(dsn, mine + " AND state NOT IN ('succeeded', 'failed')", chaos.merchant_id)[0][0] == 0,
        timeout=90,
    )
    voided = provider_reconcile(chaos)

    rows = report(chaos, windows)
    keys = chaos.keys
    statuses = Counter(k.final.status if k.final else "none" for k in keys)
    print(
        f"\nchaos: {len(keys)} payments from {CLIENTS} retrying clients in {load_s:.0f} s;"
        f" finals {dict(statuses)}"
    )
    print("fault      client errors  restart  recovery  errors by kind")
    for row in rows:
        print(
            f"{row['fault']:<10} {row['client_errors']:>13}  {row['restart_s']:>6.1f}s  "
            f"{row['recovery_s'] if row['recovery_s'] is not None else '-':>7}s  {row['by_kind']}"
        )
    print(f"provider reconciliation: {voided}")

    assert len(keys) > 150, "too little traffic to say anything"
    # Every client got a final answer for its key (none gave up after 90 s of retries).
    assert [k.key for k in keys if k.final is None] == []

    payments = {
        r[0]: r[1:]
        for r in query(
            dsn,
            "SELECT payment_id::text, split_part(idempotency_key, E'\\x1f', 1), state, failure_reason, amount"
            " FROM payment.payments WHERE merchant_id = %s",
            chaos.merchant_id,
        )
    }
    # No acknowledged payment lost: each 201 names a payment that is there and succeeded.
    acknowledged = {k.payment_id: k for k in keys if k.final and k.final.status == 201}
    lost = [pid for pid in acknowledged if pid not in payments or payments[pid][1] != "succeeded"]
    assert lost == [], f"answered 201 but not succeeded: {lost}"
    # No key with two payments: one attempt per key succeeded or was declined at most, the answered one.
    decisive: Counter[str] = Counter(
        key for key, state, reason, _ in payments.values() if state == "succeeded" or reason in _DECLINES
    )
    assert [k for k, n in decisive.items() if n > 1] == []
    by_key = {k.key: k for k in keys}
    for pid, (key, state, _, amount) in payments.items():
        if state == "succeeded":
            assert by_key[key].payment_id == pid and by_key[key].amount == amount
    declined = {k.key for k in keys if k.final and k.final.status == 402}
    assert {key for key, _, reason, _ in payments.values() if reason in _DECLINES} == declined

    # Money conserved, on the ledger and at the provider.
    succeeded = {pid: amount for pid, (_, state, _, amount) in payments.items() if state == "succeeded"}
    balances = query(
        dsn,
        "SELECT coalesce(sum(balance), 0) FROM ledger.accounts WHERE kind = 'user' AND user_id = ANY(%s)",
        chaos.users,
    )[0][0]
    assert len(chaos.users) * BALANCE - balances == sum(succeeded.values())
    unbalanced = query(
        dsn,
        "SELECT e.movement_id FROM ledger.entries e GROUP BY e.movement_id HAVING sum(e.amount) <> 0",
    )
    assert unbalanced == []  # double entry: every movement sums to zero
    # The stack's demo seed makes no payments: every charge at the provider is this test's.
    assert provider_charges(chaos) == succeeded

    # No event lost, none twice: every final payment's event has exactly one notification (the
    # primary key on event_id makes "twice" impossible; redeliveries are counted as duplicates).
    # That includes the broker's own crash: tansu keeps records in memory only, so what it had
    # acknowledged but not yet delivered dies with it, and the relays send those again from the
    # outbox when they see its offsets start over (apps/payment/relay.py).
    def undelivered() -> list[tuple[Any, ...]]:
        return query(
            dsn,
            "SELECT o.event_id, o.published_at FROM payment.outbox o"
            " JOIN payment.payments p ON p.payment_id::text = o.key"
            " LEFT JOIN notification.notifications n ON n.event_id = o.event_id"
            " WHERE p.merchant_id = %s AND n.event_id IS NULL",
            chaos.merchant_id,
        )

    def every_event_delivered() -> Any:
        missing = undelivered()
        return True if not missing else f"{len(missing)} events without a notification: {missing[:5]}"

    try:
        wait_for("every event has its notification", every_event_delivered, timeout=60)
    except AssertionError:
        log = chaos.stack.state_dir / "logs" / "notification.log"
        lines = [line for line in log.read_text().splitlines() if '"level": "INFO"' not in line]
        print("\n".join(line[:400] for line in lines[-40:]))
        raise
    scraped = samples(requests.get(chaos.stack.server("payment").url + "/metrics", timeout=5).text)
    replayed = sum(value for (name, _), value in scraped.items() if name == "payment_outbox_replayed_total")
    assert replayed > 0, "the relays never saw the broker's log start over"
    print(f"broker crash: {replayed:.0f} events sent again by the relays after the broker lost its log")
    events = query(
        dsn,
        "SELECT count(*) FROM payment.outbox o JOIN payment.payments p ON p.payment_id::text = o.key"
        " WHERE p.merchant_id = %s",
        chaos.merchant_id,
    )[0][0]
    assert events == len(payments)  # one final event per payment (no refunds here)
    assert time.monotonic() - began < 300, "the chaos run must stay within 5 minutes"


_DECLINES = ("risk_rejected", "insufficient_funds", "account_not_found", "channel_declined")
