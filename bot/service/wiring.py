"""What the service is built from: the stores it runs on, the records only the SQL store has, the
worker's wake-up, and what the settings open (for ``Service.from_settings`` and the CLI).

Two stores fit the service. ``SessionStore`` (SQL, encrypted) is the deployed one and brings
``Records``: handoffs, the console's accounts, the limits' counters. ``MemorySessionStore``
(tests and benchmarks of the conversation) brings none, and the service then has no handoff desk
and no console.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.config import HandoffSettings, Settings
from bot.content import Bundle, LiveContent, Revisions, Studio, load_content
from bot.domain.problems import ContentInvalid, Problem
from bot.handoff import HandoffRecords
from bot.store import KeyRing, Pseudonyms, SessionStore, open_database
from bot.store import schema
from bot.store.accounts import Accounts
from bot.store.limits import Windows

EPOCH_SHARE = 0.45  # of the erasure bound: two epochs and a rollover's delay fit inside it


class ConversationStore(Protocol):
    """What every store has: ``SessionStore`` and ``MemorySessionStore`` both fit. Everything
    else the service uses is ``SessionStore``'s, reached through ``Records``."""

    def conversation(self, pseudonym, now): ...

    async def turn(self, function: Callable, *args): ...

    def after_commit(self, callback: Callable[[], None]) -> None: ...

    def purge_expired(self, now) -> int: ...

    roll_every: float  # seconds between key rollovers

    def roll_keys(self, progress=None, grace=None): ...


@dataclass(frozen=True)
class Records:
    """What only the SQL store keeps beside conversations: the handoffs (sealed transcripts, the
    outbox rows of an advocate's lines), the console's people and sessions, and the limits'
    shared counters. ``store`` is the one they share a database with."""

    store: SessionStore
    handoffs: HandoffRecords
    accounts: Accounts
    windows: Windows

    @classmethod
    def of(cls, store: ConversationStore, settings: HandoffSettings, pseudonyms: Pseudonyms) -> Records | None:
        """The records of ``store``: None for the memory store, which keeps none."""
        if not isinstance(store, SessionStore):
            return None
        handoffs = HandoffRecords(store.engine, store.keys, timedelta(hours=settings.transcript_retention_hours))
        store.attach(handoffs)  # the person leaving is a handoff move, in the erasure's transaction
        return cls(store, handoffs, accounts_of(store, settings, pseudonyms), Windows(store.engine.dialect))


class Wakeup:
    """Wakes an in-process worker when something was queued in the outbox (``callback``: set by
    ``bot.runtime`` through ``Service.on_enqueued``; None when no worker runs beside the service)."""

    def __init__(self) -> None:
        self.callback: Callable[[], None] | None = None

    def now(self) -> None:
        """After a transaction that queued something has committed."""
        if self.callback:
            self.callback()

    def after_commit(self, store: ConversationStore) -> None:
        """Inside a turn that queued something: once it commits, or the worker finds nothing."""
        if self.callback:
            store.after_commit(self.callback)


def open_store(settings: Settings) -> SessionStore:
    """The encrypted session store the settings name (also for ``keys rotate``)."""
    return SessionStore(open_database(settings.database_url), key_ring(settings))


def key_ring(settings: Settings) -> KeyRing:
    """The key-encryption keys and the epoch key store the settings name. An erased
    conversation's last epoch is destroyed at most two epochs and one rollover interval
    (``SessionStore.roll_every``) after the erasure: 0.95 of the bound (``bot.store.epochs``)."""
    return KeyRing(list(settings.encryption_keys), key_store=settings.key_store, epoch_length=settings.erasure_bound_minutes * 60 * EPOCH_SHARE)


def accounts_of(store: SessionStore, settings: HandoffSettings, pseudonyms: Pseudonyms) -> Accounts:
    """The console's accounts in ``store``'s database, with the settings' session lifetimes."""
    return Accounts(
        store.engine, store.keys, timedelta(minutes=settings.console_idle_minutes), timedelta(hours=settings.console_session_hours),
        pseudonyms=pseudonyms,
    )


def open_accounts(settings: Settings) -> Accounts:
    """The console's accounts in the settings' database (for ``safeharbor users``)."""
    return accounts_of(open_store(settings), settings.handoff, Pseudonyms(settings.pepper))


def upgrade_database(settings: Settings, progress: Callable[[str], None] = print) -> list[str]:
    """``safeharbor db upgrade``: apply the missing schema migrations."""
    engine = open_database(settings.database_url, check_schema=False)
    try:
        return schema.upgrade(engine, progress)
    finally:
        engine.dispose()


def schema_revisions(settings: Settings) -> tuple[str | None, str]:
    """(the database's schema revision, the one this version needs)."""
    engine = open_database(settings.database_url, check_schema=False)
    try:
        return (None if schema.is_empty(engine) else schema.current(engine)), schema.head()
    finally:
        engine.dispose()


def open_studio(settings: Settings, clock: Callable | None = None) -> Studio:
    """The content studio over the database of ``settings`` alone (``safeharbor content``);
    ``close()`` it after use."""
    from bot.service import utc_now

    engine = open_database(settings.database_url)
    return Studio(Revisions(engine), settings.regions, clock or utc_now, reach_seconds=settings.content_poll_seconds)


def content_of(settings: Settings, store: ConversationStore, clock: Callable) -> tuple[LiveContent, Revisions | None]:
    """The content a process starts with, and the revisions it follows (None: the memory store,
    which serves the files as they are).

    On the SQL store: the published revision; on a database that has none yet, the content
    files (``SAFEHARBOR_CONTENT_DIR``), checked, become revision 1 and are served. Raises
    ``ContentInvalid`` when what would be served does not load."""
    if not isinstance(store, SessionStore):
        return LiveContent(load_content(settings.content_dir, settings.regions)), None
    revisions = Revisions(store.engine)
    published = revisions.published()
    if published is None:
        files = Bundle.from_directory(settings.content_dir)
        content = load_content(files.root(), settings.regions)  # files with errors never become a revision
        seeded = revisions.seed(files, clock())  # None when another process seeded it meanwhile
        if seeded is not None:
            return LiveContent(content, seeded.number), revisions
        published = revisions.published()
    try:
        return LiveContent(load_content(published.bundle.root(), settings.regions), published.number), revisions
    except ContentInvalid as exc:
        raise ContentInvalid([Problem(f"content revision {published.number}: {p.where}", p.what, p.severity) for p in exc.problems]) from None
