# The interface people and CI use. `make help` lists the targets.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
OBSCTL := $(BIN)/obsctl
PYTEST := $(BIN)/pytest
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := generate
.PHONY: help setup generate rules dashboards collector helm check lint typecheck drift test \
        test-unit up down demo bench clean scan chaos

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml scripts/setup.sh
	@scripts/setup.sh

setup: ## idempotent: system packages when missing, .venv, Python dependencies
	@scripts/setup.sh

generate: $(STAMP) ## regenerate every artifact from observability/
	@$(OBSCTL) generate

rules: $(STAMP) ## recording rules, SLO rules, alerts, alertmanager.yml, SLO promtool tests
	@$(OBSCTL) generate --only rules

dashboards: $(STAMP) ## Grafana dashboards from jsonnet
	@$(OBSCTL) generate --only dashboards

collector: $(STAMP) ## OpenTelemetry Collector configs per environment
	@$(OBSCTL) generate --only collector

helm: $(STAMP) ## render the chart's examples into helm/examples/*/rendered
	@$(OBSCTL) generate --only helm

lint: $(STAMP) ## ruff
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy
	@$(BIN)/mypy

drift: $(STAMP) ## fail when committed generated files differ from what the sources produce
	@$(OBSCTL) generate --check

scan: $(STAMP) ## security scans: bandit on apps/ obsctl/ catalog/, checkov on the rendered chart
	@$(BIN)/bandit -q -c pyproject.toml -r apps obsctl catalog
	@$(BIN)/python scripts/checkov_gate.py

check: lint typecheck drift scan ## fast: lint, types, drift, security scans, promtool check
	@$(OBSCTL) check

test: setup check ## everything, starting the real components it needs
	@$(PYTEST) -q -p no:cacheprovider --durations=25

chaos: $(STAMP) ## only the chaos test (also part of `make test`): SIGKILL each component under load
	@$(PYTEST) -q -s -p no:cacheprovider tests/chaos

test-unit: $(STAMP) ## only the tests that need no servers
	@$(PYTEST) -q -m "not slow" -p no:cacheprovider

up: $(STAMP) ## start the local stack (PostgreSQL, Redis, Kafka, Jaeger, VictoriaLogs, the collector, services, Prometheus, Alertmanager)
	@$(OBSCTL) up

down: $(STAMP) ## stop everything `make up` started, and nothing else
	@$(OBSCTL) down

demo: setup ## the main job: generate, start, drive traffic, inject a fault, watch alerts fire and resolve
	@$(OBSCTL) demo

bench: $(STAMP) ## figures, not assertions
	@$(OBSCTL) bench

clean: down ## remove local state (.local/)
	@rm -rf .local
