"""notification: consumes payment events from Kafka and records each notification exactly once."""
