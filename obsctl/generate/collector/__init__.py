"""The `collector` area: collector/<environment>.yaml from observability/collector.yaml, and their
validation."""

from __future__ import annotations

from obsctl.generate.area import Area, Upstream


def _generate(_: Upstream) -> dict[str, str]:
    from obsctl.generate.collector.build import generate

    return generate()


def _check() -> list[str]:
    from obsctl.generate.collector.validate import check_generated

    return check_generated()


AREA = Area(
    name="collector",
    description="OpenTelemetry Collector configs per environment",
    generate=_generate,
    checks=(("collector", _check),),
)
