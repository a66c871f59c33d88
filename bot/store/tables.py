"""The database tables: only what DESIGN allows to be kept.

``conversations``: a random id, the keyed pseudonym, the sealed state, timestamps, expiry.
``data_keys``: the conversation's wrapped data key, apart so that erasure and key rotation touch
one small row, and so that everything later sealed under the same key (handoff transcripts,
outbound messages) is shredded by deleting it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("pseudonym", String(64), nullable=False, unique=True),
    Column("state", LargeBinary, nullable=True),
    # Sealed like the state: what a channel needs between turns (Telegram: the ids of the
    # chat's recent messages, so a quick exit can delete them). Never read by the engine.
    Column("channel_state", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Past ``expires_at`` the state is shredded; the key and ``channel_state`` stay until
    # ``keep_until`` (Telegram: 48 h after the chat's newest message), so a quick exit after a
    # long silence can still delete the chat.
    Column("keep_until", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_conversations_expires_at", "expires_at"),
)

data_keys = Table(
    "data_keys",
    metadata,
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
)

# Each provider delivery (Twilio MessageSid, Telegram update_id) is applied once: the insert
# conflicts on a redelivery. ``delivery`` is a keyed hash of the provider's id. ``reply`` is the
# webhook's answer sealed under the conversation's key, for a redelivery to get the same one; it
# is cleared when the conversation is erased (and the key is gone anyway).
deliveries = Table(
    "deliveries",
    metadata,
    Column("provider", String(16), primary_key=True),
    Column("delivery", String(64), primary_key=True),
    Column("conversation_id", String(32), nullable=True, index=True),
    Column("reply", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

# The transactional outbox: messages written in the same transaction as the turn, sent by the
# background work in order per ``stream`` (the conversation id, kept after an erasure so the last
# messages still go out in order). ``payload`` (where to send and what) is sealed with the
# key-encryption keys, not the conversation key, so a quick exit's own messages survive its
# erasure; it is wiped once the provider accepted or refused it for good.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stream", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("kind", String(16), nullable=False),  # send | delete | answer
    Column("payload", LargeBinary, nullable=True),
    Column("status", String(12), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("provider_ref", String(64), nullable=True),  # keyed hash of the provider's message id
    Column("error", String(64), nullable=True),  # a kind of failure, never a provider's text
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_stream", "stream", "id"),
    # Never reuse an id: a worker finishing a message whose row an erasure deleted must not mark
    # a new row (a quick exit's deletions) that got the same id as sent.
    sqlite_autoincrement=True,
)

# Delivery outcomes of our sends (Twilio status callbacks), once per (message, status).
delivery_statuses = Table(
    "delivery_statuses",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("provider_ref", String(64), nullable=False),
    Column("status", String(24), nullable=False),
    Column("error_code", String(12), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    UniqueConstraint("provider_ref", "status", name="uq_delivery_statuses_ref_status"),
)
