"""The console's people, managed by admins: list, add, disable, enable, a new authenticator, a
role (and a translator's languages). ``Console`` (``bot.service.console``) is built on this, so
the web layer reaches it through the console facade like every other screen.

    console.users(who)                                    # [{"id", "email", "role", "languages", "disabled"}]
    made = console.add_user(who, "eva@example.org", "translator", ["es"])
    made["password"], made["secret"], made["otpauth_uri"] # shown once, never again
    console.disable_user(who, made["user"]["id"])         # their sessions end at once

Rules:
- Admins only (``NotAllowed`` for anyone else).
- An admin cannot disable their own account, change their own role or reset their own
  authenticator here (``AccountConflict``): the console then always keeps an admin, and a
  session left open on a shared screen cannot lock its owner out or rebind their second factor.
  Another admin, or ``safeharbor users`` on the server, can.
- A new account gets a generated password and authenticator secret, answered once: nothing
  keeps them but the password's argon2 hash and the sealed secret, and no listing returns those.
- Every change is in the audit trail, the actor the admin, the label the account's email (its
  ``user #id`` when the email is longer than a label may be): ``user_added``,
  ``user_disabled``, ``user_enabled``, ``user_2fa_reset``, ``user_role_<role>``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs, urlparse

from bot.handoff import HandoffError, NotAllowed
from bot.store.accounts import AccountError, AccountExists, Accounts, SessionUser, UnknownUser, User

__all__ = ["AccountConflict", "ConsolePeople", "InvalidAccount", "NoSuchUser", "new_password"]

# No 0/O, 1/l/I: a password read out over the phone or copied by hand.
PASSWORD_ALPHABET = "abcdefghijkmnopqrstuvwxyz23456789"
PASSWORD_GROUPS = 5  # 5 groups of 4: 100 random bits
LABEL_LENGTH = 40  # audit_log.label


class InvalidAccount(HandoffError):
    """Input an account cannot have: not an email, an unknown role, a bad language list (422)."""


class AccountConflict(HandoffError):
    """The account exists already, or an admin tried it on their own account (409)."""


class NoSuchUser(HandoffError):
    """No user by that id (404)."""


def new_password() -> str:
    """A random password for a new account, in groups of four: ``k7mq-2xwp-9dhe-u4ta-r6sn``."""
    groups = ("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4)) for _ in range(PASSWORD_GROUPS))
    return "-".join(groups)


def public(user: User) -> dict:
    """What the console shows of an account: never its password hash or authenticator secret."""
    return {"id": user.id, "email": user.email, "role": user.role, "languages": list(user.languages), "disabled": user.disabled}


def _secret_of(uri: str) -> str:
    return parse_qs(urlparse(uri).query)["secret"][0]


class ConsolePeople:
    """``Console``'s methods for the console's people (admins only)."""

    accounts: Accounts
    handoffs: object  # bot.handoff.HandoffRecords: its ``audit``
    now: Callable[[], datetime]

    def users(self, who: SessionUser) -> list[dict]:
        """Every account, by email."""
        _admin(who)
        return [public(user) for user in self.accounts.all()]

    def add_user(self, who: SessionUser, email: str, role: str, languages: list[str] | tuple[str, ...] = ()) -> dict:
        """A new account with a generated password; returns ``{"user", "password", "secret",
        "otpauth_uri"}``, the only time the password and secret are ever answered."""
        _admin(who)
        password = new_password()
        uri = _managing(lambda: self.accounts.add(email, role, password, self.now(), languages))
        user = self.accounts.find(email)
        self._audit(who, "user_added", user)
        return {"user": public(user), "password": password, "secret": _secret_of(uri), "otpauth_uri": uri}

    def disable_user(self, who: SessionUser, user_id: int) -> dict:
        """Disable the account; its sessions end at once."""
        user = self._other(who, user_id, "disable your own account")
        _managing(lambda: self.accounts.disable(user.email))
        self._audit(who, "user_disabled", user)
        return public(self.accounts.by_id(user.id))

    def enable_user(self, who: SessionUser, user_id: int) -> dict:
        """Let a disabled account log in again, with its password and authenticator."""
        _admin(who)
        user = self._user(user_id)
        _managing(lambda: self.accounts.enable(user.email))
        self._audit(who, "user_enabled", user)
        return public(self.accounts.by_id(user.id))

    def reset_user_2fa(self, who: SessionUser, user_id: int) -> dict:
        """A new authenticator secret (the old one stops working, their sessions end); returns
        ``{"user", "secret", "otpauth_uri"}``, the only time the secret is answered."""
        user = self._other(who, user_id, "reset your own authenticator")
        uri = _managing(lambda: self.accounts.reset_2fa(user.email))
        self._audit(who, "user_2fa_reset", user)
        return {"user": public(self.accounts.by_id(user.id)), "secret": _secret_of(uri), "otpauth_uri": uri}

    def set_user_role(self, who: SessionUser, user_id: int, role: str, languages: list[str] | tuple[str, ...] = ()) -> dict:
        """A new role, and a translator's languages (which replace theirs)."""
        _admin(who)
        user = self._user(user_id)
        if user.id == who.user.id and role != "admin":
            raise AccountConflict("you cannot change your own role here; another admin can")
        changed = _managing(lambda: self.accounts.set_role(user.email, role, languages))
        self._audit(who, f"user_role_{changed.role}", changed)
        return public(changed)

    # -- helpers -------------------------------------------------------------------------------------

    def _user(self, user_id: int) -> User:
        user = self.accounts.by_id(user_id)
        if user is None:
            raise NoSuchUser("no such user")
        return user

    def _other(self, who: SessionUser, user_id: int, what: str) -> User:
        """Account ``user_id``, which must not be the caller's own (an admin's)."""
        _admin(who)
        user = self._user(user_id)
        if user.id == who.user.id:
            raise AccountConflict(f"you cannot {what} here; another admin can, or `safeharbor users` on the server")
        return user

    def _audit(self, who: SessionUser, action: str, user: User) -> None:
        label = user.email if len(user.email) <= LABEL_LENGTH else f"user #{user.id}"
        self.handoffs.audit(who.user.email, action, label, self.now())


def _admin(who: SessionUser) -> None:
    if not who.user.is_admin:
        raise NotAllowed("admins only")


def _managing(action: Callable):
    """``action()``, the accounts' refusals as the console's typed errors."""
    try:
        return action()
    except UnknownUser as error:
        raise NoSuchUser(str(error)) from None
    except AccountExists as error:
        raise AccountConflict(str(error)) from None
    except AccountError as error:
        raise InvalidAccount(str(error)) from None
