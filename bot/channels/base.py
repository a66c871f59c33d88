"""What every channel adapter provides; the service and the web app rely on these names.

An adapter lives in its own folder (``bot/channels/<name>/``), verifies authenticity first, and
only translates: provider payload -> ``Delivery`` (what arrived), ``Outbound`` -> provider
payload (what to send). It never decides conversation logic and never logs an address, a chat
id or a message body. Its secrets are listed in ``SECRETS`` for redaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.messages import Inbound


class BadPayload(ValueError):
    """A signed request that lacks what the channel needs (answered 400, without details that
    could quote its content)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery, as an adapter parsed it.

    ``delivery_id``: the provider's id of this delivery (Twilio ``MessageSid``, Telegram
    ``update_id``); the service applies each once and answers a redelivery with the same reply.
    ``inbound``: what the person sent, or None when there is nothing to answer (a status
    update, an edit, a service message).
    ``callback_id``: a Telegram callback query to answer (a pressed button).
    """

    provider: str
    delivery_id: str
    inbound: Inbound | None
    callback_id: str | None = None

    def __repr__(self) -> str:
        return f"Delivery(provider={self.provider!r}, inbound={self.inbound!r})"


class SendError(Exception):
    """Sending failed. ``retry_after`` (seconds) when the provider asked to wait; ``throttled``
    when it refused because we sent too fast (HTTP 429: Telegram's flood control, Twilio's
    rate): a wait of our own making, not a failure of the message; ``permanent`` when retrying
    cannot help; ``unsubscribed`` when the carrier blocked the number (Twilio 21610): stop sending
    to this person for good."""

    def __init__(
        self, reason: str, *, permanent: bool = False, unsubscribed: bool = False, retry_after: float | None = None,
        throttled: bool = False,
    ):
        super().__init__(reason)
        self.permanent = permanent or unsubscribed
        self.unsubscribed = unsubscribed
        self.retry_after = retry_after
        self.throttled = throttled
