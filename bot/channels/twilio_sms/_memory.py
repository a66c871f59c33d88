"""What a conversation keeps of its Twilio messages, so that its end can delete them at Twilio.

Twilio keeps every message (body and numbers) until it is deleted through its API, whenever that
is: the SIDs of a conversation's messages (inbound ``MessageSid``, a REST send's answer, the
status callbacks of TwiML replies) are kept in its ``channel_state["sids"]`` (sealed with it),
oldest first, until it ends; the outbox then deletes them. Past ``MAX_KEPT_SIDS`` the oldest are
deleted at once, so the sealed state stays small. The format is the one stored rows already
have; keep it.
"""

from __future__ import annotations

MAX_KEPT_SIDS = 500

# Deleting what Twilio keeps: outbox jobs of kind ``delete`` on this channel (one Twilio account
# serves SMS and WhatsApp: the same DELETE of a Message SID), payload ``{"sids": [...]}``, sealed
# like every payload (a SID opens the message at Twilio: it is a secret), at most
# ``DELETE_BATCH`` SIDs a job so that one job stays well within its claim. Rows already stored
# have this form: keep it.
DELETES_CHANNEL = "sms"
DELETE_BATCH = 50


def remember_sid(channel_state: dict, sid: str) -> None:
    """Add ``sid``, once."""
    sids = channel_state.setdefault("sids", [])
    if sid not in sids:
        sids.append(sid)


def kept_sids(channel_state: dict) -> list[str]:
    """The kept SIDs, oldest first.

    >>> state = {}
    >>> remember_sid(state, "SM" + "a" * 32); remember_sid(state, "SM" + "a" * 32)
    >>> kept_sids(state) == ["SM" + "a" * 32]
    True
    """
    return list(channel_state.get("sids", ()))


def sid_batches(sids: list[str]) -> list[list[str]]:
    """``sids`` in jobs of at most ``DELETE_BATCH``.

    >>> [len(batch) for batch in sid_batches(["SM"] * 120)]
    [50, 50, 20]
    """
    return [sids[start:start + DELETE_BATCH] for start in range(0, len(sids), DELETE_BATCH)]


def deletion_jobs(sids) -> list[tuple[str, str, dict]]:
    """The outbox jobs ``(channel, kind, payload)`` deleting ``sids`` at Twilio (each to go on a
    stream of its own: an erasure of the conversation must not take its deletions with it, and
    one message not yet deletable must not hold up the others). Anything but a SID is skipped,
    and a SID given twice is deleted once."""
    unique = list(dict.fromkeys(sid for sid in sids if isinstance(sid, str)))
    return [(DELETES_CHANNEL, "delete", {"sids": batch}) for batch in sid_batches(unique)]
