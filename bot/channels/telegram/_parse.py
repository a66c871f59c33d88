"""A Telegram ``Update`` (the JSON body of a webhook call, or one item of getUpdates) -> ``Delivery``.

The update is read as plain JSON rather than through ``telegram.Update.de_json``: de_json accepts
junk silently (an ``update_id`` given as a string, a message without a chat) and fails on shapes
newer than the installed library, while this adapter needs only a handful of fields and must
check each of them. Nothing here logs, and no error message quotes the payload.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.channels.base import BadPayload, Delivery
from bot.domain.messages import Channel, Inbound, InboundKind

from ._constants import CHOICE_PREFIX, PROVIDER

MEDIA_FIELDS = (
    "photo", "sticker", "voice", "video", "video_note", "audio", "document", "animation",
    "location", "venue", "contact", "poll", "dice",
    # Also things a person sends that carry no text we read: answered the same way, and deletable.
    "story", "live_photo", "paid_media", "checklist", "game",
)
"""Message fields that make it ``InboundKind.MEDIA``: never fetched, never kept, only answered."""

_START = re.compile(r"/start(?:@[A-Za-z0-9_]+)?(?:\s+(?P<payload>.*))?", re.DOTALL)
_LANGUAGE = re.compile(
    r"(?P<language>[A-Za-z]{2,3})(?:[-_](?P<script>[A-Za-z]{4}))?(?:[-_](?P<region>[A-Za-z]{2}|[0-9]{3}))?"
)
_CHOICE = re.compile(re.escape(CHOICE_PREFIX) + r"(?P<number>[0-9]{1,4})(?::(?P<offer>[A-Za-z0-9_]{1,32}))?")


def parse_update(data: object) -> Delivery:
    """Translate one Telegram Update into a ``Delivery``; raise ``BadPayload`` when it is unusable.

    Called by the web app after ``is_authentic`` (and by a polling worker for each item of
    getUpdates). ``delivery_id`` is ``str(update_id)``. Only private chats are answered: a
    group, supergroup or channel gives ``inbound=None``. What arrives, and what comes back:

    - ``message`` with ``text``: ``InboundKind.TEXT``, ``address=str(chat.id)``,
      ``message_ref=message_id``, ``language_hint=from.language_code``;
    - ``/start``, ``/start <payload>``, ``/start@Bot``: ``InboundKind.RESTART`` with text ``""``;
      the payload of a deep link ``t.me/<bot>?start=es`` is the language hint when it looks like a
      language code (``es``, ``pt-BR``), else ``from.language_code``;
    - a message with media (photo, sticker, voice, location, ... see ``MEDIA_FIELDS``):
      ``InboundKind.MEDIA``, text ``""``, ``message_ref`` set so a quick exit can delete it;
    - ``callback_query`` (a pressed button) with data ``choice:N``: ``TEXT`` ``"N"``, addressed to
      the chat of the button's message, ``callback_id`` = the query id, ``message_ref=None``;
      other data: ``TEXT ""`` (still carrying ``callback_id``, so the press is answered);
    - ``edited_message``: ``EDIT`` with the new text (read for the quick exit and emergency words);
    - anything else (``channel_post``, ``my_chat_member``, service messages
      such as a pinned message): ``inbound=None``.

    Example (a deep link opened by a Spanish speaker, then a button press)::

        {"update_id": 100000001,
         "message": {"message_id": 17, "date": 1764158400,
                     "from": {"id": 5550001, "is_bot": false, "first_name": "A", "language_code": "en"},
                     "chat": {"id": 5550001, "type": "private", "first_name": "A"},
                     "text": "/start es",
                     "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
        -> Delivery("telegram", "100000001", Inbound(TELEGRAM, "5550001", "", "es", RESTART, 17))

        {"update_id": 100000002,
         "callback_query": {"id": "4382bfdwdsb323b2d9", "chat_instance": "-8801",
                            "from": {"id": 5550001, "is_bot": false, "first_name": "A"},
                            "message": {"message_id": 18, "date": 1764158401, "chat": {...}, ...},
                            "data": "choice:2"}}
        -> Delivery("telegram", "100000002", Inbound(TELEGRAM, "5550001", "2"), callback_id="4382bfdwdsb323b2d9")
    """
    if not isinstance(data, Mapping):
        raise BadPayload("update is not a JSON object")
    update_id = data.get("update_id")
    if not _is_int(update_id):
        raise BadPayload("update_id is missing or not an integer")
    delivery_id = str(update_id)

    if "message" in data:
        return Delivery(PROVIDER, delivery_id, _from_message(data["message"]))
    if "edited_message" in data:
        return Delivery(PROVIDER, delivery_id, _from_edit(data["edited_message"]))
    if "callback_query" in data:
        inbound, callback_id = _from_callback(data["callback_query"])
        return Delivery(PROVIDER, delivery_id, inbound, callback_id=callback_id)
    return Delivery(PROVIDER, delivery_id, None)


def _private_message(message: object, where: str) -> tuple[Mapping[str, Any], int, str] | None:
    """``(message, message_id, chat_id)`` of a message in a private chat; None for other chats."""
    message = _object(message, where)
    message_id = message.get("message_id")
    if not _is_int(message_id):
        raise BadPayload(f"{where}.message_id is missing or not an integer")
    chat_id = _private_chat_id(message, where)
    return None if chat_id is None else (message, message_id, chat_id)


def _from_message(message: object) -> Inbound | None:
    found = _private_message(message, "message")
    if found is None:
        return None
    message, message_id, chat_id = found
    language = _language_code(message.get("from"))

    text = message.get("text")
    if isinstance(text, str):
        start = _START.fullmatch(text)
        if start:
            payload = (start.group("payload") or "").strip()
            return Inbound(
                Channel.TELEGRAM, chat_id, "",
                language_hint=_language_from_payload(payload) or language,
                kind=InboundKind.RESTART, message_ref=message_id,
            )
        return Inbound(Channel.TELEGRAM, chat_id, text, language_hint=language, kind=InboundKind.TEXT, message_ref=message_id)

    if any(message.get(name) is not None for name in MEDIA_FIELDS):
        # The caption travels along: the quick exit and emergency words must work in it too.
        caption = message.get("caption") if isinstance(message.get("caption"), str) else ""
        return Inbound(Channel.TELEGRAM, chat_id, caption, language_hint=language, kind=InboundKind.MEDIA, message_ref=message_id)
    return None  # a service message: member joined, pinned message, payment...


def _from_edit(message: object) -> Inbound | None:
    """An edited message: a short answer (``EDIT``); its new text is read for the quick exit and
    emergency words only, never as a reply to the current step."""
    found = _private_message(message, "edited_message")
    if found is None:
        return None
    message, message_id, chat_id = found
    text = message.get("text") if isinstance(message.get("text"), str) else message.get("caption")
    return Inbound(
        Channel.TELEGRAM, chat_id, text if isinstance(text, str) else "",
        language_hint=_language_code(message.get("from")), kind=InboundKind.EDIT, message_ref=message_id,
    )


def _from_callback(query: object) -> tuple[Inbound | None, str]:
    query = _object(query, "callback_query")
    callback_id = query.get("id")
    if not isinstance(callback_id, str) or not callback_id:
        raise BadPayload("callback_query.id is missing or not a string")
    message = query.get("message")
    if message is None:  # a button under an inline-mode message: no chat to answer in
        return None, callback_id
    chat_id = _private_chat_id(_object(message, "callback_query.message"), "callback_query.message")
    if chat_id is None:
        return None, callback_id
    data = query.get("data")
    choice = _CHOICE.fullmatch(data) if isinstance(data, str) else None
    text = str(int(choice.group("number"))) if choice else ""
    offer = choice.group("offer") if choice else None
    inbound = Inbound(Channel.TELEGRAM, chat_id, text, language_hint=_language_code(query.get("from")), kind=InboundKind.TEXT, offer=offer)
    return inbound, callback_id


def _private_chat_id(message: Mapping[str, Any], where: str) -> str | None:
    """``str(chat.id)`` of a private chat, None for groups and channels."""
    chat = message.get("chat")
    if not isinstance(chat, Mapping):
        raise BadPayload(f"{where}.chat is missing or not an object")
    chat_id = chat.get("id")
    if not _is_int(chat_id):
        raise BadPayload(f"{where}.chat.id is missing or not an integer")
    chat_type = chat.get("type")
    if not isinstance(chat_type, str):
        raise BadPayload(f"{where}.chat.type is missing or not a string")
    return str(chat_id) if chat_type == "private" else None


def _language_code(user: object) -> str | None:
    if isinstance(user, Mapping):
        code = user.get("language_code")
        if isinstance(code, str) and code:
            return code
    return None


def _language_from_payload(payload: str) -> str | None:
    """``"es"`` -> ``"es"``, ``"pt_br"`` -> ``"pt-BR"``, ``"campaign42"`` -> None."""
    match = _LANGUAGE.fullmatch(payload)
    if not match:
        return None
    parts = [match.group("language").lower()]
    if match.group("script"):
        parts.append(match.group("script").title())
    if match.group("region"):
        parts.append(match.group("region").upper())
    return "-".join(parts)


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadPayload(f"{where} is not an object")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
