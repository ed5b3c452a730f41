"""Imports every area module so each registers its generator (see artifacts.register).

Add one import per area; an area module calls artifacts.register(Area(...)) at import time.
"""

from __future__ import annotations

import obsctl.collector
import obsctl.dashboards
import obsctl.helm.area
import obsctl.rules  # noqa: F401
