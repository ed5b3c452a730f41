-- Merchants of the public API. The secret is kept as is: HMAC verification needs the key itself
-- (unlike a password, it cannot be stored as a one-way hash).
CREATE SCHEMA IF NOT EXISTS gateway;

CREATE TABLE gateway.merchants (
    merchant_id           text PRIMARY KEY,
    name                  text NOT NULL UNIQUE,
    api_key               text NOT NULL UNIQUE,
    api_secret            text NOT NULL,
    rate_limit_per_minute integer NOT NULL DEFAULT 600 CHECK (rate_limit_per_minute > 0),
    created_at            timestamptz NOT NULL DEFAULT now()
);

-- A merchant's customers: the only users it may charge or whose balances it may read.
CREATE TABLE gateway.merchant_users (
    merchant_id text NOT NULL REFERENCES gateway.merchants (merchant_id) ON DELETE CASCADE,
    user_id     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, user_id)
);
