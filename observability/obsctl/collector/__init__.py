"""Collector area: generates collector/<environment>.yaml and validates them offline.

Importing this module registers the `collector` area (obsctl generate) and its static check
(obsctl check): every generated config against the pinned component table and the pipeline rules.
"""

from __future__ import annotations

from obsctl import artifacts
from obsctl.collector.build import generate
from obsctl.collector.validate import check_generated
from obsctl.commands.generate import CHECKS

artifacts.register(artifacts.Area(name="collector", generate=generate))
CHECKS.append(("collector", check_generated))
