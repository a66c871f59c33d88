"""The database tables: only what DESIGN allows to be kept.

``conversations``: a random id, the keyed pseudonym, the sealed state, timestamps, expiry.
``data_keys``: the conversation's wrapped data key, apart so that erasure and key rotation touch
one small row, and so that everything later sealed under the same key (handoff transcripts,
outbound messages) is shredded by deleting it.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("pseudonym", String(64), nullable=False, unique=True),
    Column("state", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
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
