"""Schema migrations: the migrations build exactly the tables the code declares, a database at
an older revision is refused with the command to run, and ``safeharbor db upgrade`` brings it
up to date."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from bot.store import open_database
from bot.store.schema import SchemaBehind, _config, current, head
from bot.store.tables import metadata
from tests.conftest import REPO


def test_the_migrations_build_the_declared_schema(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    with engine.begin() as connection:
        command.upgrade(_config(connection), "head")  # the migrations themselves, not create_all
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    assert differences == []
    assert current(engine) == head()


def test_a_new_database_gets_the_schema_and_the_newest_revision(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'new.db'}")
    assert {"conversations", "handoffs", "users", "alembic_version"} <= set(inspect(engine).get_table_names())
    assert current(engine) == head()


def test_a_database_behind_is_refused_until_db_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with create_engine(url).begin() as connection:  # a database with tables but none of our revisions
        connection.exec_driver_sql("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)")
    with pytest.raises(SchemaBehind, match="run `safeharbor db upgrade`"):
        open_database(url)
    env = {"DATABASE_URL": url, "SAFEHARBOR_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)

    refused = run("serve", "--port", "1")
    assert refused.returncode == 2 and "run `safeharbor db upgrade`" in refused.stderr and "Traceback" not in refused.stderr
    assert run("db", "current").returncode == 1
    upgraded = run("db", "upgrade")
    revisions = len(list(ScriptDirectory.from_config(_config()).walk_revisions()))
    assert upgraded.returncode == 0 and f"[{revisions}/{revisions}] upgraded to {head()}" in upgraded.stdout
    assert run("db", "current").returncode == 0
    assert current(open_database(url)) == head()


def test_receipts_at_0001_lose_their_conversation_link_and_old_replies_on_upgrade(database_url):
    """0002: a database of the first release, with receipts in it, upgrades in place (SQLite
    copies the table, PostgreSQL alters it); receipts stay (a redelivery is still refused) but no
    longer name a conversation, and replies sealed the old way are dropped."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(_config(connection), "0001")
        connection.execute(text(
            "INSERT INTO deliveries (provider, delivery, conversation_id, reply, created_at) VALUES "
            "('twilio', 'a', 'c1', :sealed, :now), ('twilio', 'b', NULL, :fernet, :now)"
        ), {"sealed": b"\x01sealed", "fernet": b"gAAAAAfernet", "now": "2026-11-26 12:00:00"})
    from bot.service import upgrade_database  # what `safeharbor db upgrade` runs
    from bot.config import Settings, generate_keys

    settings = Settings.from_env({"SAFEHARBOR_ENV": "test", "DATABASE_URL": database_url, **generate_keys()})
    assert upgrade_database(settings, progress=lambda _: None)[-1] == head()
    assert "conversation_id" not in {column["name"] for column in inspect(engine).get_columns("deliveries")}
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT delivery, reply FROM deliveries ORDER BY delivery")).all()
    assert [(delivery, None if reply is None else bytes(reply)) for delivery, reply in kept] == [("a", None), ("b", b"gAAAAAfernet")]
    open_database(database_url).dispose()  # the service accepts it
    engine.dispose()
