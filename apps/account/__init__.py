"""account: the double-entry ledger in PostgreSQL (balances per user and currency, minor units)."""
