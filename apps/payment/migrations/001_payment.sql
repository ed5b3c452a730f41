-- The payment service's own schema: payments, refunds and the transactional outbox.
CREATE SCHEMA IF NOT EXISTS payment;

CREATE TABLE payment.payments (
    payment_id uuid PRIMARY KEY,
    merchant_id text NOT NULL,
    -- The request's idempotency key and a fingerprint of its body: the unique constraint is the
    -- last line of defence against a double charge when the Redis claim has expired.
    idempotency_key text NOT NULL,
    request_fingerprint text NOT NULL,
    user_id text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    currency char(3) NOT NULL,
    payment_method text NOT NULL,
    channel text NOT NULL,
    description text,
    state text NOT NULL CHECK (
        state IN ('created', 'risk_approved', 'debited', 'charged', 'compensating', 'succeeded', 'failed')
    ),
    failure_reason text,
    provider_ref text,
    risk_score integer,
    -- Refunds: completed plus reserved (in flight) never exceed what was captured.
    refunded_amount bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    refund_reserved_amount bigint NOT NULL DEFAULT 0 CHECK (refund_reserved_amount >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, idempotency_key),
    CONSTRAINT refunds_within_captured CHECK (
        refunded_amount + refund_reserved_amount <= CASE WHEN state = 'succeeded' THEN amount ELSE 0 END
    )
);

-- The reconciler's work list: payments not yet final, oldest first.
CREATE INDEX payments_open ON payment.payments (updated_at) WHERE state NOT IN ('succeeded', 'failed');

CREATE TABLE payment.refunds (
    refund_id uuid PRIMARY KEY,
    payment_id uuid NOT NULL REFERENCES payment.payments (payment_id),
    merchant_id text NOT NULL,
    idempotency_key text,
    amount bigint NOT NULL CHECK (amount > 0),
    currency char(3) NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'approved', 'succeeded', 'failed')),
    failure_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (payment_id, idempotency_key)
);

CREATE INDEX refunds_open ON payment.refunds (updated_at) WHERE state IN ('pending', 'approved');

-- Transactional outbox: written in the same transaction as each final state change, published to
-- Kafka by the relay (which sets published_at). `headers` are the Kafka record headers to send,
-- the W3C trace context of the span that wrote the event.
CREATE TABLE payment.outbox (
    event_id uuid PRIMARY KEY,
    topic text NOT NULL,
    key text NOT NULL,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

CREATE INDEX outbox_unpublished ON payment.outbox (created_at) WHERE published_at IS NULL;
