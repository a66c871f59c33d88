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
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pyotp
from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, delete, insert, select, update

from bot.store.crypto import KeyRing, Pseudonyms
from bot.store.database import read_connection, write_transaction
from bot.store.login_limits import ACCOUNT, ADDRESS, GATE, SECOND_FACTOR, HashingBusy, HashingGate, Throttle, address_key
from bot.store.tables import console_sessions, users

ROLES = ("advocate", "admin")
ISSUER = "safeharbor"
STEP_SECONDS = 30


class LoginRefused(Exception):
    """Why a login did not open a session: ``retry_after`` set, the limits hold attempts back
    for that long (HTTP 429); ``busy``, this process is verifying as many passwords as it may
    (503); otherwise something was wrong (401), never saying what."""

    def __init__(self, retry_after: timedelta | None = None, busy: bool = False):
        super().__init__("busy" if busy else "too many attempts" if retry_after is not None else "login refused")
        self.retry_after = retry_after
        self.busy = busy

    @property
    def limited(self) -> bool:
        return self.retry_after is not None


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
class _Subjects:
    """The keyed hashes a login attempt is counted by (``login_limits``)."""

    account: str  # the submitted email
    address: str  # the client's address (an IPv6 one by its /64)
    second: str  # the email, for attempts that came past the limits on a fresh code

    @property
    def plain(self) -> dict:
        return {self.account: ACCOUNT, self.address: ADDRESS}

    @property
    def all(self) -> tuple[str, str, str]:
        return (self.account, self.address, self.second)


@dataclass(frozen=True)
class SessionUser:
    user: User
    csrf_token: str


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Accounts:
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
        ``LoginRefused`` (the same for every wrong part, known email or not; ``retry_after`` while
        the limits hold attempts back, ``busy`` past the hashing gate). ``client`` is the
        connecting address (the one ``SAFEHARBOR_TRUSTED_PROXIES`` lets uvicorn believe)."""
        try:
            email = self._normal(email)
        except AccountError:
            raise LoginRefused() from None
        subjects = self._limits_of(email, client)
        with read_connection(self.engine) as connection:
            row = connection.execute(select(users).where(users.c.email == email)).first()
        user = row if row is not None and not row.disabled else None
        # The code is read for every attempt, against a dummy secret for an unknown email, so
        # that both take the same time; it decides only whether a held-back attempt goes on.
        step = self._totp_step(user.totp_secret if user else self._dummy_totp_secret, otp, now)
        step = step if user is not None else None
        wait = self.throttle.wait(subjects.plain, now)  # a read: refused guesses never take a write lock
        if wait is not None and step is None:
            raise LoginRefused(retry_after=wait)
        try:
            with self.gate.admitted():
                claimed = self._reserve(subjects, user, step, now)
                password_ok = self.gate.verify(self._hasher, user.password_hash if user else self._dummy_hash, password)
        except HashingBusy:
            raise LoginRefused(busy=True) from None
        if user is None or not password_ok or step is None:
            raise LoginRefused()
        return self._open_session(user, step, claimed, subjects, now)

    def _limits_of(self, email: str, client: str) -> _Subjects:
        pseudonym = self._pseudonyms.of
        return _Subjects(pseudonym("login-account", email), pseudonym("login-address", address_key(client)), pseudonym("login-code", email))

    def _reserve(self, subjects: _Subjects, user, step: int | None, now: datetime) -> bool:
        """Record the attempt before its password is verified; raise ``LoginRefused`` with the
        wait when it may not be evaluated now. Past the limits, an attempt with a fresh code of
        a known account goes on, the code spent on it (then True: it is claimed already)."""
        with write_transaction(self.engine) as connection:
            self.throttle.lock(connection, subjects.all, now)  # all first, then the user's row: one order
            wait = self.throttle.reserve(connection, subjects.plain, now)
            if wait is None:
                return False
            fresh = {subjects.second: SECOND_FACTOR}
            if step is not None and self.throttle.reserve(connection, fresh, now, record=False) is None and self._claim(connection, user.id, step):
                self.throttle.reserve(connection, fresh, now)
                return True
        raise LoginRefused(retry_after=wait)

    def _open_session(self, user, step: int, claimed: bool, subjects: _Subjects, now: datetime) -> Login:
        """After the right password: spend the code (unless ``_reserve`` did) and open the session."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with write_transaction(self.engine) as connection:
            self.throttle.lock(connection, subjects.all, now)  # the order ``_reserve`` takes them in
            if claimed:
                # It came past the limits on a fresh code: whoever is held back there still is
                # (her success must not give a guesser a new round of free attempts).
                self.throttle.clear(connection, subjects.second)
            elif self._claim(connection, user.id, step):  # each code once
                self.throttle.clear(connection, subjects.account, subjects.second)
                self.throttle.refund(connection, subjects.address)
            else:
                raise LoginRefused()  # that code (or a later one) was accepted already
            connection.execute(insert(console_sessions).values(
                token_hash=_hash_token(token), user_id=user.id, csrf_token=csrf, created_at=now, last_seen_at=now,
            ))
        return Login(token, csrf, User(user.id, user.email, user.role, False))

    @staticmethod
    def _claim(connection: Connection, user_id: int, step: int) -> bool:
        """Spend the code of ``step``: False when it (or a later one) was accepted already."""
        return bool(connection.execute(
            update(users).where(users.c.id == user_id, users.c.totp_last_step < step).values(totp_last_step=step)
        ).rowcount)

    def session(self, token: str | None, now: datetime, touch: bool = True) -> SessionUser | None:
        """The user of a live session, its use noted (unless ``touch`` is False: an automatic
        refresh is not use); None once it has timed out or ended.

        Only a live session with ``touch`` writes: an unknown, ended or timed-out token (any
        anonymous caller can send one) costs one read, never a write transaction, which on
        SQLite would queue for the one write lock every person's turn needs. Timed-out rows are
        deleted by ``purge``."""
        if not token:
            return None
        key = _hash_token(token)
        with read_connection(self.engine) as connection:
            row = connection.execute(
                select(console_sessions, users.c.email, users.c.role, users.c.disabled)
                .join(users, users.c.id == console_sessions.c.user_id)
                .where(console_sessions.c.token_hash == key)
            ).first()
        if row is None or row.disabled or now - _aware(row.last_seen_at) > self.idle or now - _aware(row.created_at) > self.absolute:
            return None
        if touch:
            with write_transaction(self.engine) as connection:
                live = connection.execute(
                    update(console_sessions).where(console_sessions.c.token_hash == key).values(last_seen_at=now)
                ).rowcount
            if not live:  # logged out (or disabled) since the read
                return None
        return SessionUser(User(row.user_id, row.email, row.role, False), row.csrf_token)

    def logout(self, token: str) -> None:
        with write_transaction(self.engine) as connection:
            connection.execute(delete(console_sessions).where(console_sessions.c.token_hash == _hash_token(token)))

    def purge(self, now: datetime) -> None:
        """Forget timed-out sessions and login attempts long past."""
        with write_transaction(self.engine) as connection:
            connection.execute(delete(console_sessions).where(console_sessions.c.created_at < now - self.absolute))
            connection.execute(delete(console_sessions).where(console_sessions.c.last_seen_at < now - self.idle))
        self.throttle.purge(now)

    # -- helpers -----------------------------------------------------------------------------------------

    @staticmethod
    def _normal(email: str) -> str:
        email = email.strip().lower()
        if "@" not in email or len(email) > 254 or any(c.isspace() or not c.isprintable() for c in email):
            raise AccountError("not an email address")
        return email

    @property
    def _dummy_totp_secret(self) -> bytes:
        """Opened for an unknown email, so that reading its code costs what a known one's does."""
        if self._dummy_secret is None:
            self._dummy_secret = self.keys.seal(pyotp.random_base32().encode())
        return self._dummy_secret

    def _totp_step(self, sealed_secret: bytes, otp: str, now: datetime) -> int | None:
        """The time step ``otp`` is valid for (now, or one step either side for clock drift)."""
        otp = (otp or "").strip().replace(" ", "")
        if not (otp.isascii() and otp.isdigit() and len(otp) == 6):
            return None
        secret = self.keys.open(sealed_secret).decode()
        totp = pyotp.TOTP(secret)
        current = int(now.timestamp()) // STEP_SECONDS
        for step in (current - 1, current, current + 1):
            if hmac.compare_digest(totp.at(step * STEP_SECONDS), otp):
                return step
        return None
