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

# Telegram's rates (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this,
# checked 2026-12-02): "avoid sending more than one message per second" in a chat ("we may allow
# short bursts"), "not more than 20 messages per minute to the same group", and "not more than 30
# messages per second or so" in bulk. The last is SAFEHARBOR_LIMIT_TELEGRAM_PER_SECOND; the first
# two are per chat: (messages, seconds) in any window of that length.
PRIVATE_CHAT_PACE = (3, 3.0)
"""A private chat: at most 3 messages in any 3 seconds (a short burst, then one a second)."""

GROUP_PACE = (20, 60.0)
"""A group, supergroup or channel (the advocates' group): at most 20 messages a minute."""


def chat_pace(chat_id: str | int) -> tuple[int, float]:
    """The pace of sends to ``chat_id``: groups and channels have negative ids (or ``@name``).

    >>> chat_pace(5550001), chat_pace("-1001234")
    ((3, 3.0), (20, 60.0))
    """
    text = str(chat_id)
    return GROUP_PACE if text.startswith(("-", "@")) else PRIVATE_CHAT_PACE
