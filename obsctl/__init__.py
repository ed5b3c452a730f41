"""obsctl: generates and proves the observability configuration of the payment platform."""
