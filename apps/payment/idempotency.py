"""Idempotency keys in Redis: one claim per (merchant, key), the final response kept for 24 hours.

A request first claims its key. The claim records a fingerprint of the body and expires shortly
after the request's deadline, so a crashed request cannot block its key for a day. When the
payment reaches a final state the claim is replaced by the exact response bytes, which every
later request with the same key and body gets back unchanged. Both steps are Lua scripts, so a
claim and a concurrent duplicate can never interleave.

Redis being unreachable is an error the caller must refuse the request on (503): going ahead
without the key's history could charge twice. Behind Redis, the unique (merchant_id,
idempotency_key) constraint on payment.payments is the last line of defence.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from redis.commands.core import Script

from apps.common import metrics, redis_client

RESPONSE_TTL_S = 24 * 3600
# The claim outlives the request's deadline by this much, covering the final write after it.
CLAIM_MARGIN_MS = 1_000

_CLAIM = """
local current = redis.call('HGETALL', KEYS[1])
if #current == 0 then
  redis.call('HSET', KEYS[1], 'state', 'in_flight', 'fp', ARGV[1], 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'state', 'claimed'}
end
return current
"""

# Stores the final response unless another request holds the claim now (ours expired meanwhile).
_COMPLETE = """
local token = redis.call('HGET', KEYS[1], 'token')
if token and token ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'fp', ARGV[2], 'status', ARGV[3], 'body', ARGV[4],
  'token', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

_RELEASE = """
local token, state = unpack(redis.call('HMGET', KEYS[1], 'token', 'state'))
if token == ARGV[1] and state == 'in_flight' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Outcome(enum.StrEnum):
    NEW = "new"
    REPLAYED = "replayed"
    CONFLICT = "conflict"
    IN_FLIGHT = "in_flight"


class StoreUnavailable(Exception):
    """Redis could not be asked; the request must be refused rather than risk a double charge."""


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes


@dataclass(frozen=True)
class Claim:
    outcome: Outcome
    key: str
    token: str
    fingerprint: str
    response: StoredResponse | None = None


def fingerprint(body: Any) -> str:
    """The same JSON document gives the same fingerprint, whatever its whitespace or key order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def redis_key(scope: str, merchant_id: str, idempotency_key: str) -> str:
    # Hashed: keys are caller-chosen strings of up to 255 characters.
    digest = hashlib.sha256(f"{merchant_id}\0{idempotency_key}".encode()).hexdigest()
    return f"idempotency:{scope}:{digest}"


def record(outcome: Outcome) -> None:
    metrics.counter("payment_idempotency_requests_total").labels(outcome.value).inc()


class IdempotencyStore:
    def __init__(self, scope: str = "payment"):
        self.scope = scope
        self._scripts: dict[str, Script] = {}

    def _run(self, name: str, script: str, keys: list[str], args: list[Any]) -> Any:
        try:
            with redis_client.operation(name) as client:
                # EVALSHA by the script's digest (loaded again by redis-py if Redis forgot it),
                # rather than sending and hashing the script's text on every request.
                if script not in self._scripts:
                    self._scripts[script] = client.register_script(script)
                return self._scripts[script](keys=keys, args=args, client=client)
        except redis.RedisError as exc:
            metrics.counter("payment_idempotency_store_errors_total").inc()
            raise StoreUnavailable(f"idempotency store unavailable: {type(exc).__name__}") from exc

    def claim(self, merchant_id: str, idempotency_key: str, body: Any, claim_ttl_ms: int) -> Claim:
        key = redis_key(self.scope, merchant_id, idempotency_key)
        fp = fingerprint(body)
        token = uuid.uuid4().hex
        raw = self._run("idempotency_claim", _CLAIM, [key], [fp, token, claim_ttl_ms + CLAIM_MARGIN_MS])
        fields = {
            raw[i].decode() if isinstance(raw[i], bytes) else raw[i]: raw[i + 1]
            for i in range(0, len(raw), 2)
        }
        state = _text(fields.get("state"))
        if state == "claimed":
            return Claim(Outcome.NEW, key, token, fp)
        if _text(fields.get("fp")) != fp:
            return Claim(Outcome.CONFLICT, key, token, fp)
        if state == "done":
            stored = StoredResponse(int(_text(fields["status"])), _bytes(fields["body"]))
            return Claim(Outcome.REPLAYED, key, token, fp, stored)
        return Claim(Outcome.IN_FLIGHT, key, token, fp)

    def complete(self, claim: Claim, status: int, body: bytes) -> bool:
        """Keep the final response for RESPONSE_TTL_S; False when another request holds the key now."""
        result = self._run(
            "idempotency_complete",
            _COMPLETE,
            [claim.key],
            [claim.token, claim.fingerprint, status, body, RESPONSE_TTL_S],
        )
        return bool(result)

    def release(self, claim: Claim) -> None:
        """Give the key back when the request ends without a payment record (nothing to replay)."""
        self._run("idempotency_release", _RELEASE, [claim.key], [claim.token])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
