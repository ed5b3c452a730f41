"""W3C baggage for the calls the gateway makes: the request id and, when known, the user id.

The requests instrumentation sends the current context's baggage as the `baggage` header, so the
internal services (and their logs and spans, if they choose) see who and which request a call is
for. Only identifiers go here, never keys, secrets, signatures or card data: baggage crosses
every hop in clear text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import g, has_request_context
from opentelemetry import baggage, context

REQUEST_ID = "request_id"
USER_ID = "user_id"


@contextmanager
def carried(user_id: str | None = None) -> Iterator[None]:
    ctx = context.get_current()
    if has_request_context() and "request_id" in g:
        ctx = baggage.set_baggage(REQUEST_ID, g.request_id, ctx)
    if user_id:
        ctx = baggage.set_baggage(USER_ID, user_id, ctx)
    token = context.attach(ctx)
    try:
        yield
    finally:
        context.detach(token)
