"""Handoffs at rest: the queue's rows, the sealed address and transcript, the audit trail.

Two sides write here:

- the person's, inside the turn's transaction (a DB-API cursor holding that person's lock, see
  ``store.sessions``): ``active``, ``open``, ``record``, ``mark_urgent`` (``person``);
- the advocates', each call its own transaction: ``claim``, ``transcript``, ``add``,
  ``transfer``, ``finish``, and the worker's ``due_reminders`` and ``purge`` (``desk``); the
  console's reads, ``listing``, ``get``, ``changes``, ``audit_trail``, are ``listing``'s.

A handoff's transcript and address are sealed under the handoff's own data key (wrapped by the
key-encryption keys), so deleting ``wrapped_key`` shreds all of it. The person's quick exit does
that in ``person_left``, which ``SessionStore`` calls in the transaction of the erasure (the
service attaches these records to the store: ``SessionStore.attach``); ``expired`` does the same
for the ended handoffs of a conversation purged after its expiry.

Statuses and moves are ``lifecycle``'s; a refusal is one of its typed ``HandoffError``s. The SQL
that runs on a caller's cursor is prepared once, in ``statements``; the rows' shapes are ``rows``'.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from bot.store.crypto import KeyRing
from bot.handoff.desk import AdvocateSide
from bot.handoff.listing import Listings
from bot.handoff.person import LEFT_SHOWN_FOR, OPENING_LOCK, PersonSide
from bot.handoff.rows import Active, Handoff
from bot.handoff.statements import Statements

__all__ = ["LEFT_SHOWN_FOR", "OPENING_LOCK", "SENDERS", "Active", "Handoff", "HandoffRecords"]

SENDERS = ("person", "bot", "advocate", "note", "system")


class HandoffRecords(PersonSide, AdvocateSide, Listings):
    """Every handoff's rows, for the person's turns, the console and the worker. ``retention``:
    how long an ended handoff's transcript is kept before it is shredded."""

    def __init__(self, engine: Engine, keys: KeyRing, retention: timedelta = timedelta(hours=72)):
        self.engine = engine
        self.keys = keys
        self.retention = retention
        self._sql = Statements(engine.dialect)
