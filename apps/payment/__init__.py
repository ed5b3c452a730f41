"""The payment service: one payment (idempotency, risk, debit, charge, compensation) and refunds."""
