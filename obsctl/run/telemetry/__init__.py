"""Telemetry helpers for tests and benchmarks (an OTLP receiver; the services need none of this)."""
