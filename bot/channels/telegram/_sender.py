"""Calls to the Telegram Bot API, through python-telegram-bot, with its errors mapped to ``SendError``."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import warnings
from collections.abc import Sequence
from typing import Any

import telegram
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.channels.base import SendError

from ._constants import ALLOWED_UPDATES
from ._redact import redact_token_in_logs, scrub

DELETE_BATCH = 100  # deleteMessages takes 1-100 ids
_UNDELETABLE = re.compile(r"message can't be deleted|message to delete not found", re.IGNORECASE)
_INTEGER = re.compile(r"-?[0-9]+")


class TelegramSender:
    """The Bot API calls the service and the polling worker make: one ``telegram.Bot`` per sender.

    ``token``: the bot's token (``TELEGRAM_BOT_TOKEN``); ``api_base_url``: the Bot API server
    (``TELEGRAM_API_BASE_URL``: the real one, a local Bot API server or a fake in tests);
    ``timeout``: seconds for connecting, writing and reading each call (getUpdates adds its
    long-polling ``timeout`` to the read timeout).

    Every method is a coroutine and raises ``SendError`` on failure: ``retry_after`` set when
    Telegram asked to wait (429), transient (``permanent=False``) for time-outs, connection errors
    and 5xx, ``permanent`` for a refused request (400), a bot blocked by the person (403), a bad
    token (401/404) or a conflicting webhook (409). Error reasons never contain the token.

    The first call initializes the bot (``getMe``, which also checks the token). The underlying
    HTTP connection pool belongs to the event loop of the first call: create, use and ``close()``
    a sender inside one event loop (one per background worker thread). ``async with`` closes it.

    Example::

        async with TelegramSender(token) as sender:
            message_id = await sender.send_message(render(outbound, chat_id))
            await sender.delete_messages(chat_id, [message_id, 17])
    """

    def __init__(self, token: str, api_base_url: str = "https://api.telegram.org", timeout: float = 10.0):
        if not token or not token.strip():
            raise ValueError("a Telegram bot token is required")
        redact_token_in_logs(token)
        base = api_base_url.rstrip("/")
        self._token = token
        # PTB appends the token to base_url (no "{token}" in it) and then "/<method>":
        # f"{base}/bot" -> f"{base}/bot{token}/sendMessage", as the Bot API expects.
        self._bot = telegram.Bot(
            token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=_request(timeout, pool_size=16),
            get_updates_request=_request(timeout, pool_size=1),
        )
        self._init_lock: asyncio.Lock | None = None
        self._ready = False

    async def __aenter__(self) -> TelegramSender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def send_message(self, params: dict[str, Any]) -> int:
        """Send one message; ``params`` as ``render`` makes them. Returns Telegram's message_id
        (keep it: a quick exit deletes it)."""
        kwargs = dict(params)
        kwargs["chat_id"] = _chat(kwargs["chat_id"])
        markup = kwargs.get("reply_markup")
        if isinstance(markup, dict):
            kwargs["reply_markup"] = telegram.InlineKeyboardMarkup.de_json(markup, self._bot)
        message = await self._call("sendMessage", self._bot.send_message, **kwargs)
        return message.message_id

    async def delete_messages(self, chat_id: str, message_ids: Sequence[int]) -> None:
        """Delete messages of a private chat, both sides (the quick exit), 100 per call.

        Messages Telegram can no longer delete (older than 48 hours, or already gone) are skipped,
        not an error. When a whole batch is refused that way, its messages are tried one by one
        (deleteMessage), so that one old message does not keep the recent ones on the phone.
        """
        chat = _chat(chat_id)
        ids = sorted({int(mid) for mid in message_ids})
        for start in range(0, len(ids), DELETE_BATCH):
            batch = ids[start:start + DELETE_BATCH]
            try:
                await self._call("deleteMessages", self._bot.delete_messages, chat_id=chat, message_ids=batch)
            except _Undeletable:
                if len(batch) > 1:
                    for message_id in batch:
                        try:
                            await self._call("deleteMessage", self._bot.delete_message, chat_id=chat, message_id=message_id)
                        except _Undeletable:
                            pass

    async def answer_callback(self, callback_id: str) -> None:
        """Acknowledge a pressed button (stops the spinner on it); shows nothing to the person."""
        await self._call("answerCallbackQuery", self._bot.answer_callback_query, callback_query_id=callback_id)

    async def set_webhook(self, url: str, secret: str) -> None:
        """Have Telegram POST updates to ``url`` with ``secret`` in ``X-Telegram-Bot-Api-Secret-Token``."""
        await self._call(
            "setWebhook", self._bot.set_webhook, url=url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES)
        )

    async def delete_webhook(self) -> None:
        """Stop webhook delivery (needed before polling with ``get_updates``)."""
        await self._call("deleteWebhook", self._bot.delete_webhook)

    async def get_updates(self, offset: int | None, timeout: int) -> list[dict[str, Any]]:
        """Long-poll for updates (for running without a public URL); each as a JSON dict that
        ``parse_update`` reads. Pass ``offset = last update_id + 1`` to confirm earlier ones.
        Raises ``SendError(permanent=True)`` while a webhook is set (409 Conflict)."""
        updates = await self._call(
            "getUpdates", self._bot.get_updates, offset=offset, timeout=timeout, allowed_updates=list(ALLOWED_UPDATES)
        )
        return [json.loads(update.to_json()) for update in updates]  # plain JSON values, unknown fields kept

    async def close(self) -> None:
        """Close the HTTP connections. The sender may be used again afterwards (it reconnects)."""
        self._ready = False
        self._init_lock = None
        await self._bot.shutdown()  # a no-op when never initialized

    async def _call(self, method: str, function: Any, **kwargs: Any) -> Any:
        try:
            await self._initialize()
            return await function(**kwargs)
        except TelegramError as exc:
            error = self._translate(method, exc)
        except (TypeError, ValueError, KeyError) as exc:
            if method != "getUpdates":
                raise
            # PTB could not read an update Telegram sent; retrying would read it again
            error = SendError(f"{method}: unreadable updates ({type(exc).__name__})", permanent=True)
        # Raised outside the except block: the PTB exception (whose message may hold the token)
        # is neither the cause nor the context of the SendError.
        raise error

    def _translate(self, method: str, exc: TelegramError) -> SendError:
        reason = f"{method}: {type(exc).__name__}: {scrub(exc.message).replace(self._token, '<token>')}"
        if isinstance(exc, RetryAfter):  # flood control: every call of the bot is to wait that long
            return SendError(reason, retry_after=_seconds(exc), throttled=True)
        if isinstance(exc, BadRequest):  # before NetworkError: PTB derives BadRequest from NetworkError
            if method.startswith("deleteMessage") and _UNDELETABLE.search(exc.message):
                return _Undeletable(reason)
            return SendError(reason, permanent=True)
        if isinstance(exc, (Forbidden, InvalidToken, ChatMigrated, Conflict)):
            return SendError(reason, permanent=True)
        # TimedOut, NetworkError (connection refused, 5xx), an answer that is not JSON: try again later
        return SendError(reason)

    async def _initialize(self) -> None:
        if self._ready:
            return
        if self._init_lock is None:
            self._init_lock = asyncio.Lock()
        async with self._init_lock:
            if not self._ready:
                await self._bot.initialize()
                self._ready = True


class _Undeletable(SendError):
    """Telegram refused to delete: too old, or already deleted. Never leaves this module."""

    def __init__(self, reason: str):
        super().__init__(reason, permanent=True)


def _request(timeout: float, pool_size: int) -> HTTPXRequest:
    return HTTPXRequest(
        connection_pool_size=pool_size,
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
        pool_timeout=timeout,
    )


def _chat(chat_id: str | int) -> int | str:
    """A numeric chat id as an int (as Telegram sends it), anything else (``@channel``) as is."""
    if isinstance(chat_id, str) and _INTEGER.fullmatch(chat_id):
        return int(chat_id)
    return chat_id


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB warns that the int will become a timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
