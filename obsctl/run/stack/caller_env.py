"""Set variables for the services a Stack starts, for the length of a block.

The stack passes the caller's OTEL_* variables on to the services (they win over its local
defaults), so a benchmark or a test chooses sampling or an OTLP endpoint by setting them here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def overridden(variables: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
