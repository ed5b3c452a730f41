"""The areas of `obsctl generate`, in the order they render: the one list to read or extend.

Each entry is an area package's `AREA` (see obsctl/generate/area.py). An area that reads another's
output lists it in `needs` and must come after it here; helm renders the chart's examples from
the rules, dashboards and collector files of the same run.
"""

from __future__ import annotations

from obsctl.generate.area import Area
from obsctl.generate.collector import AREA as COLLECTOR
from obsctl.generate.dashboards import AREA as DASHBOARDS
from obsctl.generate.helm import AREA as HELM
from obsctl.generate.rules import AREA as RULES

AREAS: tuple[Area, ...] = (RULES, DASHBOARDS, COLLECTOR, HELM)
