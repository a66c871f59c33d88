"""The two databases the suite runs on: a SQLite file, and a PostgreSQL server.

Every test that takes the ``database_url`` fixture (``tests/conftest.py``, directly or through
``settings`` and the services built on it) runs once on each; the benchmarks take their PostgreSQL
schemas from here too. PostgreSQL is ``SAFEHARBOR_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/safeharbor_test``, the database created if
missing); each test gets a schema of its own, dropped afterwards. When
the server cannot be reached, the PostgreSQL runs are skipped with the reason, unless
``SAFEHARBOR_REQUIRE_POSTGRES=1`` (CI sets it): then they fail.
"""

from __future__ import annotations

import os
import secrets
from functools import cache
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("SAFEHARBOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/safeharbor_test")
REQUIRED = os.environ.get("SAFEHARBOR_REQUIRE_POSTGRES") == "1"
BACKENDS = ("sqlite", "postgresql")


@cache
def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used (None when it can); creates the test database if missing."""
    url = make_url(POSTGRES_URL)
    try:
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}).first()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
    except Exception as exc:  # noqa: BLE001 - any reason is a reason to skip (or fail on CI)
        return f"PostgreSQL at {url.render_as_string(hide_password=True)} unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    return None


def new_postgres_schema() -> tuple[str, str]:
    """(url whose connections use a fresh schema, schema name)."""
    schema = f"t_{secrets.token_hex(6)}"
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    joiner = "&" if "?" in POSTGRES_URL else "?"
    # application_name marks the test's connections, so that teardown can end any still open.
    return f"{POSTGRES_URL}{joiner}options={quote(f'-csearch_path={schema}')}&application_name={schema}", schema


def drop_postgres_schema(schema: str) -> None:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        # Connections of the test may still be open (a server thread, an engine not disposed):
        # end them first, or they would pile up to the server's connection limit.
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :s AND pid <> pg_backend_pid()"),
            {"s": schema},
        )
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def rows(database_url: str, query: str, **params) -> list[tuple]:
    """Rows of a query, on either database (the test's own connection)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query), params)]
    finally:
        engine.dispose()


def stored_bytes(database_url: str) -> bytes:
    """Everything the database holds, as a copy of its storage would show it: for SQLite the
    file and its journals, read raw; for PostgreSQL every row of every table of the schema
    (text and bytes as stored)."""
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        return b"".join(Path(p).read_bytes() for p in (path, path + "-wal", path + "-journal") if os.path.exists(p))
    engine = create_engine(database_url)
    try:
        chunks = []
        with engine.connect() as connection:
            for table in inspect(connection).get_table_names():
                for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                    for value in row:
                        chunks.append(bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode())
        return b"\n".join(chunks)
    finally:
        engine.dispose()
