"""Names shared by the Telegram adapter's modules."""

from __future__ import annotations

PROVIDER = "telegram"
"""``Delivery.provider`` of every Telegram delivery."""

SECRETS = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")
"""Environment variables holding this channel's secrets, for redaction."""

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
"""The header Telegram sets on each webhook call to the ``secret_token`` given to setWebhook."""

TEXT_LIMIT = 4096
"""sendMessage accepts 1-4096 characters of text."""

CHOICE_PREFIX = "choice:"
"""``callback_data`` of a choice button is ``choice:<number>``."""

ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
"""The update types the bot asks Telegram for (setWebhook, getUpdates). Edits are requested so
that they can be acknowledged and ignored rather than mistaken for new messages."""
