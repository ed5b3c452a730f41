"""Imports every area module so each registers its generator (see artifacts.register).

Add one import per area; an area module calls artifacts.register(Area(...)) at import time.
"""

from __future__ import annotations
