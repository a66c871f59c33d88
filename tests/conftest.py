"""Shared fixtures: the real content, a fixed clock, and services on a real SQLite file."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.config import Settings, generate_keys
from bot.service import Content, Service, load_content
from bot.store import KeyRing, MemorySessionStore, Pseudonyms, SessionStore, open_database

REPO = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true", help="rewrite tests/golden/*.yaml from the current behaviour")


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
def settings(tmp_path) -> Settings:
    """Test settings with fresh keys and a SQLite file in ``tmp_path``."""
    return Settings.from_env({
        "SAFEHARBOR_ENV": "test",
        "SAFEHARBOR_HOME": str(tmp_path / "home"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'safeharbor.db'}",
        **generate_keys(),
    })


@pytest.fixture
def sqlite_service(settings, content, clock) -> Service:
    store = SessionStore(open_database(settings.database_url), KeyRing(list(settings.encryption_keys)))
    return Service(content, store, Pseudonyms(settings.pepper), clock)


@pytest.fixture
def memory_service(content, clock) -> Service:
    return Service(content, MemorySessionStore(), Pseudonyms(b"p" * 32), clock)


@pytest.fixture
def captured_logs(caplog):
    """Every log record of the test, at every level, as one text."""
    caplog.set_level(logging.DEBUG)
    return caplog
