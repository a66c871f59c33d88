"""``TelegramAdapter``: the Telegram channel as ``bot.channels.base.ChannelAdapter`` describes it.

Replies are queued (the outbox sends them, paced to the Bot API's rates); a quick exit deletes
both sides of the chat (``_memory``); ``POST /webhooks/telegram`` verifies the secret header
before reading the body, and answers ``{}`` or, for a reply that was not queued (the turn failed:
the 24/7 line; or a new chat past the minute's limit), a ``sendMessage`` in the response itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.channels.base import NOTHING_SENT, BadPayload, Desk, SendError, Sent
from bot.channels.webhook import bad_request, forbidden, read_capped, too_large
from bot.domain.messages import Channel, decode_output

from . import _memory
from ._auth import is_authentic
from ._constants import PROVIDER, SECRETS, chat_pace
from ._parse import parse_update
from ._render import render

log = logging.getLogger("safeharbor.runtime")  # polling runs beside the worker, as it always logged

WEBHOOK_PATH = "/webhooks/telegram"


class TelegramAdapter:
    """``sender``: a ``TelegramSender`` (or a fake with its coroutines), None when sending is off;
    ``webhook_secret``: ``TELEGRAM_WEBHOOK_SECRET`` (None: every webhook call is refused)."""

    name = PROVIDER
    SECRETS = SECRETS  # the settings that hold ``secrets``
    channels = (Channel.TELEGRAM,)
    queued = True
    deletes_chat = True
    keeps_copies = False  # Telegram keeps nothing we could delete but the chat itself
    paced = True  # every worker's sends together keep to the bot's rate (SendPace, keyed by name)

    def __init__(self, sender=None, webhook_secret: str | None = None, token: str | None = None):
        self.sender = sender
        self.webhook_secret = webhook_secret
        self.secrets = tuple(s for s in (token, webhook_secret) if s)

    @property
    def sends(self) -> bool:
        return self.sender is not None

    # -- receiving ---------------------------------------------------------------------------

    def webhooks(self, desk: Desk) -> dict:
        async def telegram_webhook(request: Request) -> Response:
            return await self.webhook(desk, request)

        return {WEBHOOK_PATH: telegram_webhook}

    async def webhook(self, desk: Desk, request: Request) -> Response:
        if not is_authentic(request.headers, self.webhook_secret):
            return forbidden(PROVIDER)
        body = await read_capped(request)
        if body is None:
            return too_large()
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # nested a thousand levels deep too
            return bad_request(PROVIDER, "body is not JSON")
        try:
            delivery = parse_update(data)
        except BadPayload as exc:
            return bad_request(PROVIDER, str(exc))
        except RecursionError:
            return bad_request(PROVIDER, "body is nested too deeply")
        reception = await desk.receive(delivery)
        reply = self.unqueued_reply(reception, delivery)
        # An answer that was not queued goes in the webhook's response, which Telegram turns into
        # a sendMessage.
        return JSONResponse({"method": "sendMessage", **reply} if reply else {})

    @staticmethod
    def unqueued_reply(reception, delivery) -> dict | None:
        """sendMessage parameters for a reception's answer that was not queued, else None."""
        if reception.outputs and not reception.queued and delivery.inbound is not None:
            return render(reception.outputs[0], delivery.inbound.address)
        return None

    async def poll(self, desk: Desk, stop: asyncio.Event) -> None:
        """Development without a public URL: fetch updates instead of receiving webhooks."""
        sender = self.sender
        offset: int | None = None
        webhook_removed = False
        log.warning("polling Telegram for updates (development mode; use a webhook in production)")
        while not stop.is_set():
            try:
                if not webhook_removed:
                    await sender.delete_webhook()  # Telegram refuses getUpdates while a webhook is set
                    webhook_removed = True
                updates = await sender.get_updates(offset, timeout=25)
            except Exception as exc:  # noqa: BLE001
                log.error("telegram polling failed: %s", type(exc).__name__)
                await asyncio.sleep(3)
                continue
            for update in updates:
                offset = max(offset or 0, int(update.get("update_id", 0)) + 1)
                try:
                    delivery = parse_update(update)
                except BadPayload:
                    continue
                reception = await desk.receive(delivery)
                reply = self.unqueued_reply(reception, delivery)
                if reply:
                    try:  # as the webhook does: the 24/7 line when the turn failed, the answer past a limit
                        await sender.send_message(reply)
                    except Exception as exc:  # noqa: BLE001
                        log.error("telegram fallback failed: %s", type(exc).__name__)

    # -- sending -----------------------------------------------------------------------------

    async def send(self, job) -> Sent:
        """``send``: sendMessage (its message id kept for a quick exit, unless it is the line after
        one or a notice to the advocates' group); ``delete``: deleteMessages; ``answer``:
        answerCallbackQuery."""
        payload = job.payload
        if job.kind == "send":
            params = render(decode_output(payload), payload["to"])
            if payload.get("quiet"):  # sent on its own, not as an answer: no sound (DESIGN rule 2)
                params["disable_notification"] = True
            message_id = await self.sender.send_message(params)
            keep = not payload.get("after_exit") and not payload.get("notice")
            return Sent(deletable_id=message_id if keep else None)
        if job.kind == "delete":
            await self.sender.delete_messages(payload["to"], payload["message_ids"])
            return NOTHING_SENT
        if job.kind == "answer":
            await self.sender.answer_callback(payload["callback_id"])
            return NOTHING_SENT
        raise SendError(f"cannot send {job.kind} on {job.channel}", permanent=True)

    @staticmethod
    def per_second(limits) -> float:
        """The bot's rate, for every worker together (``SAFEHARBOR_LIMIT_TELEGRAM_PER_SECOND``)."""
        return limits.telegram_per_second

    @staticmethod
    def pace(job) -> tuple[int, float] | None:
        """The per-chat pace a sent message counts against (``Outbox.sent``)."""
        return chat_pace(job.payload["to"]) if job.kind == "send" else None

    async def close(self) -> None:
        close = getattr(self.sender, "close", None)
        if close is not None and asyncio.iscoroutinefunction(close):
            await close()

    # -- what the conversation keeps ------------------------------------------------------------

    def remember_sent(self, channel_state: dict, message_id: int | str, now: datetime) -> None:
        _memory.remember(channel_state, int(message_id), now)

    def keep_until(self, channel_state: dict) -> datetime | None:
        return _memory.keep_until(channel_state)

    def delete_chat(self, channel_state: dict, address: str, inbound_ref) -> dict | None:
        """The ``delete`` job's payload of a quick exit: both sides of the chat, as far as still
        deletable (the exit message included), or None when nothing is."""
        ids = _memory.kept_ids(channel_state) + ([inbound_ref] if inbound_ref is not None else [])
        return {"to": address, "message_ids": ids} if ids else None

    def delete_now(self, address: str, message_id) -> dict:
        """The ``delete`` job's payload for a message of a conversation nothing is kept of."""
        return {"to": address, "message_ids": [message_id]}
