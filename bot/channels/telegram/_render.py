"""``Outbound`` -> the parameters of a Bot API sendMessage call."""

from __future__ import annotations

from typing import Any

from bot.domain.messages import Outbound

from ._constants import CHOICE_PREFIX, TEXT_LIMIT

ELLIPSIS = "\u2026"
EMPTY_TEXT = ELLIPSIS  # sendMessage refuses empty text; a neutral mark says nothing on a lock screen


def render(outbound: Outbound, chat_id: str) -> dict[str, Any]:
    """The sendMessage parameters for ``outbound`` in the private chat ``chat_id``.

    Called by the service when it dispatches a reply; the result goes to
    ``TelegramSender.send_message``. Always ``protect_content: True`` (the message cannot be
    forwarded or saved from the chat). Choices become an inline keyboard, one button per row,
    labelled ``"{number} {label}"`` and sending back ``choice:{number}``. The text never exceeds
    Telegram's 4096 characters (counted in UTF-16 units, as Telegram counts): a longer one is cut,
    preferably at a space, and ends with an ellipsis. An empty text becomes an ellipsis.

    >>> from bot.domain.messages import ChoiceView
    >>> render(Outbound("Hello.", (ChoiceView(1, "English"), ChoiceView(2, "Español"))), "5550001")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'chat_id': '5550001', 'text': 'Hello.', 'protect_content': True,
     'reply_markup': {'inline_keyboard': [[{'text': '1 English', 'callback_data': 'choice:1'}],
                                          [{'text': '2 Español', 'callback_data': 'choice:2'}]]}}
    """
    params: dict[str, Any] = {
        "chat_id": chat_id,
        "text": fit_text(outbound.text),
        "protect_content": True,
    }
    if outbound.choices:
        params["reply_markup"] = {
            "inline_keyboard": [
                [{"text": f"{choice.number} {choice.label}", "callback_data": _callback_data(choice.number, outbound.offer)}]
                for choice in outbound.choices
            ]
        }
    return params


def _callback_data(number: int, offer: str | None) -> str:
    """``choice:2`` or, with the offer's tag, ``choice:2:s7`` (Telegram allows 64 bytes)."""
    tag = f":{offer}" if offer and len(offer) <= 32 and ":" not in offer else ""
    return f"{CHOICE_PREFIX}{number}{tag}"


def fit_text(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` if Telegram accepts its length, else cut to fit with a trailing ellipsis."""
    if not text.strip():
        return EMPTY_TEXT
    if _units(text) <= limit:
        return text
    budget = limit - _units(ELLIPSIS)
    cut, used = 0, 0
    for index, char in enumerate(text):
        size = _units(char)
        if used + size > budget:
            break
        used += size
        cut = index + 1
    head = text[:cut]
    space = head.rfind(" ", max(0, cut - 200))  # end on a word when one ends near the limit
    if space > 0:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def _units(text: str) -> int:
    """Length in UTF-16 code units: characters outside the BMP (most emoji) count twice."""
    return len(text.encode("utf-16-le")) // 2
