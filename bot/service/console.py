"""The console facade: every call the advocates' console makes, and who may make it.

    console = Console(service)                  # bot.web.api builds one per app
    who = console.session(token, touch=True)    # None: no live session
    handoff = console.get(who, handoff_id)      # NoSuchHandoff; NotAllowed for a translator
    console.answer(who, handoff, text)          # NotAllowed, HandoffGone, WrongStatus, RevealingOpening...

It wraps the ``Service`` (the calls with lifecycle effects: claim, answer, release, close, which
message the person) and its ``HandoffRecords`` and ``Accounts`` (queries, notes, transfers,
logins, the audit trail), so the web layer (``bot.web.api``) imports this module and
``bot.domain`` only. Each method checks the caller's role first and raises a typed
``bot.handoff`` error, never an HTTP status; the transaction that acts checks again (the row may
have changed since). Blocking: call from a thread (the routers use ``run_in_threadpool``).

Roles (``bot.store.people``): advocates and admins work the desk (every conversation method
here refuses a translator with ``NotAllowed``, and nobody can transfer a conversation to one);
admins also read the audit trail and manage the console's people (``console_people``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.handoff import (
    Handoff, HandoffError, HandoffGone, NoSuchAdvocate, NoSuchHandoff, NotAllowed, NotYours, RevealingOpening, Status,
    TeachesOptOut, UnknownListing, WrongStatus,
)
from bot.service import Service
from bot.service.console_people import AccountConflict, ConsolePeople, InvalidAccount, NoSuchUser
from bot.store.accounts import Login, LoginRefused, SessionUser

# What the web layer takes from here rather than from the handoff and store modules.
__all__ = [
    "CANNED", "AccountConflict", "Console", "Handoff", "HandoffError", "HandoffGone", "InvalidAccount", "Login",
    "LoginRefused", "NoSuchAdvocate", "NoSuchHandoff", "NoSuchUser", "NotAllowed", "NotYours", "RevealingOpening",
    "SessionUser", "TeachesOptOut", "UnknownListing", "WrongStatus",
]

HANDOFF_ID = re.compile(r"[0-9a-f]{32}")

# The console's canned replies: locale keys, shown as buttons in the survivor's language.
CANNED = (
    ("hotline", "Share the 24/7 hotline", "canned.hotline"),
    ("safety_plan", "Safety planning", "canned.safety_plan"),
    ("legal_aid", "Legal-aid referral", "canned.legal_aid"),
    ("safe_to_talk", "Is this a good time to chat?", "canned.safe_to_talk"),
)


class Console(ConsolePeople):
    """The console's side of the service. ``enabled`` is False on the memory store (no
    accounts, no handoffs): then no console route exists."""

    def __init__(self, service: Service):
        self.service = service
        self.accounts = service.accounts
        self.handoffs = service.handoffs

    @property
    def enabled(self) -> bool:
        return self.accounts is not None

    def now(self) -> datetime:
        return self.service.clock()

    # -- auth -------------------------------------------------------------------------------------------

    @property
    def session_lifetime(self) -> timedelta:
        """How long a session lasts at most (the cookie's max-age)."""
        return self.accounts.absolute

    def session(self, token: str | None, touch: bool = True) -> SessionUser | None:
        """The live session of ``token``, or None. ``touch`` False: an automatic refresh, which
        must not keep an unattended session alive."""
        return self.accounts.session(token, self.now(), touch)

    def login(self, email: str, password: str, otp: str, client: str) -> Login:
        """Email, password and a current TOTP code; audited as ``logged_in``. ``client``: the
        connecting address (for the per-address limit). Raises ``LoginRefused``."""
        done = self.accounts.login(email, password, otp, self.now(), client)
        self.handoffs.audit(done.user.email, "logged_in", None, self.now())
        return done

    def logout(self, token: str | None) -> None:
        self.accounts.logout(token)

    # -- conversations ----------------------------------------------------------------------------------

    def desk(self, who: SessionUser) -> None:
        """``NotAllowed`` unless ``who`` works the advocates' desk (an advocate or an admin):
        a translator sees nothing of a conversation, not even the queue."""
        if not who.user.uses_desk:
            raise NotAllowed("the advocates' desk is for advocates and admins")

    def listing(self, who: SessionUser, status: str) -> list[Handoff]:
        """``waiting``, ``mine`` (the caller's, and theirs the person left) or ``open``."""
        self.desk(who)
        return self.handoffs.listing(status, who.user.id)

    def get(self, who: SessionUser, handoff_id: str) -> Handoff:
        """The conversation ``handoff_id``; ``NoSuchHandoff`` for an unknown or malformed id."""
        self.desk(who)
        handoff = self.handoffs.get(handoff_id) if HANDOFF_ID.fullmatch(handoff_id) else None
        if handoff is None:
            raise NoSuchHandoff("no such conversation")
        return handoff

    def canned(self, who: SessionUser, handoff: Handoff) -> list[dict]:
        """The canned replies in the person's language, with the flow's variables filled in."""
        self.desk(who)
        text = self.service.content.text
        return [{"id": cid, "title": title, "text": text(key, handoff.language)} for cid, title, key in CANNED]

    def claim(self, who: SessionUser, handoff: Handoff) -> Handoff:
        """Any advocate or admin takes a waiting conversation (``NotYours`` when another holds it)."""
        self.desk(who)
        return self.service.claim_handoff(handoff.id, who.user.id, who.user.email)

    def transcript(self, who: SessionUser, handoff: Handoff) -> list[dict]:
        """The lines since escalation, with notes (holder or admin; audited as viewed)."""
        _holder_or_admin(who, handoff)
        return self.handoffs.transcript(handoff, who.user.email, self.now())

    def answer(self, who: SessionUser, handoff: Handoff, text: str) -> bool:
        """The holder's message to the person; returns whether it is sent now (the person chose
        to be written to) rather than held for their next message."""
        self.desk(who)
        if handoff.holder_id != who.user.id:
            raise NotAllowed("only the advocate holding this conversation can answer")
        if handoff.status == Status.LEFT:
            raise HandoffGone("the person has left")
        if handoff.status != Status.HELD:
            raise WrongStatus(f"this conversation is {handoff.status}")
        self.service.answer(handoff, text, who.user.id, who.user.email)
        return handoff.may_write

    def note(self, who: SessionUser, handoff: Handoff, text: str) -> None:
        """An internal note, encrypted, never sent (holder or admin)."""
        _holder_or_admin(who, handoff)
        self.handoffs.add(handoff.id, "note", text, who.user.id, who.user.email, self.now())

    def transfer(self, who: SessionUser, handoff: Handoff, to: str | None) -> Handoff:
        """To the advocate with email ``to`` (``NoSuchAdvocate`` for none, a disabled one or a
        translator), or back to the waiting queue (``to`` empty). Holder or admin."""
        _holder_or_admin(who, handoff)
        target = None
        if to:
            user = self._find_user(to)
            if user is None or user.disabled or not user.uses_desk:
                raise NoSuchAdvocate("no such advocate")
            target = user.id
        return self.handoffs.transfer(handoff, target, who.user.email, self.now(), _holder_unless_admin(who))

    def release(self, who: SessionUser, handoff: Handoff) -> None:
        """Back to the bot: the person is told, and gets the menu (holder or admin)."""
        _holder_or_admin(who, handoff)
        self.service.end_handoff(handoff, "release", who.user.email, _holder_unless_admin(who))

    def close(self, who: SessionUser, handoff: Handoff) -> None:
        """End it; the transcript is shredded after the retention time (holder or admin)."""
        _holder_or_admin(who, handoff)
        self.service.end_handoff(handoff, "close", who.user.email, _holder_unless_admin(who))

    def advocates(self, who: SessionUser) -> list[dict]:
        """Who a conversation can be transferred to: every advocate and admin not disabled."""
        self.desk(who)
        return [{"email": u.email, "role": u.role} for u in self.accounts.all() if not u.disabled and u.uses_desk]

    def changes(self) -> tuple:
        """A cheap fingerprint of the queue and transcripts (the live events poll it, after
        ``desk`` let the caller in)."""
        return self.handoffs.changes()

    # -- admin ------------------------------------------------------------------------------------------

    def audit(self, who: SessionUser) -> list[dict]:
        """The audit trail, newest first; never message text. Admins only."""
        if not who.user.is_admin:
            raise NotAllowed("admins only")
        return self.handoffs.audit_trail()

    def _find_user(self, email: str):
        try:
            return self.accounts.find(email)
        except Exception:  # noqa: BLE001 - a malformed email is simply not an advocate
            return None


def _holder_or_admin(who: SessionUser, handoff: Handoff) -> None:
    if not who.user.uses_desk:
        raise NotAllowed("the advocates' desk is for advocates and admins")
    if not (who.user.is_admin or handoff.holder_id == who.user.id):
        raise NotAllowed("only the advocate holding this conversation, or an admin")


def _holder_unless_admin(who: SessionUser) -> int | None:
    """Whose hold an action requires: the caller's, or nobody's for an admin."""
    return None if who.user.is_admin else who.user.id
