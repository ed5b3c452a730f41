"""The `collector` area: collector/<environment>.yaml from observability/collector.yaml, and their
validation."""

from __future__ import annotations

from obsctl.generate.area import Area
from obsctl.generate.collector.build import generate
from obsctl.generate.collector.validate import check_generated

AREA = Area(
    name="collector",
    description="OpenTelemetry Collector configs per environment",
    generate=lambda _upstream: generate(),
    checks=(("collector", check_generated),),
    owned_dirs=("collector",),
)
