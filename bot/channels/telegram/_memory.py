"""What a conversation keeps of its Telegram messages, so that a quick exit can delete the chat.

Telegram lets a bot delete both sides of a private chat for 48 hours after each message: a
conversation's ``channel_state["messages"]`` holds ``[message_id, unix_time]`` pairs (sealed
with the conversation), only those still deletable, at most ``MAX_KEPT_MESSAGES``. The format is
the one stored rows already have; keep it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

DELETABLE_FOR = timedelta(hours=48)
MAX_KEPT_MESSAGES = 300


def remember(channel_state: dict, message_id: int, now: datetime) -> None:
    """Add ``message_id`` (sent or received at ``now``), dropping ids no longer deletable."""
    cutoff = int((now - DELETABLE_FOR).timestamp())
    kept = [m for m in channel_state.get("messages", []) if m[1] > cutoff]
    kept.append([int(message_id), int(now.timestamp())])
    channel_state["messages"] = kept[-MAX_KEPT_MESSAGES:]


def kept_ids(channel_state: dict) -> list[int]:
    """The kept message ids, oldest first."""
    return [message_id for message_id, _ in channel_state.get("messages", [])]


def keep_until(channel_state: dict) -> datetime | None:
    """48 h after the newest kept message: until then the state outlives the conversation, so a
    quick exit after it expired still deletes the chat. None when nothing is kept."""
    messages = channel_state.get("messages")
    if not messages:
        return None
    return datetime.fromtimestamp(max(ts for _, ts in messages), timezone.utc) + DELETABLE_FOR
