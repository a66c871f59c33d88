"""The database schema's version: Alembic migrations in ``bot/store/migrations``.

    safeharbor db upgrade          # apply what is missing (the Procfile's release step)

- A database with no tables at all gets the current schema at once and is stamped with the
  newest revision (what Alembic's documentation recommends for a new database): the embedded
  SQLite default works on first run.
- A database with tables at an older revision is refused (``SchemaBehind``, naming the command
  to run): the service never runs against a schema it does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from bot.store.tables import metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SCHEMA_LOCK = 0x5AFE4A7B  # the advisory lock key of schema changes on PostgreSQL


class SchemaBehind(Exception):
    """The database is not at the schema this code needs; the message says what to run."""


def _config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()


def _serialized(connection) -> None:
    """On PostgreSQL, one process at a time past this point (until the transaction ends): web
    processes and workers starting together must not all create the schema at once."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})


def prepare(engine: Engine) -> None:
    """Create and stamp a database with no tables; refuse one that is behind."""
    with engine.begin() as connection:
        _serialized(connection)
        if not inspect(connection).get_table_names():
            metadata.create_all(connection)
            command.stamp(_config(connection), "head")
            return
        at = MigrationContext.configure(connection).get_current_revision()
    needed = head()
    if at != needed:
        raise SchemaBehind(
            f"the database is at schema revision {at or '(none)'}, this version needs {needed}: "
            "run `safeharbor db upgrade` (with the same DATABASE_URL) first"
        )


def upgrade(engine: Engine, progress: Callable[[str], None] = print) -> list[str]:
    """Apply every missing migration, in order; returns the revisions applied."""
    script = ScriptDirectory.from_config(_config())
    if is_empty(engine):
        prepare(engine)
        progress(f"created the schema at revision {head()}")
        return [head()]
    at = current(engine)
    missing = [rev.revision for rev in script.iterate_revisions(head(), at)][::-1]
    for position, revision in enumerate(missing, 1):
        with engine.begin() as connection:
            _serialized(connection)
            if MigrationContext.configure(connection).get_current_revision() != at:
                break  # another process is upgrading: it will finish the job
            command.upgrade(_config(connection), revision)
            at = revision
        progress(f"[{position}/{len(missing)}] upgraded to {revision}")
    if not missing:
        progress(f"the database is up to date (revision {at})")
    return missing
