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
from sqlalchemy import create_engine, inspect

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
    assert upgraded.returncode == 0 and f"[1/1] upgraded to {head()}" in upgraded.stdout
    assert run("db", "current").returncode == 0
    assert current(open_database(url)) == head()
