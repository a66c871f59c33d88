"""Shared fixtures: the real content, a fixed clock, and services on a real database: each test
that uses one runs on a SQLite file and again on PostgreSQL (``testkit/databases.py``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.config import Settings, generate_keys
from bot.service import Content, Service, load_content, key_ring
from bot.store import KeyRing, MemorySessionStore, Pseudonyms, SessionStore, open_database
from testkit.databases import BACKENDS, POSTGRES_URL, REQUIRED, drop_postgres_schema, new_postgres_schema, postgres_unavailable

REPO = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true", help="rewrite tests/golden/*.yaml from the current behaviour")
    parser.addoption(
        "--backend", choices=("both", *BACKENDS), default="both",
        help="run the database tests on SQLite, PostgreSQL, or both (the default)",
    )


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("backend")
        backends = BACKENDS if chosen == "both" else (chosen,)
        if metafunc.definition.get_closest_marker("sqlite_only"):
            backends = tuple(b for b in backends if b == "sqlite")
        if metafunc.definition.get_closest_marker("postgresql_only"):
            backends = tuple(b for b in backends if b == "postgresql")
        metafunc.parametrize("backend", backends, indirect=True, scope="function")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config.getoption("backend") == "sqlite":
        return
    reason = postgres_unavailable()
    if reason:
        action = "FAILED (SAFEHARBOR_REQUIRE_POSTGRES=1)" if REQUIRED else "SKIPPED"
        terminalreporter.write_line(f"PostgreSQL run {action}: {reason}", red=REQUIRED, yellow=not REQUIRED, bold=True)
    else:
        terminalreporter.write_line(f"PostgreSQL run: the database tests ran on {POSTGRES_URL} too", green=True)


@pytest.fixture
def backend(request) -> str:
    if request.param == "postgresql":
        reason = postgres_unavailable()
        if reason:
            if REQUIRED:
                pytest.fail(reason, pytrace=False)
            pytest.skip(reason)
    return request.param


@pytest.fixture
def database_url(backend, tmp_path) -> str:
    """A fresh, empty database of the test's backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'safeharbor.db'}"
        return
    url, schema = new_postgres_schema()
    yield url
    drop_postgres_schema(schema)


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = field(default=START)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content(REPO)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    """Test settings with fresh keys and a fresh database (SQLite or PostgreSQL)."""
    return Settings.from_env({
        "SAFEHARBOR_ENV": "test",
        "SAFEHARBOR_HOME": str(tmp_path / "home"),
        "DATABASE_URL": database_url,
        **generate_keys(),
    })


@pytest.fixture
def sql_service(settings, content, clock) -> Service:
    """A service on the test's database (SQLite or PostgreSQL)."""
    store = SessionStore(open_database(settings.database_url), key_ring(settings))
    service = Service(content, store, Pseudonyms(settings.pepper), clock)
    yield service
    service.close()


@pytest.fixture
def memory_service(content, clock) -> Service:
    return Service(content, MemorySessionStore(), Pseudonyms(b"p" * 32), clock)


@pytest.fixture
def captured_logs(caplog):
    """Every log record of the test, at every level, as one text."""
    caplog.set_level(logging.DEBUG)
    return caplog
