"""Signed payment traffic against the gateway (Locust, headless, in its own process)."""
