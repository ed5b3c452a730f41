-- The ledger (schema `ledger`): accounts, one movement per money operation, two entries per movement.
--
-- Every movement moves `amount` between a user's account and the settlement account of the same
-- currency, written as two entries whose amounts sum to zero (double entry), so the sum of all
-- balances of a currency never changes.
--
-- The settlement account may go negative, by design: it is the counterparty of opening balances
-- (money entering the system from outside is booked as settlement -> user), so after seeding it
-- holds minus the total handed out. Only user balances carry the non-negative CHECK.

CREATE SCHEMA IF NOT EXISTS ledger;

CREATE TABLE ledger.accounts (
    account_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text   NOT NULL CHECK (kind IN ('user', 'settlement')),
    user_id     text,
    currency    text   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    balance     bigint NOT NULL DEFAULT 0,
    -- Bumped by every balance change; updates also check it (optimistic guard on top of the row lock).
    version     bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_account_has_user CHECK ((kind = 'user') = (user_id IS NOT NULL)),
    CONSTRAINT user_balance_not_negative CHECK (kind = 'settlement' OR balance >= 0)
);

CREATE UNIQUE INDEX accounts_one_per_user_currency ON ledger.accounts (user_id, currency) WHERE kind = 'user';
CREATE UNIQUE INDEX accounts_one_settlement_per_currency ON ledger.accounts (currency) WHERE kind = 'settlement';

-- One row per money operation. (kind, reference_id) is unique: a debit per payment id, a
-- compensation per payment id, a refund per refund id, an opening per account; a retried call
-- finds the first one and moves nothing.
CREATE TABLE ledger.movements (
    movement_id     uuid   PRIMARY KEY DEFAULT gen_random_uuid(),
    kind            text   NOT NULL CHECK (kind IN ('debit', 'compensation', 'refund', 'opening')),
    reference_id    text   NOT NULL,
    user_account_id bigint NOT NULL REFERENCES ledger.accounts (account_id),
    amount          bigint NOT NULL CHECK (amount > 0),
    -- The user's balance right after this movement: a duplicate call answers it again unchanged.
    balance_after   bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT movements_once_per_reference UNIQUE (kind, reference_id)
);

CREATE INDEX movements_by_account ON ledger.movements (user_account_id, created_at);

CREATE TABLE ledger.entries (
    entry_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    movement_id  uuid   NOT NULL REFERENCES ledger.movements (movement_id),
    account_id   bigint NOT NULL REFERENCES ledger.accounts (account_id),
    -- Signed: negative leaves the account, positive enters it. A movement's entries sum to zero.
    amount       bigint NOT NULL CHECK (amount <> 0),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX entries_by_movement ON ledger.entries (movement_id);
CREATE INDEX entries_by_account ON ledger.entries (account_id);

-- Payments compensated before any debit arrived (the caller gave up on a slow debit): a debit that
-- lands afterwards is refused, so it cannot take money that nobody will give back.
CREATE TABLE ledger.voided_payments (
    payment_id  text PRIMARY KEY,
    voided_at   timestamptz NOT NULL DEFAULT now()
);
