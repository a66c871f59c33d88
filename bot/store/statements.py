"""The statements of a turn, compiled once for the store's dialect (``prepared``): load, save, create
and erase a conversation, claim a delivery, enqueue a message, and PostgreSQL's per-person lock."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, func, insert, select, update

from bot.store.database import insert_ignoring_conflict
from bot.store.prepared import Prepared
from bot.store.tables import conversations, data_keys, deliveries, outbox

OUTBOX_COLUMNS = ("stream", "channel", "kind", "payload", "status", "attempts", "next_attempt_at", "created_at")


class TurnStatements:
    """The statements of a turn, compiled once for the store's dialect (see ``prepared``)."""

    def __init__(self, dialect):
        c, k, d, o = conversations.c, data_keys.c, deliveries.c, outbox.c
        self.load = Prepared(
            select(c.id, c.state, c.channel_state, k.wrapped, c.expires_at)
            .join(data_keys, k.conversation_id == c.id, isouter=True)
            # Under the current epoch's tag, the previous one's (not yet moved forward), or the
            # pseudonym itself (a conversation from before epochs).
            .where(c.pseudonym.in_([bindparam("tag"), bindparam("previous_tag"), bindparam("legacy")])),
            dialect,
        )
        self.save = Prepared(
            update(conversations).where(c.id == bindparam("b_id")).values(
                state=bindparam("state"), channel_state=bindparam("channel_state"), updated_at=bindparam("now"),
                expires_at=bindparam("expires_at"), keep_until=bindparam("keep_until"),
            ),
            dialect,
        )
        # The same without ``expires_at``, for a turn that leaves it where it was: an UPDATE that
        # names an indexed column rewrites its index entry even when the value is unchanged.
        self.save_keeping_expiry = Prepared(
            update(conversations).where(c.id == bindparam("b_id")).values(
                state=bindparam("state"), channel_state=bindparam("channel_state"), updated_at=bindparam("now"),
                keep_until=bindparam("keep_until"),
            ),
            dialect,
        )
        self.save_channel = Prepared(
            update(conversations).where(c.id == bindparam("b_id"))
            .values(channel_state=bindparam("channel_state"), keep_until=bindparam("keep_until")),
            dialect,
        )
        self.create = Prepared(
            insert(conversations).values(
                id=bindparam("id"), pseudonym=bindparam("tag"), created_at=bindparam("now"),
                updated_at=bindparam("now"), expires_at=bindparam("expires_at"),
            ),
            dialect,
        )
        self.create_key = Prepared(
            insert(data_keys).values(conversation_id=bindparam("id"), wrapped=bindparam("wrapped"), epoch=bindparam("epoch")), dialect
        )
        self.delete_key = Prepared(delete(data_keys).where(k.conversation_id == bindparam("id")), dialect)
        self.delete_conversation = Prepared(delete(conversations).where(c.id == bindparam("id")), dialect)
        self.delete_stream = Prepared(delete(outbox).where(o.stream == bindparam("id")), dialect)
        self.claim = Prepared(
            insert_ignoring_conflict(dialect, deliveries).values(
                provider=bindparam("provider"), delivery=bindparam("delivery"),
                reply=bindparam("reply"), created_at=bindparam("now"),
            ),
            dialect,
        )
        self.recorded = Prepared(
            select(d.reply).where(d.provider == bindparam("provider"), d.delivery == bindparam("delivery")),
            dialect,
        )
        self.enqueue = Prepared(insert(outbox).values({column: bindparam(column) for column in OUTBOX_COLUMNS}), dialect)
        # PostgreSQL: one turn per person at a time, across processes, with a lock that the
        # commit releases (a session-level lock would strand under PgBouncer).
        self.lock = Prepared(select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("pseudonym"), 0))), dialect)
