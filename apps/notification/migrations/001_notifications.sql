CREATE SCHEMA IF NOT EXISTS notification;

-- One row per payment event, whatever how often Kafka delivers it: the event id is the key.
CREATE TABLE IF NOT EXISTS notification.notifications (
    event_id         uuid PRIMARY KEY,
    event_type       text        NOT NULL,
    payment_id       text        NOT NULL,
    payload          jsonb       NOT NULL,
    event_created_at timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS notifications_payment_id ON notification.notifications (payment_id);
