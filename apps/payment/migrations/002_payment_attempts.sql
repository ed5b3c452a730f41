-- An Idempotency-Key names one payment the merchant wants, which may take several attempts: a new
-- attempt is made only when the previous one failed on our side (a dependency down or out of time:
-- no money moved, any debit credited back), so a retry after an outage can still succeed instead
-- of answering 503 forever. Declines and successes are final for their key.
--
-- Attempt 1 keeps the key as it is; attempt n >= 2 stores idempotency_key = key || E'\x1f' || n
-- (a client's key is printable ASCII, so it never contains the separator). The existing unique
-- (merchant_id, idempotency_key) then holds one row per attempt, so two concurrent retries cannot
-- both start attempt n, and nothing the previous release's code relies on changes (expand only).
ALTER TABLE payment.payments ADD COLUMN attempt integer NOT NULL DEFAULT 1 CHECK (attempt >= 1);

-- When the payment became final (the updated_at of that change). The key's answer is the payment
-- as it was then, also when Redis no longer has the stored bytes: later refunds change
-- refunded_amount and updated_at, not the answer a retry of the payment gets.
ALTER TABLE payment.payments ADD COLUMN finalized_at timestamptz;
