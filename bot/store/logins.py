"""Logging in to the console: a password (argon2id) and a TOTP code at every login, within the
login limits (``login_limits``; the rules are in ``accounts``' docstring)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, insert, select, update

from bot.store.console_sessions import hash_token
from bot.store.crypto import KeyRing, Pseudonyms
from bot.store.database import read_connection, write_transaction
from bot.store.login_limits import ACCOUNT, ADDRESS, SECOND_FACTOR, HashingBusy, HashingGate, Throttle, address_key
from bot.store.people import AccountError, Login, LoginRefused, User, normal_email, read_languages
from bot.store.tables import console_sessions, users

STEP_SECONDS = 30


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


class Logins:
    """``Accounts``' ``login`` and what it takes: the attempt counted, the code read, the
    password verified (the same work for an unknown email), the code spent, the session opened."""

    engine: Engine
    keys: KeyRing
    throttle: Throttle
    gate: HashingGate
    _pseudonyms: Pseudonyms
    _hasher: PasswordHasher
    _dummy: str | None
    _dummy_secret: bytes | None

    def login(self, email: str, password: str, otp: str, now: datetime, client: str = "") -> Login:
        """A new session for the right email, password and a code not used before; else raises
        ``LoginRefused`` (the same for every wrong part, known email or not; ``retry_after`` while
        the limits hold attempts back, ``busy`` past the hashing gate). ``client`` is the
        connecting address (the one ``SAFEHARBOR_TRUSTED_PROXIES`` lets uvicorn believe)."""
        try:
            email = normal_email(email)
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
                token_hash=hash_token(token), user_id=user.id, csrf_token=csrf, created_at=now, last_seen_at=now,
            ))
        return Login(token, csrf, User(user.id, user.email, user.role, False, read_languages(user.languages)))

    @staticmethod
    def _claim(connection: Connection, user_id: int, step: int) -> bool:
        """Spend the code of ``step``: False when it (or a later one) was accepted already."""
        return bool(connection.execute(
            update(users).where(users.c.id == user_id, users.c.totp_last_step < step).values(totp_last_step=step)
        ).rowcount)

    @property
    def _dummy_hash(self) -> str:
        """Verified against for an unknown email, so that it costs what a known one does."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

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
