"""The Twilio channel: SMS (and WhatsApp through Twilio), one adapter.

``TwilioAdapter`` is the channel as ``bot.channels.base.ChannelAdapter`` describes it. Inside it:
Inbound: the webhook checks ``is_authentic`` first (a forged request gets nothing), then
``parse_message`` / ``parse_status``; it answers the incoming-message webhook with ``twiml``.
Outbound outside a webhook reply (an advocate's message in a handoff): ``TwilioSender.send``.
What Twilio keeps (each message's body and numbers, until deleted): ``TwilioSender.delete`` of
every SID the service learned (inbound ``MessageSid``, a REST send's answer, the status
callbacks of TwiML replies, asked for with ``twiml(..., status_url=...)``).

Nothing here logs a phone number or a message body. ``SECRETS`` names the settings to redact.
"""

from bot.channels.twilio_sms._adapter import TwilioAdapter
from bot.channels.twilio_sms._deleting import TWILIO_DELETE_FOR, twilio_delete_backoff
from bot.channels.twilio_sms._form import decode_form
from bot.channels.twilio_sms._memory import DELETES_CHANNEL, MAX_KEPT_SIDS, kept_sids
from bot.channels.twilio_sms._parse import (
    PROVIDER,
    RESTART_WORDS,
    SECRETS,
    UNSUBSCRIBED_RECIPIENT,
    StatusUpdate,
    deletable_sid,
    keyword_kind,
    parse_message,
    parse_status,
)
from bot.channels.twilio_sms._send import DEFAULT_API_BASE_URL, NotYetDeletable, TwilioSender
from bot.channels.twilio_sms._signature import is_authentic
from bot.channels.twilio_sms._twiml import sms_body, twiml

__all__ = [
    "DELETES_CHANNEL",
    "MAX_KEPT_SIDS",
    "TWILIO_DELETE_FOR",
    "TwilioAdapter",
    "kept_sids",
    "twilio_delete_backoff",
    "DEFAULT_API_BASE_URL",
    "decode_form",
    "deletable_sid",
    "NotYetDeletable",
    "PROVIDER",
    "RESTART_WORDS",
    "SECRETS",
    "sms_body",
    "UNSUBSCRIBED_RECIPIENT",
    "StatusUpdate",
    "TwilioSender",
    "is_authentic",
    "keyword_kind",
    "parse_message",
    "parse_status",
    "twiml",
]
