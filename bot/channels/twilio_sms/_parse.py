"""Twilio's form posts -> what arrived (``Delivery``) and what became of a sent message
(``StatusUpdate``). Call these only after ``is_authentic`` said yes."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

from bot.channels.base import BadPayload, Delivery
from bot.channels.twilio_sms._form import first_values
from bot.domain.messages import Channel, Inbound, InboundKind
from bot.domain.sms import CARRIER_OPT_OUT_WORDS

PROVIDER = "twilio"
SECRETS = ("TWILIO_AUTH_TOKEN", "TWILIO_WEBHOOK_SHARED_KEY")
"""Environment variables holding this channel's secrets, for redaction."""

# Twilio's default keywords that lift its block (the opt-out words are CARRIER_OPT_OUT_WORDS).
RESTART_WORDS = frozenset({"START", "UNSTOP"})
# Twilio's error "Attempt to send to unsubscribed recipient": the person sent an opt-out word, and
# the carrier refuses every message to them (in a status callback, or answering a REST send).
UNSUBSCRIBED_RECIPIENT = 21610

# Advanced Opt-Out (Messaging Services) names the keyword class in OptOutType.
_OPT_OUT_TYPES = {"STOP": InboundKind.OPT_OUT, "START": InboundKind.RESTART, "HELP": InboundKind.TEXT}
_TRAILING = string.whitespace + string.punctuation + "¡¿…"
WHATSAPP_PREFIX = "whatsapp:"
# A Message resource's SID, as Twilio's API description gives it for ``DELETE .../Messages/{Sid}``:
# SM (text) or MM (media) and 32 hex digits. Only such a SID is kept to delete later.
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")


def deletable_sid(value: str | None) -> str | None:
    """``value`` when it is a Message SID Twilio lets us delete, else None.

    >>> deletable_sid("SM" + "0" * 32) is not None, deletable_sid("SMxyz"), deletable_sid(None)
    (True, None, None)
    """
    return value if value and MESSAGE_SID.fullmatch(value) else None


def keyword_kind(body: str) -> InboundKind | None:
    """``OPT_OUT`` or ``RESTART`` when ``body`` as a whole is a carrier keyword, else None.

    >>> keyword_kind(" Stop. "), keyword_kind("unstop"), keyword_kind("stop please")
    (<InboundKind.OPT_OUT: 'opt_out'>, <InboundKind.RESTART: 'restart'>, None)
    """
    word = body.strip().rstrip(_TRAILING).upper()
    if word.lower() in CARRIER_OPT_OUT_WORDS:
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
    the delivery id and, when it is a Message SID, the inbound's ``message_ref`` (the record a
    quick exit deletes at Twilio), ``From`` the address (``whatsapp:+1...`` means WhatsApp),
    ``Body`` the text.
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
        inbound=Inbound(channel=channel, address=sender, text=body, kind=kind, message_ref=deletable_sid(message_sid)),
    )


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A status callback (``POST /webhooks/twilio/status``) for a message the service sent.

    ``status``: Twilio's ``MessageStatus`` as sent (``queued``, ``sent``, ``delivered``,
    ``undelivered``, ``failed``, ``read``...). ``error_code``: Twilio's ``ErrorCode`` when the
    message failed, e.g. 30003 (unreachable) or 21610 (the person opted out), else None.
    ``channel`` and ``address``: whom the message went to (``To``), so that its SID can be kept
    with that person's conversation (sealed) or, with none kept, the message deleted at Twilio;
    never stored or logged as such. ``deletable``: ``message_sid`` is a Message SID.
    """

    message_sid: str
    status: str
    error_code: int | None = None
    channel: Channel | None = None
    address: str | None = None

    def __repr__(self) -> str:
        return f"StatusUpdate(status={self.status!r}, error_code={self.error_code!r})"

    @property
    def unsubscribed(self) -> bool:
        """The carrier refused because the person sent STOP: send them nothing more."""
        return self.error_code == UNSUBSCRIBED_RECIPIENT

    @property
    def deletable(self) -> bool:
        return deletable_sid(self.message_sid) is not None

    @property
    def unsubscribed_channel(self) -> Channel | None:
        """Only when the carrier refused because the person opted out (21610): their channel."""
        return self.channel if self.unsubscribed else None

    @property
    def unsubscribed_address(self) -> str | None:
        """Only for 21610: whom to stop writing to."""
        return self.address if self.unsubscribed else None


def parse_status(form: Any) -> StatusUpdate:
    """A status callback as a ``StatusUpdate``: for a REST send's ``StatusCallback`` and for a
    TwiML ``<Message action=...>`` reply alike (both post ``MessageSid``, ``MessageStatus``,
    ``To``...). ``To`` gives ``channel`` and ``address``; the other fields are not kept.

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
    to = fields.get("To") or None
    return StatusUpdate(message_sid, status, error_code or None, channel_of(to) if to else None, to)


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
