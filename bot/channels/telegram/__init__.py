"""The Telegram channel: a bot in private chats, through the Bot API.

What the rest of the service uses: ``TelegramAdapter`` (``bot.channels.base.ChannelAdapter``), and
inside it:

- ``is_authentic(headers, secret)``: the webhook's ``X-Telegram-Bot-Api-Secret-Token`` matches the
  secret given to setWebhook (``TELEGRAM_WEBHOOK_SECRET``); checked first, before the body is read.
- ``parse_update(data) -> Delivery``: one Update (webhook body or getUpdates item) as ``Inbound``
  (text, ``/start``, a pressed button, media) or ``None`` (edits, groups, service messages);
  ``BadPayload`` when it is not an Update at all.
- ``render(outbound, chat_id) -> dict``: sendMessage parameters, choices as inline buttons,
  ``protect_content`` always on.
- ``TelegramSender``: sendMessage, deleteMessages (the quick exit), answerCallbackQuery,
  setWebhook / deleteWebhook, getUpdates; failures as ``SendError``.

A webhook call, as Telegram sends it (header ``X-Telegram-Bot-Api-Secret-Token: <secret>``)::

    {"update_id": 100000001,
     "message": {"message_id": 17, "date": 1764158400,
                 "from": {"id": 5550001, "is_bot": false, "first_name": "A", "language_code": "es"},
                 "chat": {"id": 5550001, "type": "private", "first_name": "A"},
                 "text": "hola"}}

Nothing in this package logs a chat id, a message text or the token.
"""

from ._adapter import TelegramAdapter
from ._auth import is_authentic
from ._constants import ALLOWED_UPDATES, PROVIDER, SECRET_HEADER, SECRETS, TEXT_LIMIT, chat_pace
from ._parse import MEDIA_FIELDS, parse_update
from ._render import fit_text, render
from ._sender import TelegramSender

__all__ = [
    "ALLOWED_UPDATES",
    "MEDIA_FIELDS",
    "PROVIDER",
    "SECRETS",
    "SECRET_HEADER",
    "TEXT_LIMIT",
    "TelegramAdapter",
    "TelegramSender",
    "chat_pace",
    "fit_text",
    "is_authentic",
    "parse_update",
    "render",
]
