"""The local stack runner: real PostgreSQL, Redis, tansu, services, Prometheus and Alertmanager
on free ports, started, awaited and stopped by the same code for `obsctl up/down`, the demo and tests."""
