"""The console's server-side sessions: a random token in a cookie, the table keeping its
SHA-256, the user, a CSRF token, and when it began and was last used. A session ends after
``idle`` without use or ``absolute`` after login, whichever is first, at logout, and when the
user is disabled."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, update

from bot.store.database import read_connection, write_transaction
from bot.store.login_limits import Throttle
from bot.store.people import SessionUser, User, read_languages
from bot.store.tables import aware, console_sessions, users


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConsoleSessions:
    """``Accounts``' methods for a session once open (``Logins.login`` opens it)."""

    engine: Engine
    idle: timedelta
    absolute: timedelta
    throttle: Throttle

    def session(self, token: str | None, now: datetime, touch: bool = True) -> SessionUser | None:
        """The user of a live session, its use noted (unless ``touch`` is False: an automatic
        refresh is not use); None once it has timed out or ended.

        Only a live session with ``touch`` writes: an unknown, ended or timed-out token (any
        anonymous caller can send one) costs one read, never a write transaction, which on
        SQLite would queue for the one write lock every person's turn needs. Timed-out rows are
        deleted by ``purge``."""
        if not token:
            return None
        key = hash_token(token)
        with read_connection(self.engine) as connection:
            row = connection.execute(
                select(console_sessions, users.c.email, users.c.role, users.c.languages, users.c.disabled)
                .join(users, users.c.id == console_sessions.c.user_id)
                .where(console_sessions.c.token_hash == key)
            ).first()
        if row is None or row.disabled or now - aware(row.last_seen_at) > self.idle or now - aware(row.created_at) > self.absolute:
            return None
        if touch:
            with write_transaction(self.engine) as connection:
                live = connection.execute(
                    update(console_sessions).where(console_sessions.c.token_hash == key).values(last_seen_at=now)
                ).rowcount
            if not live:  # logged out (or disabled) since the read
                return None
        return SessionUser(User(row.user_id, row.email, row.role, False, read_languages(row.languages)), row.csrf_token)

    def logout(self, token: str) -> None:
        with write_transaction(self.engine) as connection:
            connection.execute(delete(console_sessions).where(console_sessions.c.token_hash == hash_token(token)))

    def purge(self, now: datetime) -> None:
        """Forget timed-out sessions and login attempts long past."""
        with write_transaction(self.engine) as connection:
            connection.execute(delete(console_sessions).where(console_sessions.c.created_at < now - self.absolute))
            connection.execute(delete(console_sessions).where(console_sessions.c.last_seen_at < now - self.idle))
        self.throttle.purge(now)
