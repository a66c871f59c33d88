"""The console's people as the rest of the service sees them, and the refusals of their
accounts: ``User``, ``Login``, ``SessionUser``, ``LoginRefused``, ``AccountError`` (and its
``UnknownUser``, ``AccountExists``).

Three roles (``ROLES``):
- ``advocate``: the advocates' desk (the queue, the conversations they hold);
- ``admin``: the desk, every conversation, the audit trail, the console's people, and every
  language of the content;
- ``translator``: edits and reviews the content of the languages named on their account
  (``User.languages``), nothing of the desk, nothing of structure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

ROLES = ("advocate", "admin", "translator")
DESK_ROLES = frozenset({"advocate", "admin"})
# A language code as locales/ names them: "es", "fr", "pt-br", "zh-hant" (lower-cased).
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
MAX_LANGUAGES = 20


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
    """A management command that cannot be done (bad email, bad role, bad languages, ...)."""


class UnknownUser(AccountError):
    """No user by that email or id."""


class AccountExists(AccountError):
    """A user with that email exists already."""


@dataclass(frozen=True)
class User:
    """``languages``: what a translator may edit (empty for the other roles: an admin may edit
    every language, an advocate none)."""

    id: int
    email: str
    role: str
    disabled: bool
    languages: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_translator(self) -> bool:
        return self.role == "translator"

    @property
    def uses_desk(self) -> bool:
        """Advocates and admins work the advocates' desk; translators never see it."""
        return self.role in DESK_ROLES

    def may_edit_language(self, code: str) -> bool:
        """Whether this user may edit and review the content of language ``code``: an admin
        every language, a translator theirs, an advocate none."""
        if self.disabled:
            return False
        return self.is_admin or (self.is_translator and code.strip().lower() in self.languages)


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


def normal_languages(role: str, languages: Iterable[str] | str | None) -> tuple[str, ...]:
    """The languages stored for a user of ``role``: for a translator, at least one code,
    lower-cased, each once, in the order given (``"es, FR"`` and ``["es", "fr"]`` both give
    ``("es", "fr")``); for the other roles none (``AccountError`` when some were given, so that
    nobody believes an advocate was limited to a language). ``AccountError`` for a code that is
    not one (``LANGUAGE_CODE``)."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if isinstance(languages, str):
        languages = languages.split(",")
    codes: list[str] = []
    for code in (c.strip().lower() for c in languages or ()):
        if not code:
            continue
        if not LANGUAGE_CODE.fullmatch(code):
            raise AccountError(f"{code[:20]!r} is not a language code (like es, fr or pt-br)")
        if code not in codes:
            codes.append(code)
    if role != "translator":
        if codes:
            raise AccountError("only translators have languages (an admin edits every language, an advocate none)")
        return ()
    if not codes:
        raise AccountError("a translator needs at least one language (like --languages es,fr)")
    if len(codes) > MAX_LANGUAGES:
        raise AccountError(f"at most {MAX_LANGUAGES} languages")
    return tuple(codes)


def stored_languages(codes: tuple[str, ...]) -> str | None:
    """The ``users.languages`` column's form: ``"es,fr"``, or NULL for none."""
    return ",".join(codes) or None


def read_languages(column: str | None) -> tuple[str, ...]:
    """``users.languages`` back to codes."""
    return tuple(code for code in (column or "").split(",") if code)
