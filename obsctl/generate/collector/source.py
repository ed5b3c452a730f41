"""What the collector generator renders from: observability/collector.yaml, with the tail-sampling
latency threshold resolved through the SLO loader and the release read from the tool table.

The collector file names the latency SLO (sampling.tail.latency_slo, a sloth_id); its threshold is
that SLO's `latency_threshold_seconds` (obsctl/generate/slo/model.py), so it is never typed twice.
The release the configs are written for is the version of the `otelcol` tool in tools/versions.yaml:
the collector distribution that `make setup` builds and `make check` validates them with.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from obsctl import paths, tools
from obsctl.errors import ObsctlError, Problem, StrictModel
from obsctl.generate.slo import load as slo_load
from obsctl.generate.sources import collector as collector_file
from obsctl.generate.sources.collector import CollectorFile

LATENCY_SLO_FIELD = "sampling.tail.latency_slo"
# The entry of tools/versions.yaml that pins the collector release.
COLLECTOR_TOOL = "otelcol"


class CollectorSource(StrictModel):
    """Everything the generator needs: the collector file, the latency threshold it refers to, and
    the collector release (`v0.161.0`)."""

    file: CollectorFile
    latency_threshold_ms: int
    release: str


def release() -> str:
    """The pinned collector release, `v<version>` of the otelcol tool in tools/versions.yaml."""
    version = tools.load_table()[COLLECTOR_TOOL].version
    return version if version.startswith("v") else f"v{version}"


def latency_threshold_ms(file: CollectorFile, source: Path, slos: Path | None = None) -> int:
    """The threshold of the SLO named by sampling.tail.latency_slo, in milliseconds."""
    by_id = {slo.id: slo for slo in slo_load.read(slos or paths.SLOS)}
    wanted = file.sampling.tail.latency_slo
    slo = by_id.get(wanted)
    seconds = slo.latency_threshold_seconds if slo is not None else None
    if slo is None or seconds is None:
        latency = [s for s in sorted(by_id) if by_id[s].latency_threshold_seconds is not None]
        what = (
            "no such SLO" if slo is None else "an SLO without a latency threshold (no le bucket in its SLI)"
        )
        raise ObsctlError(
            [
                Problem(
                    file=str(source),
                    field=LATENCY_SLO_FIELD,
                    message=f"got {wanted!r}, {what}; expected the sloth_id of a latency SLO in "
                    f"{slos or paths.SLOS}: {', '.join(latency) or 'there is none'}",
                )
            ]
        )
    ms = seconds * Decimal(1000)
    if ms <= 0 or ms != ms.to_integral_value():
        raise ObsctlError(
            [
                Problem(
                    file=slo.source,
                    obj=f"SLO {slo.id}",
                    field=slo.fields.get("error"),
                    message=f"got a latency threshold of {ms.normalize()} ms; expected a whole number of "
                    f"milliseconds above 0 (the tail sampler's threshold_ms, for {LATENCY_SLO_FIELD} "
                    f"in {source})",
                )
            ]
        )
    return int(ms)


def load(source: Path | None = None, slos: Path | None = None) -> CollectorSource:
    """The collector file (observability/collector.yaml unless `source`) with the threshold of its
    latency SLO (from observability/slos/ unless `slos`)."""
    path = source or paths.COLLECTOR_SOURCE
    file = collector_file.load(path)
    return CollectorSource(
        file=file, latency_threshold_ms=latency_threshold_ms(file, path, slos), release=release()
    )
