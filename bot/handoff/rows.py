"""What a handoff's row looks like from each side, and the encodings its rows are stored in.

``Handoff`` is the console's view (nothing that identifies the person); ``Active`` the person's
side, with the handoff's data key unwrapped for the turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from bot.store.crypto import seal
from bot.store.tables import aware
from bot.handoff.lifecycle import Status


@dataclass(frozen=True)
class Handoff:
    """A row as the console sees it: nothing that identifies the person."""

    id: str
    label: str
    channel: str
    language: str
    status: Status
    urgent: bool
    waiting_since: datetime
    holder_id: int | None
    holder: str | None
    claimed_at: datetime | None
    ended_at: datetime | None
    conversation_id: str | None
    may_write: bool = False  # the person said "you may write to me here"; else replies wait for them

    def public(self) -> dict:
        """The JSON the API returns for a queue entry. ``replies``: ``sent`` (the person may be
        written to) or ``held`` (what the advocate writes waits for the person's next message)."""
        return {
            "id": self.id, "label": self.label, "language": self.language, "channel": self.channel,
            "status": self.status.value, "waiting_since": iso(self.waiting_since), "urgent": self.urgent,
            "holder": self.holder, "claimed_at": iso(self.claimed_at), "ended_at": iso(self.ended_at),
            "replies": "sent" if self.may_write else "held",
        }


@dataclass(frozen=True)
class Active:
    """The person's side: the handoff open for this conversation, with its key unwrapped."""

    id: str
    status: Status
    label: str
    key: bytes
    may_write: bool = False
    # What the transcript holds of the person's own lines so far, and whether one did not fit.
    person_lines: int = 0
    person_bytes: int = 0
    truncated: bool = False

    def fits(self, text: str, max_lines: int, max_bytes: int) -> bool:
        """Whether one more line of the person's, ``text``, stays within the transcript's caps."""
        return self.person_lines < max_lines and self.person_bytes + len(utf8(text)) <= max_bytes


def iso(moment: datetime | None) -> str | None:
    """``moment`` (as read from a column) in UTC, ISO 8601 with a ``Z``, for the console's API."""
    if moment is None:
        return None
    return aware(moment).astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def seal_line(key: bytes, handoff_id: str, sender: str, text: str) -> bytes:
    # A cut emoji leaves an unpaired surrogate, which UTF-8 cannot hold: kept (and shown to the
    # advocate) as the replacement character rather than failing the person's turn.
    return seal(key, f"{handoff_id}:{sender}", text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode())


def utf8(text: str) -> bytes:
    return text.encode("utf-8", "replace")
