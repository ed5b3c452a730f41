"""The collector area's generator: {collector/<environment>.yaml: content}."""

from __future__ import annotations

from obsctl.generate.collector import render, source


def generate() -> dict[str, str]:
    src = source.load()
    return {
        f"collector/{name}.yaml": render.dump(build(src), name, src)
        for name, build in render.ENVIRONMENTS.items()
    }
