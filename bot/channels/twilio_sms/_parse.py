"""Twilio's form posts -> what arrived (``Delivery``) and what became of a sent message
(``StatusUpdate``). Call these only after ``is_authentic`` said yes."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from bot.channels.base import BadPayload, Delivery
from bot.channels.twilio_sms._form import first_values
from bot.domain.messages import Channel, Inbound, InboundKind

PROVIDER = "twilio"

# Twilio's default keywords (SMS STOP filtering). Twilio blocks the sender's number when one of
# these is the whole message, so nothing the service sends afterwards arrives.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
RESTART_WORDS = frozenset({"START", "UNSTOP"})

# Advanced Opt-Out (Messaging Services) names the keyword class in OptOutType.
_OPT_OUT_TYPES = {"STOP": InboundKind.OPT_OUT, "START": InboundKind.RESTART, "HELP": InboundKind.TEXT}
_TRAILING = string.whitespace + string.punctuation + "¡¿…"
WHATSAPP_PREFIX = "whatsapp:"


def keyword_kind(body: str) -> InboundKind | None:
    """``OPT_OUT`` or ``RESTART`` when ``body`` as a whole is a carrier keyword, else None.

    >>> keyword_kind(" Stop. "), keyword_kind("unstop"), keyword_kind("stop please")
    (<InboundKind.OPT_OUT: 'opt_out'>, <InboundKind.RESTART: 'restart'>, None)
    """
    word = body.strip().rstrip(_TRAILING).upper()
    if word in OPT_OUT_WORDS:
        return InboundKind.OPT_OUT
    if word in RESTART_WORDS:
        return InboundKind.RESTART
    return None


def channel_of(address: str) -> Channel:
    """``whatsapp:+1...`` is WhatsApp; any other Twilio address is SMS."""
    return Channel.WHATSAPP if address.lower().startswith(WHATSAPP_PREFIX) else Channel.SMS


def parse_message(form: Any) -> Delivery:
    """The incoming-message webhook (``POST /webhooks/twilio/sms``) as a ``Delivery``.

    ``form``: the posted fields, e.g. ``MessageSid=SM...&From=%2B14155550100&Body=Hola&NumMedia=0``
    plus Twilio's other fields (ignored). ``MessageSid`` (``SmsMessageSid`` on old posts) becomes
    the delivery id, ``From`` the address (``whatsapp:+1...`` means WhatsApp), ``Body`` the text.
    The kind: ``OptOutType`` when Twilio sent it (Advanced Opt-Out: STOP -> ``OPT_OUT``, START ->
    ``RESTART``, HELP -> ``TEXT``); else ``MEDIA`` for attachments without text (never fetched);
    else, on SMS only, ``OPT_OUT`` / ``RESTART`` for a carrier keyword that is the whole body;
    else ``TEXT``.

    Raises ``BadPayload`` naming the missing or malformed field (never quoting its value).
    """
    fields = first_values(form)
    message_sid = fields.get("MessageSid") or fields.get("SmsMessageSid")
    if not message_sid:
        raise BadPayload("field 'MessageSid' is required")
    sender = fields.get("From")
    if not sender:
        raise BadPayload("field 'From' is required")
    body = fields.get("Body") or ""
    num_media = _count(fields.get("NumMedia"), "NumMedia")

    channel = channel_of(sender)
    kind = _OPT_OUT_TYPES.get((fields.get("OptOutType") or "").strip().upper())
    if kind is None:
        if num_media > 0 and not body.strip():
            kind = InboundKind.MEDIA
        elif channel is Channel.SMS:
            kind = keyword_kind(body) or InboundKind.TEXT
        else:
            # Carriers block on these words for SMS only: on WhatsApp "cancel" or "end" reaches
            # us like any word, and erasing without a reply would leave the person unanswered.
            kind = InboundKind.TEXT
    return Delivery(
        provider=PROVIDER,
        delivery_id=message_sid,
        inbound=Inbound(channel=channel, address=sender, text=body, kind=kind),
    )


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A status callback (``POST /webhooks/twilio/status``) for a message the service sent.

    ``status``: Twilio's ``MessageStatus`` as sent (``queued``, ``sent``, ``delivered``,
    ``undelivered``, ``failed``, ``read``...). ``error_code``: Twilio's ``ErrorCode`` when the
    message failed, e.g. 30003 (unreachable) or 21610 (the person opted out), else None.
    """

    message_sid: str
    status: str
    error_code: int | None = None
    # Only when the carrier refused because the person opted out (21610): whom to stop writing to.
    unsubscribed_channel: Channel | None = None
    unsubscribed_address: str | None = None

    def __repr__(self) -> str:
        return f"StatusUpdate(status={self.status!r}, error_code={self.error_code!r})"

    @property
    def unsubscribed(self) -> bool:
        """The carrier refused because the person sent STOP: send them nothing more."""
        return self.error_code == 21610


def parse_status(form: Any) -> StatusUpdate:
    """A status callback as a ``StatusUpdate``. ``To`` is read only for error 21610 (the person
    opted out), so that nothing more is sent to them; the other fields are not kept.

    Raises ``BadPayload`` when ``MessageSid`` or ``MessageStatus`` is missing, or ``ErrorCode`` is
    not a number.
    """
    fields = first_values(form)
    message_sid = fields.get("MessageSid")
    if not message_sid:
        raise BadPayload("field 'MessageSid' is required")
    status = fields.get("MessageStatus")
    if not status:
        raise BadPayload("field 'MessageStatus' is required")
    raw_code = (fields.get("ErrorCode") or "").strip()
    error_code = _count(raw_code, "ErrorCode") if raw_code else None
    update = StatusUpdate(message_sid=message_sid, status=status, error_code=error_code or None)
    to = fields.get("To")
    if update.unsubscribed and to:
        update = StatusUpdate(message_sid, status, update.error_code, unsubscribed_channel=channel_of(to), unsubscribed_address=to)
    return update


def _count(raw: str | None, field: str) -> int:
    if raw is None or not raw.strip():
        return 0
    try:
        value = int(raw.strip())
    except ValueError:
        raise BadPayload(f"field '{field}' must be a whole number") from None
    if value < 0:
        raise BadPayload(f"field '{field}' must be a whole number")
    return value
