"""The metric catalog matches what the running Prometheus scraped from every service: names, types
(the TYPE lines, via /api/v1/targets/metadata) and label names (via /api/v1/series)."""

from __future__ import annotations

import pytest

import catalog
from tests.live.helpers import Live

SERVICES = catalog.default().start_order()

# Series Prometheus adds to every job itself (scrape health, and alerts that carry a job label).
PROMETHEUS_OWN = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
    "ALERTS",
    "ALERTS_FOR_STATE",
}
TARGET_LABELS = {"__name__", "job", "instance"}


@pytest.mark.slow
@pytest.mark.parametrize("job", SERVICES)
def test_scraped_families_and_types_match_the_catalog(live: Live, job: str) -> None:
    declared = {m.name: m.type for m in catalog.default().service_metrics(job)}
    scraped: dict[str, str] = {}
    for entry in live.prom.target_metadata(job):
        scraped[entry["metric"]] = entry["type"]
    assert scraped, f"Prometheus has no metadata for job {job}: is it scraped?"
    assert set(scraped) == set(declared), (
        f"{job}: exposed but not in the catalog: {sorted(set(scraped) - set(declared))}; "
        f"in the catalog but not exposed: {sorted(set(declared) - set(scraped))}"
    )
    wrong = {name: (scraped[name], declared[name]) for name in declared if scraped[name] != declared[name]}
    assert not wrong, f"{job}: (scraped type, catalog type) differ: {wrong}"


@pytest.mark.slow
@pytest.mark.parametrize("job", SERVICES)
def test_scraped_series_names_and_labels_match_the_catalog(live: Live, job: str) -> None:
    metrics = catalog.default().service_metrics(job)
    labels_of = {series: set(m.labels) for m in metrics for series in m.series_names()}
    seen: dict[str, set[str]] = {}
    for series in live.prom.series(f'{{job="{job}"}}'):
        name = series["__name__"]
        if name in PROMETHEUS_OWN:
            continue
        names = set(series) - TARGET_LABELS
        if name.endswith("_bucket"):
            names.discard("le")
        seen.setdefault(name, set()).update(names)
    unknown = sorted(set(seen) - set(labels_of))
    assert not unknown, f"{job}: series not in the catalog: {unknown}"
    assert seen, f"{job}: no series scraped"
    wrong = {
        name: (sorted(got), sorted(labels_of[name])) for name, got in seen.items() if got != labels_of[name]
    }
    assert not wrong, f"{job}: (scraped labels, catalog labels) differ: {wrong}"
