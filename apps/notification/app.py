"""notification service: the Flask app (health, readiness, metrics, a read API) and its consumer.

No service calls it; its read API is for the tooling, signed as `operator` (apps/common/internal_auth.py).
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

from apps.common import db, internal_auth
from apps.common.app import create_base_app
from apps.common.config import env
from apps.common.errors import ApiError
from apps.notification import consumer


def create_app() -> Flask:
    bootstrap = env("KAFKA_BOOTSTRAP")
    the_consumer = consumer.start(bootstrap)

    def consumer_alive() -> None:
        if not the_consumer.is_alive():
            raise RuntimeError("consumer thread stopped")

    app = create_base_app("notification", readiness={"postgres": db.ping, "consumer": consumer_alive})

    @app.get("/v1/notifications/<payment_id>")
    @internal_auth.also_from(internal_auth.OPERATOR)
    def notifications_of(payment_id: str) -> Response:
        with db.statement("list_notifications") as conn:
            rows = conn.execute(
                "SELECT event_id::text, event_type, event_created_at, recorded_at"
                " FROM notification.notifications WHERE payment_id = %s ORDER BY recorded_at",
                (payment_id,),
            ).fetchall()
        if not rows:
            raise ApiError(404, "not_found", f"no notifications for payment {payment_id}")
        return jsonify(
            {
                "payment_id": payment_id,
                "notifications": [
                    {
                        "event_id": r["event_id"],
                        "event_type": r["event_type"],
                        "event_created_at": r["event_created_at"].isoformat(),
                        "recorded_at": r["recorded_at"].isoformat(),
                    }
                    for r in rows
                ],
            }
        )

    return app
