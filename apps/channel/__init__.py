"""channel: a simulated external payment provider with runtime fault switches (one process)."""
