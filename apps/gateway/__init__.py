"""The gateway: the only public API (/api/v1). Authenticates merchants, rate-limits, validates and
forwards to the payment and account services."""
