"""What every channel adapter provides; the service, the worker and the web app rely on these names.

An adapter lives in its own folder (``bot/channels/<name>/``), verifies authenticity first, and
only translates: provider payload -> ``Delivery`` (what arrived), ``Outbound`` -> provider
payload (what to send). It never decides conversation logic and never logs an address, a chat
id or a message body. Its secrets are listed in ``SECRETS`` (setting names) and ``secrets``
(their values) for redaction. ``bot.channels.registry`` is the only place listing adapters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.domain.messages import Channel, Inbound, Outbound


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


@dataclass(frozen=True, slots=True)
class Sent:
    """What a provider answered to one sent job (``ChannelAdapter.send``).

    ``provider_ref``: the provider's id of the message when its status callbacks will name it
    (recorded as a pseudonym, so that a status is counted once); ``deletable_id``: the id by
    which the adapter can delete the message later (``ChannelAdapter.remember_sent``), None when
    nothing is to be deleted. Both None for a job that sends no message (a deletion, a button's
    answer)."""

    provider_ref: str | None = None
    deletable_id: int | str | None = None

    def __repr__(self) -> str:  # an id opens a message at its provider: never in a log
        return f"Sent(provider_ref={'…' if self.provider_ref else None}, deletable={self.deletable_id is not None})"


NOTHING_SENT = Sent()


@dataclass(frozen=True, slots=True)
class Deletion:
    """What is left of a job deleting what a provider keeps (``ChannelAdapter.delete_kept``).

    Nothing ``left``: done. Something left and ``retry_at``: try again then, with ``payload``
    (what is left) when it is not the whole job. Something left and no ``retry_at``: given up."""

    left: tuple = ()
    retry_at: datetime | None = None
    payload: dict | None = None


class Desk(Protocol):
    """What an adapter's webhooks hand their deliveries to (``bot.web.webhooks.Desk``): the
    service's calls, run the way the database wants, and the 24/7 fallback."""

    fallback: Outbound

    async def receive(self, delivery: Delivery) -> Any: ...  # a ``service.Reception``

    async def call(self, function: Callable[..., Any], *args: Any) -> Any: ...

    @property
    def service(self) -> Any: ...


Handler = Callable[[Any], Awaitable[Any]]  # a Starlette ``Request`` -> ``Response``


class ChannelAdapter(Protocol):
    """One provider, as the rest of safeharbor sees it.

    ``name``: the provider (``Delivery.provider``; the key of its shared send pace);
    ``channels``: the ``Channel`` values it serves (an outbox job's ``channel`` is one of their
    values); ``queued``: its replies go through the outbox rather than in the webhook's answer;
    ``deletes_chat``: a quick exit deletes the chat's messages from the person's device
    (``delete_chat``, ``delete_now``); ``keeps_copies``: the provider keeps each message until it
    is deleted through its API (``kept``, ``forget_oldest``, ``deletion_jobs``, ``delete_kept``,
    at most ``MAX_KEPT`` ids kept); ``paced``: every worker's sends together keep to
    ``per_second(limits)``; ``secrets``: the values to redact from every log (``SECRETS``: the
    settings holding them); ``sends``: whether it has what sending needs.
    """

    name: str
    channels: tuple[Channel, ...]
    queued: bool
    deletes_chat: bool
    keeps_copies: bool
    paced: bool
    secrets: tuple[str, ...]
    sends: bool

    def webhooks(self, desk: Desk) -> dict[str, Handler]:
        """POST routes (path -> handler): each verifies first (403), then parses (400), then
        hands a ``Delivery`` to ``desk`` and answers as the provider expects."""

    async def send(self, job: Any) -> Sent:
        """Send one outbox job (``store.outbox.Job``); raises ``SendError``."""

    def pace(self, job: Any) -> tuple[int, float] | None:
        """The per-chat pace (messages, seconds) a sent job counts against, if any."""

    def remember_sent(self, channel_state: dict, message_id: int | str, now: datetime) -> None:
        """Keep ``message_id`` in a conversation's ``channel_state`` for a later deletion."""

    def keep_until(self, channel_state: dict) -> datetime | None:
        """Until when ``channel_state`` must outlive the conversation (None: not past it)."""

    async def close(self) -> None:
        """Release connections (at shutdown)."""
