"""The console's people: argon2id passwords, a TOTP code at every login, server-side sessions.

    accounts = Accounts(engine, keys, pseudonyms=Pseudonyms(pepper))
    uri = accounts.add("ana@example.org", "advocate", password, now)  # otpauth:// for the app
    accounts.add("eva@example.org", "translator", password, now, languages=("es", "fr"))
    login = accounts.login(email, password, otp, now)                 # Login, or raises LoginRefused
    seen = accounts.session(token, now)                               # SessionUser or None

- Passwords are hashed with argon2id (argon2-cffi's defaults). The TOTP secret is sealed with the
  key-encryption keys. A code is accepted once: the user's last accepted time step is kept and a
  code must be for a later one (one conditional UPDATE, so two logins racing with one code cannot
  both pass).
- Logins are limited by ``login_limits``: each attempt is recorded before its password is
  verified, per submitted email (known or not, from anywhere: 5, then a backoff doubling from
  1 s to 15 min) and per client address (30 an hour, then the same backoff: password spraying);
  no more argon2 work runs at once in a process than ``login_limits.GATE`` allows. The limits
  delay guessers but never lock an advocate out: an attempt carrying a fresh, unused code of
  the account's authenticator is evaluated whatever they say (the code is spent on it, and
  such attempts have a backoff of their own: 3, then 30 s doubling to 5 min), so a guesser
  behind the same proxy address, or anywhere, can hold back only those who do not have the
  second factor. Unknown email, wrong password, wrong code: the same refusal, after the same
  argon2 and TOTP work.
- A session is a random token in a cookie; the table keeps its SHA-256, the user, a CSRF token,
  and when it began and was last used: it ends after ``idle`` without use or ``absolute`` after
  login, whichever is first, at logout, and when the user is disabled.

``Accounts`` is one object over three modules: management here, logging in in ``logins``, an
open session in ``console_sessions``; the values and refusals they return are ``people``'s.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from sqlalchemy import Engine, delete, insert, select, update

from bot.store.console_sessions import ConsoleSessions
from bot.store.crypto import KeyRing, Pseudonyms
from bot.store.database import read_connection, write_transaction
from bot.store.login_limits import GATE, HashingGate, Throttle
from bot.store.logins import STEP_SECONDS, Logins
from bot.store.people import (
    ROLES, AccountError, AccountExists, Login, LoginRefused, SessionUser, UnknownUser, User, normal_email, normal_languages,
    read_languages, stored_languages,
)
from bot.store.tables import console_sessions, users

__all__ = [
    "ISSUER", "ROLES", "STEP_SECONDS", "AccountError", "AccountExists", "Accounts", "Login", "LoginRefused", "SessionUser",
    "UnknownUser", "User",
]

ISSUER = "safeharbor"


class Accounts(Logins, ConsoleSessions):
    """``pseudonyms`` (the pepper's) key the hashes the login limits count by; ``gate`` and
    ``hasher`` are the process's by default."""

    def __init__(
        self, engine: Engine, keys: KeyRing, idle: timedelta = timedelta(minutes=30), absolute: timedelta = timedelta(hours=12),
        *, pseudonyms: Pseudonyms, gate: HashingGate = GATE, hasher: PasswordHasher | None = None,
    ):
        self.engine = engine
        self.keys = keys
        self.idle = idle
        self.absolute = absolute
        self.throttle = Throttle(engine)
        self.gate = gate
        self._pseudonyms = pseudonyms
        self._hasher = hasher or PasswordHasher()  # argon2id
        self._dummy: str | None = None
        self._dummy_secret: bytes | None = None

    # -- management (``safeharbor users ...``) -----------------------------------------------------------

    def add(self, email: str, role: str, password: str, now: datetime, languages=()) -> str:
        """Create a user; returns the ``otpauth://`` URI to enrol an authenticator app.
        ``languages``: a translator's (at least one; see ``people.normal_languages``), none for
        the other roles. ``AccountExists`` for a taken email, ``AccountError`` for bad input."""
        email = normal_email(email)
        codes = normal_languages(role, languages)
        if len(password) < 12:
            raise AccountError("the password must be at least 12 characters")
        secret = pyotp.random_base32()
        with write_transaction(self.engine) as connection:
            if connection.execute(select(users.c.id).where(users.c.email == email)).first():
                raise AccountExists(f"{email} already exists")
            connection.execute(insert(users).values(
                email=email, role=role, languages=stored_languages(codes), password_hash=self._hasher.hash(password),
                totp_secret=self.keys.seal(secret.encode()), totp_last_step=0, disabled=0, created_at=now,
            ))
        return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)

    def disable(self, email: str) -> None:
        """Disable the user and end every session of theirs at once."""
        with write_transaction(self.engine) as connection:
            user_id = self._id_of(connection, email)
            connection.execute(update(users).where(users.c.id == user_id).values(disabled=1))
            connection.execute(delete(console_sessions).where(console_sessions.c.user_id == user_id))

    def enable(self, email: str) -> None:
        """Let a disabled user log in again (with the password and authenticator they had)."""
        with write_transaction(self.engine) as connection:
            user_id = self._id_of(connection, email)
            connection.execute(update(users).where(users.c.id == user_id).values(disabled=0))

    def reset_2fa(self, email: str) -> str:
        """A new TOTP secret (the old app stops working); ends their sessions; returns the URI."""
        secret = pyotp.random_base32()
        with write_transaction(self.engine) as connection:
            user_id = self._id_of(connection, email)
            connection.execute(
                update(users).where(users.c.id == user_id).values(totp_secret=self.keys.seal(secret.encode()), totp_last_step=0)
            )
            connection.execute(delete(console_sessions).where(console_sessions.c.user_id == user_id))
        return pyotp.TOTP(secret).provisioning_uri(name=normal_email(email), issuer_name=ISSUER)

    def set_role(self, email: str, role: str, languages=()) -> User:
        """A new role (and a translator's languages, which replace theirs); returns the user as
        now. Their sessions stay: every request reads the role afresh (``session``)."""
        codes = normal_languages(role, languages)
        with write_transaction(self.engine) as connection:
            user_id = self._id_of(connection, email)
            connection.execute(update(users).where(users.c.id == user_id).values(role=role, languages=stored_languages(codes)))
        return self.by_id(user_id)

    def all(self) -> list[User]:
        """Every user, by email: never a password hash or an authenticator secret."""
        with read_connection(self.engine) as connection:
            rows = connection.execute(
                select(users.c.id, users.c.email, users.c.role, users.c.disabled, users.c.languages).order_by(users.c.email)
            ).all()
        return [User(r.id, r.email, r.role, bool(r.disabled), read_languages(r.languages)) for r in rows]

    def find(self, email: str) -> User | None:
        email = normal_email(email)
        return next((user for user in self.all() if user.email == email), None)

    def by_id(self, user_id: int) -> User | None:
        return next((user for user in self.all() if user.id == user_id), None)

    @staticmethod
    def _id_of(connection, email: str) -> int:
        email = normal_email(email)
        user_id = connection.execute(select(users.c.id).where(users.c.email == email)).scalar()
        if user_id is None:
            raise UnknownUser(f"no user {email}")
        return user_id
