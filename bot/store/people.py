"""The console's people as the rest of the service sees them, and the refusals of their
accounts: ``User``, ``Login``, ``SessionUser``, ``LoginRefused``, ``AccountError``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

ROLES = ("advocate", "admin")


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
class SessionUser:
    user: User
    csrf_token: str


def normal_email(email: str) -> str:
    """``email`` trimmed and lower-cased; ``AccountError`` when it is not an email address."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or any(c.isspace() or not c.isprintable() for c in email):
        raise AccountError("not an email address")
    return email
