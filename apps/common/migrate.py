"""Apply every service's SQL migrations (apps/<service>/migrations/NNN_name.sql) once, in order.

A service owns a schema when it has a migrations directory. The services come in the catalog's
start order (callees first, so the ledger's schema exists before its callers'), each one's files
by name. Run as `python -m apps.common.migrate` with DATABASE_URL set (make up, the chart's Job,
tests). Each file runs in its own transaction; an advisory lock makes concurrent runs safe.
"""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg

import catalog
from apps.common.config import env

APPS = Path(__file__).resolve().parents[1]
_LOCK_ID = 7_311_001


def migration_files() -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for service in catalog.default().start_order():
        directory = APPS / service / "migrations"
        if directory.is_dir():
            out.extend((service, f) for f in sorted(directory.glob("*.sql")))
    return out


def migrate(dsn: str) -> list[str]:
    applied = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " service text NOT NULL, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (service, name))"
            )
            done = {(r[0], r[1]) for r in conn.execute("SELECT service, name FROM schema_migrations")}
            for service, path in migration_files():
                if (service, path.name) in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text(encoding="utf-8"))
                    conn.execute(
                        "INSERT INTO schema_migrations (service, name) VALUES (%s, %s)", (service, path.name)
                    )
                applied.append(f"{service}/{path.name}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied


def main() -> None:
    applied = migrate(env("DATABASE_URL"))
    print(f"migrations applied: {len(applied)}" + "".join(f"\n  {a}" for a in applied))
    sys.exit(0)


if __name__ == "__main__":
    main()
