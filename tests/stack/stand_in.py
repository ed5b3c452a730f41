"""A stand-in repository for the runner's tests: tiny services, a migration and a seed module with
the same entry points as the real ones (`python -m apps.common.migrate`, `python -m apps.seed`),
and its own catalog naming just those services.

    repo, services = stand_in(root, {"gateway": source, "risk": source}, calls={"gateway": ["risk"]})
    Stack(state, repo=repo, catalog=services)
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

import catalog
from catalog import Catalog

# No tables needed: a migration module that does nothing and a seed that returns fixed credentials.
NO_MIGRATIONS = ""
FIXED_SEED = """
import json
print(json.dumps({"api_key": "pk_stand_in", "api_secret": "sk_stand_in", "user_ids": [], "currency": "EUR"}))
"""


def write_catalog(path: Path, services: Sequence[str], calls: Mapping[str, Sequence[str]]) -> Catalog:
    """A catalog of the named services (real service names: each gets the real one's budget)."""
    document = {
        "version": 1,
        "teams": {"edge": {"pager": "edge-oncall", "chat": "#edge"}},
        "services": {
            name: {
                "team": "edge",
                "tier": 1,
                "budget_ms": catalog.default().services[name].budget_ms,
                "calls": list(calls.get(name, ())),
            }
            for name in services
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return catalog.load(path)


def stand_in(
    root: Path,
    services: Mapping[str, str],
    *,
    calls: Mapping[str, Sequence[str]] | None = None,
    files: Mapping[str, str] | None = None,
) -> tuple[Path, Catalog]:
    """A repository at `root` with a package apps/<name>/app.py of the given source per service, a
    migration and a seed module (`files` overrides any file), and its catalog."""
    sources = {
        "apps/__init__.py": "",
        "apps/common/__init__.py": "",
        "apps/common/migrate.py": NO_MIGRATIONS,
        "apps/seed.py": FIXED_SEED,
    }
    for name, source in services.items():
        sources[f"apps/{name}/__init__.py"] = ""
        sources[f"apps/{name}/app.py"] = source
    sources.update(files or {})
    for rel, text in sources.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root, write_catalog(root / "observability" / "catalog.yaml", list(services), calls or {})
