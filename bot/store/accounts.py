"""The console's people: argon2id passwords, a TOTP code at every login, server-side sessions.

    accounts = Accounts(engine, keys)
    uri = accounts.add("ana@example.org", "advocate", password)     # otpauth:// for the app
    login = accounts.login(email, password, otp, now)                 # Login, or raises LoginRefused
    seen = accounts.session(token, now)                               # SessionUser or None

- Passwords are hashed with argon2id (argon2-cffi's defaults). The TOTP secret is sealed with the
  key-encryption keys. A code is accepted once: the user's last accepted time step is kept and a
  code must be for a later one (one conditional UPDATE, so two logins racing with one code cannot
  both pass).
- Failed logins are counted per submitted email and client address together (hashed), known
  email or not: past ``MAX_FAILURES`` in ``FAILURE_WINDOW`` every login for that pair is refused
  until the window passes, and nobody can lock an advocate out from elsewhere. They are also
  counted per client address alone: past ``MAX_FAILURES_PER_CLIENT`` that address is refused
  whatever email it tries (password spraying). Unknown email, wrong password, wrong code: the
  same refusal, after the same argon2 work.
- A session is a random token in a cookie; the table keeps its SHA-256, the user, a CSRF token,
  and when it began and was last used: it ends after ``idle`` without use or ``absolute`` after
  login, whichever is first, at logout, and when the user is disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, insert, select, update

from bot.store.crypto import KeyRing
from bot.store.database import read_connection, write_transaction
from bot.store.tables import console_sessions, login_failures, users

ROLES = ("advocate", "admin")
ISSUER = "safeharbor"
MAX_FAILURES = 5
MAX_FAILURES_PER_CLIENT = 30
FAILURE_WINDOW = timedelta(minutes=15)
STEP_SECONDS = 30


class LoginRefused(Exception):
    """``limited``: too many failures for this email lately (HTTP 429); otherwise 401."""

    def __init__(self, limited: bool = False):
        super().__init__("too many attempts" if limited else "login refused")
        self.limited = limited


class AccountError(Exception):
    """A management command that cannot be done (unknown email, bad role, ...)."""


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: str
    disabled: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Login:
    token: str  # for the cookie; never stored
    csrf_token: str
    user: User


@dataclass(frozen=True)
class SessionUser:
    user: User
    csrf_token: str


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Accounts:
    def __init__(self, engine: Engine, keys: KeyRing, idle: timedelta = timedelta(minutes=30), absolute: timedelta = timedelta(hours=12)):
        self.engine = engine
        self.keys = keys
        self.idle = idle
        self.absolute = absolute
        self._hasher = PasswordHasher()  # argon2id
        self._dummy: str | None = None

    @property
    def _dummy_hash(self) -> str:
        """Verified against for an unknown email, so that it costs what a known one does."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    # -- management (``safeharbor users ...``) -----------------------------------------------------------

    def add(self, email: str, role: str, password: str, now: datetime) -> str:
        """Create a user; returns the ``otpauth://`` URI to enrol an authenticator app."""
        email = self._normal(email)
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
        email = self._normal(email)
        with write_transaction(self.engine) as connection:
            user_id = connection.execute(select(users.c.id).where(users.c.email == email)).scalar()
            if user_id is None:
                raise AccountError(f"no user {email}")
            connection.execute(update(users).where(users.c.id == user_id).values(disabled=1))
            connection.execute(delete(console_sessions).where(console_sessions.c.user_id == user_id))

    def reset_2fa(self, email: str) -> str:
        """A new TOTP secret (the old app stops working); ends their sessions; returns the URI."""
        email = self._normal(email)
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
        email = self._normal(email)
        return next((user for user in self.all() if user.email == email), None)

    # -- logging in and out ------------------------------------------------------------------------------

    def login(self, email: str, password: str, otp: str, now: datetime, client: str = "") -> Login:
        """A new session for the right email, password and a code not used before; else raises
        ``LoginRefused`` (the same for every wrong part; ``limited`` past the failure limits)."""
        try:
            email = self._normal(email)
        except AccountError:
            raise LoginRefused() from None
        subject, from_client = _hash_token(f"{email}|{client}"), _hash_token(f"client|{client}")
        with read_connection(self.engine) as connection:
            def failures(of: str) -> int:
                return connection.execute(
                    select(func.count()).select_from(login_failures)
                    .where(login_failures.c.subject == of, login_failures.c.at > now - FAILURE_WINDOW)
                ).scalar_one()

            limited = failures(subject) >= MAX_FAILURES or failures(from_client) >= MAX_FAILURES_PER_CLIENT
            row = connection.execute(select(users).where(users.c.email == email)).first()
        if limited:
            raise LoginRefused(limited=True)
        password_ok = self._verify(row.password_hash if row else self._dummy_hash, password)
        step = self._totp_step(row, otp, now) if row is not None and password_ok else None
        if row is None or row.disabled or not password_ok or step is None:
            self._failed((subject, from_client), now)
            raise LoginRefused()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with write_transaction(self.engine) as connection:
            # Each code once: only a step later than the last accepted one moves it.
            used = connection.execute(
                update(users).where(users.c.id == row.id, users.c.totp_last_step < step).values(totp_last_step=step)
            ).rowcount
            if not used:
                for each in (subject, from_client):
                    connection.execute(insert(login_failures).values(subject=each, at=now))
            else:
                connection.execute(delete(login_failures).where(login_failures.c.subject == subject))
                connection.execute(insert(console_sessions).values(
                    token_hash=_hash_token(token), user_id=row.id, csrf_token=csrf, created_at=now, last_seen_at=now,
                ))
        if not used:
            raise LoginRefused()
        return Login(token, csrf, User(row.id, row.email, row.role, False))

    def session(self, token: str | None, now: datetime, touch: bool = True) -> SessionUser | None:
        """The user of a live session, its use noted (unless ``touch`` is False: an automatic
        refresh is not use); None (and the row gone) once it has timed out."""
        if not token:
            return None
        key = _hash_token(token)
        with write_transaction(self.engine) as connection:
            row = connection.execute(
                select(console_sessions, users.c.email, users.c.role, users.c.disabled)
                .join(users, users.c.id == console_sessions.c.user_id)
                .where(console_sessions.c.token_hash == key)
            ).first()
            if row is None:
                return None
            if row.disabled or now - _aware(row.last_seen_at) > self.idle or now - _aware(row.created_at) > self.absolute:
                connection.execute(delete(console_sessions).where(console_sessions.c.token_hash == key))
                return None
            if touch:
                connection.execute(update(console_sessions).where(console_sessions.c.token_hash == key).values(last_seen_at=now))
        return SessionUser(User(row.user_id, row.email, row.role, False), row.csrf_token)

    def logout(self, token: str) -> None:
        with write_transaction(self.engine) as connection:
            connection.execute(delete(console_sessions).where(console_sessions.c.token_hash == _hash_token(token)))

    def purge(self, now: datetime) -> None:
        """Forget timed-out sessions and old failures."""
        with write_transaction(self.engine) as connection:
            connection.execute(delete(console_sessions).where(console_sessions.c.created_at < now - self.absolute))
            connection.execute(delete(console_sessions).where(console_sessions.c.last_seen_at < now - self.idle))
            connection.execute(delete(login_failures).where(login_failures.c.at < now - FAILURE_WINDOW))

    # -- helpers -----------------------------------------------------------------------------------------

    @staticmethod
    def _normal(email: str) -> str:
        email = email.strip().lower()
        if "@" not in email or len(email) > 254 or any(c.isspace() or not c.isprintable() for c in email):
            raise AccountError("not an email address")
        return email

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _totp_step(self, row, otp: str, now: datetime) -> int | None:
        """The time step ``otp`` is valid for (now, or one step either side for clock drift)."""
        otp = (otp or "").strip().replace(" ", "")
        if not (otp.isascii() and otp.isdigit() and len(otp) == 6):
            return None
        secret = self.keys.open(row.totp_secret).decode()
        totp = pyotp.TOTP(secret)
        current = int(now.timestamp()) // STEP_SECONDS
        for step in (current - 1, current, current + 1):
            if hmac.compare_digest(totp.at(step * STEP_SECONDS), otp):
                return step
        return None

    def _failed(self, subjects: tuple[str, ...], now: datetime) -> None:
        with write_transaction(self.engine) as connection:
            for subject in subjects:
                connection.execute(insert(login_failures).values(subject=subject, at=now))
