"""The database tables: only what DESIGN allows to be kept.

``conversations``: a random id, the lookup tag of the keyed pseudonym (keyed again by the
epoch, ``KeyRing.tag``), the sealed state, timestamps, expiry.
``data_keys``: the conversation's wrapped data key, apart so that erasure and key rotation touch
one small row, and so that everything later sealed under the same key (handoff transcripts,
outbound messages) is shredded by deleting it.

Every moment is a ``DateTime(timezone=True)`` column written in UTC; read one back through
``aware``, since SQLite returns it naive.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import overload

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    """A moment read from a ``DateTime(timezone=True)`` column, as an aware datetime: SQLite gives
    them back naive, and they were stored as UTC (PostgreSQL's come back aware, unchanged; None
    stays None).

    >>> aware(datetime(2026, 12, 1, 12, 0)).isoformat()
    '2026-12-01T12:00:00+00:00'
    """
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("pseudonym", String(64), nullable=False, unique=True),  # the lookup tag, not the pseudonym itself
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
    # The epoch ``wrapped`` is under (NULL: a key from before epochs, under the key-encryption
    # keys): the rollover moves the older ones forward before their epoch is destroyed.
    Column("epoch", Integer, nullable=True, index=True),
)

# Each provider delivery (Twilio MessageSid, Telegram update_id) is applied once: the insert
# conflicts on a redelivery. ``delivery`` is a keyed hash of the provider's id. ``reply`` is the
# webhook's answer for a redelivery to get the same one: sealed under the conversation's key
# (bound to the conversation id and the delivery), so erasing the conversation (its key) leaves
# it unreadable, and no column links a receipt to a conversation. Replies are dropped after
# ``REPLY_KEPT_FOR`` and receipts after two days (``Outbox.purge``).
deliveries = Table(
    "deliveries",
    metadata,
    Column("provider", String(16), primary_key=True),
    Column("delivery", String(64), primary_key=True),
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
    # When the provider accepted it: the chat's recent sends pace the next ones (Telegram's
    # per-chat limits, ``Outbox.sent``).
    Column("sent_at", DateTime(timezone=True), nullable=True),
    # The first time the provider failed it (a time-out, a 5xx), not counting a provider's "slow
    # down" nor our own pacing: a reply is dropped as too late only by this (``bot.worker``).
    Column("failing_since", DateTime(timezone=True), nullable=True),
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

# -- handing a chat to a person (bot/handoff) --------------------------------------------------------

# One row per escalation. What the queue shows is plain (a made-up label, language, channel,
# status, times, urgency): none of it identifies a person. What does (the address to answer) is
# sealed under the handoff's own data key, wrapped by the key-encryption keys like a
# conversation's; the transcript is sealed under the same key, so deleting ``wrapped_key``
# shreds the whole handoff at once (quick exit, or ``delete_after`` once closed).
handoffs = Table(
    "handoffs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), nullable=True, index=True),  # None once the person is gone
    Column("label", String(40), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("language", String(16), nullable=False),
    Column("status", String(12), nullable=False),  # waiting | held | released | closed | left
    Column("urgent", Integer, nullable=False, default=0),
    # How the person chose to get replies when asking (DESIGN rule 1): 1 "you may write to me
    # here", 0 "I will check back" (then nothing is sent until they write again).
    Column("may_write", Integer, nullable=False, default=0, server_default="0"),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("address", LargeBinary, nullable=True),  # sealed
    Column("holder_id", Integer, nullable=True),  # users.id of the advocate holding it
    Column("waiting_since", DateTime(timezone=True), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    Column("reminded_at", DateTime(timezone=True), nullable=True),  # the one reminder was sent
    Column("joined_at", DateTime(timezone=True), nullable=True),  # "someone is here now" was said (once)
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("delete_after", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
    # What the transcript holds of the person's own lines (counted to cap it, see
    # ``SAFEHARBOR_LIMIT_TRANSCRIPT_*``), and whether a line did not fit (the advocate was told once).
    Column("person_lines", Integer, nullable=False, server_default="0"),
    Column("person_bytes", Integer, nullable=False, server_default="0"),
    Column("truncated", Integer, nullable=False, server_default="0"),
    # 0 while the advocates' group has not been told of this waiting chat (notices are grouped:
    # ``SAFEHARBOR_LIMIT_NOTICES_PER_MINUTE``); 1 once told, or when there is no group to tell.
    Column("noticed", Integer, nullable=False, default=1, server_default="1"),
    Index("ix_handoffs_status", "status", "waiting_since"),
)

# The transcript since escalation, and the advocates' notes: every body sealed under the
# handoff's key (associated data: the handoff id and this row's sender).
handoff_messages = Table(
    "handoff_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("handoff_id", String(32), nullable=False),
    Column("sender", String(12), nullable=False),  # person | bot | advocate | note | system
    Column("author_id", Integer, nullable=True),  # users.id for advocate and note
    Column("body", LargeBinary, nullable=False),
    # 1 while a line for the person waits for them to write again (they chose "I will check
    # back", or the chat was handed back to the bot): it goes out in the reply to their next message.
    Column("pending", Integer, nullable=False, default=0, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_handoff_messages_handoff", "handoff_id", "id"),
    sqlite_autoincrement=True,
)

# -- the console's people, sessions and audit trail ---------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),  # stored lower-cased
    Column("role", String(12), nullable=False),  # advocate | admin | translator
    # A translator's languages, comma-separated ("es,fr"); NULL for the other roles.
    Column("languages", String(200), nullable=True),
    Column("password_hash", String(200), nullable=False),  # argon2id
    Column("totp_secret", LargeBinary, nullable=False),  # sealed with the key-encryption keys
    Column("totp_last_step", BigInteger, nullable=False, default=0),  # each code is accepted once
    Column("disabled", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,
)

# Server-side console sessions: the cookie holds a random token, the table its SHA-256.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
)

# Login attempts per subject, recorded before a password is verified (bot/store/login_limits.py).
# ``subject`` is a keyed hash (the pepper) of the submitted email, known or not, or of a client
# address: neither is kept in the clear.
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("subject", String(64), primary_key=True),
    Column("attempts", Integer, nullable=False),  # in the current window
    Column("window_start", DateTime(timezone=True), nullable=False, index=True),
    Column("next_at", DateTime(timezone=True), nullable=True),  # no attempt is evaluated before this
)

# Who did what to which label, when. Never a message, a note or an address.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(254), nullable=False),  # the user's email, or "person" / "system"
    Column("action", String(24), nullable=False),
    Column("label", String(40), nullable=True),
    sqlite_autoincrement=True,
)


# -- abuse and cost limits (bot/store/limits.py) --------------------------------------------------------

# Counts per fixed window (a clock minute) of things limited across every process: new
# conversations, notices to the advocates' group. A name and a number: nothing about anyone.
# Rows of past windows are deleted by the worker's purge.
limit_windows = Table(
    "limit_windows",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),  # unix seconds
    Column("count", Integer, nullable=False),
)

# The pace of sends to a provider shared by every worker (one row per provider): ``next_at`` the
# wall-clock time (unix seconds) of the next free slot, ``paused_until`` (the service's clock,
# unix seconds) when the provider asked every sender to wait (Telegram's 429 ``retry_after``).
send_pace = Table(
    "send_pace",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("next_at", Float, nullable=False),
    Column("paused_until", Float, nullable=True),
)


# -- the content bundle's revisions (bot/content/revisions.py) ------------------------------------------

# Immutable numbered revisions of the whole content bundle (flows, locales, resources): public
# texts, kept readable. ``files``: the bundle as zlib-compressed JSON (path -> text); ``tags``:
# JSON of what changed against ``base`` (steps, languages, resources), computed on the server.
# Exactly one row is ``published`` once the service has started; a publish archives the one before.
content_revisions = Table(
    "content_revisions",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=True),
    Column("status", String(10), nullable=False),  # draft | published | archived
    Column("author", String(254), nullable=False),  # a console user's email, or "import" / "files"
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("message", String(500), nullable=False),
    Column("base", Integer, nullable=True),  # the revision it was edited from
    Column("digest", String(64), nullable=False),
    Column("tags", Text, nullable=False),
    Column("files", LargeBinary, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("published_by", String(254), nullable=True),
    Index("ix_content_revisions_status", "status"),
    sqlite_autoincrement=True,
)
