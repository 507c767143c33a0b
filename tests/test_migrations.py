"""Versioned SQL migrations."""

from __future__ import annotations

import psycopg

from booking_service.migrate import apply_migrations, load_migrations


def test_migrations_numbered_in_order() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == sorted(versions)
    assert versions[0] == 1
    assert versions == list(range(1, len(versions) + 1))


async def test_migrations_applied_once(stack, db: psycopg.Connection) -> None:
    recorded = [row[0] for row in db.execute("SELECT version FROM schema_migrations ORDER BY version")]

    applied_again = await apply_migrations(stack.db_url)

    assert recorded == [m.version for m in load_migrations()]
    assert applied_again == []
