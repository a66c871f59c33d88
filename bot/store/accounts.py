"""The console's people: argon2id passwords, a TOTP code at every login, server-side sessions.

    accounts = Accounts(engine, keys, pseudonyms=Pseudonyms(pepper))
    uri = accounts.add("ana@example.org", "advocate", password)     # otpauth:// for the app
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
from bot.store.people import ROLES, AccountError, Login, LoginRefused, SessionUser, User, normal_email
from bot.store.tables import console_sessions, users

__all__ = ["ISSUER", "ROLES", "STEP_SECONDS", "AccountError", "Accounts", "Login", "LoginRefused", "SessionUser", "User"]

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

    def add(self, email: str, role: str, password: str, now: datetime) -> str:
        """Create a user; returns the ``otpauth://`` URI to enrol an authenticator app."""
        email = normal_email(email)
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < 12:
            raise AccountError("the password must be at least 12 characters")
        secret = pyotp.random_base32()
        with write_transaction(self.engine) as connection:
            if connection.execute(select(users.c.id).where(users.c.email == email)).first():
                raise AccountError(f"{email} already exists")
            connection.execute(insert(users).values(
                email=email, role=role, password_hash=self._hasher.hash(password),
                totp_secret=self.keys.seal(secret.encode()), totp_last_step=0, disabled=0, created_at=now,
            ))
        return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)

    def disable(self, email: str) -> None:
        """Disable the user and end every session of theirs at once."""
        email = normal_email(email)
        with write_transaction(self.engine) as connection:
            user_id = connection.execute(select(users.c.id).where(users.c.email == email)).scalar()
            if user_id is None:
                raise AccountError(f"no user {email}")
            connection.execute(update(users).where(users.c.id == user_id).values(disabled=1))
            connection.execute(delete(console_sessions).where(console_sessions.c.user_id == user_id))

    def reset_2fa(self, email: str) -> str:
        """A new TOTP secret (the old app stops working); ends their sessions; returns the URI."""
        email = normal_email(email)
        secret = pyotp.random_base32()
        with write_transaction(self.engine) as connection:
            user_id = connection.execute(select(users.c.id).where(users.c.email == email)).scalar()
            if user_id is None:
                raise AccountError(f"no user {email}")
            connection.execute(
                update(users).where(users.c.id == user_id).values(totp_secret=self.keys.seal(secret.encode()), totp_last_step=0)
            )
            connection.execute(delete(console_sessions).where(console_sessions.c.user_id == user_id))
        return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)

    def all(self) -> list[User]:
        with read_connection(self.engine) as connection:
            rows = connection.execute(select(users.c.id, users.c.email, users.c.role, users.c.disabled).order_by(users.c.email)).all()
        return [User(r.id, r.email, r.role, bool(r.disabled)) for r in rows]

    def find(self, email: str) -> User | None:
        email = normal_email(email)
        return next((user for user in self.all() if user.email == email), None)
