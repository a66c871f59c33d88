"""``bot.channels.telegram``: webhook authenticity, Update -> Delivery, Outbound -> sendMessage params.

Every Update here is shaped like the ones Telegram sends (checked against api.json's Update type).
"""

from __future__ import annotations

import copy

import pytest

from bot.channels.base import BadPayload, Delivery
from bot.channels.telegram import (
    MEDIA_FIELDS,
    PROVIDER,
    SECRET_HEADER,
    SECRETS,
    TEXT_LIMIT,
    is_authentic,
    parse_update,
    render,
)
from bot.domain.messages import Channel, ChoiceView, Inbound, InboundKind, Outbound
from testkit.fake_bot_api import call_problems, type_problems


CHAT_ID = 5550001
SECRET = "s3cret-Token_1"
DATE = 1795694400  # 2026-11-26 12:00 UTC


def test_module_constants():
    assert PROVIDER == "telegram"
    assert SECRETS == ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")


# -- authenticity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "secret", "expected"),
    [
        pytest.param({SECRET_HEADER: SECRET}, SECRET, True, id="valid"),
        pytest.param({SECRET_HEADER.lower(): SECRET}, SECRET, True, id="header-lower-case"),
        pytest.param({SECRET_HEADER.upper(): SECRET}, SECRET, True, id="header-upper-case"),
        pytest.param({SECRET_HEADER: SECRET + "x"}, SECRET, False, id="wrong-longer"),
        pytest.param({SECRET_HEADER: SECRET[:-1] + "2"}, SECRET, False, id="wrong-same-length"),
        pytest.param({SECRET_HEADER: SECRET.upper()}, SECRET, False, id="wrong-case-of-value"),
        pytest.param({SECRET_HEADER: ""}, SECRET, False, id="empty-header"),
        pytest.param({}, SECRET, False, id="missing"),
        pytest.param({"X-Other": SECRET}, SECRET, False, id="other-header"),
        pytest.param({SECRET_HEADER: "señal"}, SECRET, False, id="non-ascii-value"),
        pytest.param({SECRET_HEADER: SECRET}, None, False, id="no-secret-configured"),
        pytest.param({SECRET_HEADER: ""}, "", False, id="empty-secret-configured"),
        pytest.param({}, "", False, id="empty-secret-and-no-header"),
    ],
)
def test_is_authentic(headers, secret, expected):
    assert is_authentic(headers, secret) is expected


def test_is_authentic_with_starlette_headers():
    from starlette.datastructures import Headers

    raw = [(b"x-telegram-bot-api-secret-token", SECRET.encode()), (b"content-type", b"application/json")]
    assert is_authentic(Headers(raw=raw), SECRET) is True
    assert is_authentic(Headers(raw=raw[1:]), SECRET) is False


# -- realistic updates ----------------------------------------------------------------------------


def user(language_code: str | None = "es") -> dict:
    person = {"id": CHAT_ID, "is_bot": False, "first_name": "Ana"}
    if language_code:
        person["language_code"] = language_code
    return person


def private_chat() -> dict:
    return {"id": CHAT_ID, "first_name": "Ana", "type": "private"}


GROUP = {"id": -1001234567890, "title": "Neighbours", "type": "supergroup"}
BASIC_GROUP = {"id": -4012345678, "title": "Family", "type": "group"}
CHANNEL = {"id": -1009876543210, "title": "News", "username": "news", "type": "channel"}


def message(*, message_id: int = 17, chat: dict | None = None, language_code: str | None = "es", **content) -> dict:
    return {
        "message_id": message_id,
        "from": user(language_code),
        "chat": chat or private_chat(),
        "date": DATE,
        **content,
    }


def text_message(text: str, **kwargs) -> dict:
    entities = {}
    if text.startswith("/"):
        command = text.split()[0]
        entities = {"entities": [{"offset": 0, "length": len(command), "type": "bot_command"}]}
    return message(text=text, **entities, **kwargs)


def update(update_id: int = 100000001, **kinds) -> dict:
    return {"update_id": update_id, **kinds}


BOT_MESSAGE = {
    "message_id": 16,
    "from": {"id": 123456789, "is_bot": True, "first_name": "Safeharbor", "username": "safeharbor_bot"},
    "chat": private_chat(),
    "date": DATE - 60,
    "text": "Hello. What language?",
    "has_protected_content": True,
    "reply_markup": {"inline_keyboard": [[{"text": "1 English", "callback_data": "choice:1"}],
                                         [{"text": "2 Español", "callback_data": "choice:2"}]]},
}


def callback(data: str | None, *, message: dict | None = BOT_MESSAGE, query_id: str = "4382bfdwdsb323b2d9",
             language_code: str | None = "es") -> dict:
    query = {"id": query_id, "from": user(language_code), "chat_instance": "-8801236565417362842"}
    if message is not None:
        query["message"] = message
    else:
        query["inline_message_id"] = "AAAAAKp9-wAAAAA"
    if data is not None:
        query["data"] = data
    return update(callback_query=query)


FILE = {"file_id": "AgACAgQAAxkBAAIBZ2Zx", "file_unique_id": "AQADq7oxG1"}
MEDIA = {
    "photo": [{**FILE, "width": 90, "height": 67, "file_size": 1288}, {**FILE, "width": 1280, "height": 960, "file_size": 90211}],
    "sticker": {**FILE, "type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "\U0001F44D"},
    "voice": {**FILE, "duration": 4, "mime_type": "audio/ogg", "file_size": 11520},
    "video": {**FILE, "width": 720, "height": 1280, "duration": 9, "mime_type": "video/mp4"},
    "video_note": {**FILE, "length": 240, "duration": 6},
    "audio": {**FILE, "duration": 180, "mime_type": "audio/mpeg", "title": "Song"},
    "document": {**FILE, "file_name": "scan.pdf", "mime_type": "application/pdf"},
    "animation": {**FILE, "width": 320, "height": 240, "duration": 3},
    "location": {"latitude": 40.7128, "longitude": -74.006},
    "venue": {"location": {"latitude": 40.7128, "longitude": -74.006}, "title": "Cafe", "address": "1 Main St"},
    "contact": {"phone_number": "+15555550123", "first_name": "Bo"},
    "poll": {"id": "5370", "question": "?", "options": [{"persistent_id": "a", "text": "yes", "voter_count": 0}],
             "total_voter_count": 0, "is_closed": False, "is_anonymous": True, "type": "regular",
             "allows_multiple_answers": False, "allows_revoting": False, "members_only": False},
    "dice": {"emoji": "\U0001F3B2", "value": 4},
}
assert set(MEDIA) <= set(MEDIA_FIELDS)


def inbound(text: str, kind: InboundKind = InboundKind.TEXT, *, lang: str | None = "es", ref: int | None = 17) -> Inbound:
    return Inbound(Channel.TELEGRAM, str(CHAT_ID), text, language_hint=lang, kind=kind, message_ref=ref)


RESTART = InboundKind.RESTART
PARSED = [
    # (id, update, inbound, callback_id)
    ("text", update(message=text_message("hola")), inbound("hola"), None),
    ("text-keeps-spacing", update(message=text_message("  SALIR \n")), inbound("  SALIR \n"), None),
    ("text-without-language", update(message=text_message("hi", language_code=None)), inbound("hi", lang=None), None),
    ("text-other-message-id", update(message=text_message("hi", message_id=99)), inbound("hi", ref=99), None),
    ("text-looks-like-command", update(message=text_message("/startle")), inbound("/startle"), None),
    ("text-help-command", update(message=text_message("/help")), inbound("/help"), None),
    ("start", update(message=text_message("/start", language_code="en")), inbound("", RESTART, lang="en"), None),
    ("start-no-language", update(message=text_message("/start", language_code=None)), inbound("", RESTART, lang=None), None),
    ("start-deep-link-es", update(message=text_message("/start es", language_code="en")), inbound("", RESTART, lang="es"), None),
    ("start-deep-link-pt-BR", update(message=text_message("/start pt-BR", language_code="en")), inbound("", RESTART, lang="pt-BR"), None),
    ("start-deep-link-pt_br", update(message=text_message("/start pt_br", language_code="en")), inbound("", RESTART, lang="pt-BR"), None),
    ("start-deep-link-not-language", update(message=text_message("/start campaign42", language_code="en")), inbound("", RESTART, lang="en"), None),
    ("start-deep-link-too-long", update(message=text_message("/start english", language_code="fr")), inbound("", RESTART, lang="fr"), None),
    ("start-at-bot", update(message=text_message("/start@SafeharborBot", language_code="en")), inbound("", RESTART, lang="en"), None),
    ("start-at-bot-payload", update(message=text_message("/start@SafeharborBot es", language_code="en")), inbound("", RESTART, lang="es"), None),
    ("choice", callback("choice:2"), inbound("2", ref=None), "4382bfdwdsb323b2d9"),
    ("choice-leading-zero", callback("choice:07"), inbound("7", ref=None), "4382bfdwdsb323b2d9"),
    ("choice-language-from-presser", callback("choice:1", language_code="pt-br"), inbound("1", lang="pt-br", ref=None), "4382bfdwdsb323b2d9"),
    ("choice-on-inaccessible-message", callback("choice:3", message={"chat": private_chat(), "message_id": 16, "date": 0}),
     inbound("3", ref=None), "4382bfdwdsb323b2d9"),
    ("callback-other-data", callback("menu:open"), inbound("", ref=None), "4382bfdwdsb323b2d9"),
    ("callback-choice-not-number", callback("choice:two"), inbound("", ref=None), "4382bfdwdsb323b2d9"),
    ("callback-choice-with-suffix", callback("choice:2;rm -rf"), inbound("", ref=None), "4382bfdwdsb323b2d9"),
    ("callback-without-data", callback(None, query_id="77"), inbound("", ref=None), "77"),
    *[
        (f"media-{kind}", update(message=message(message_id=40 + i, **{kind: content})), inbound("", InboundKind.MEDIA, ref=40 + i), None)
        for i, (kind, content) in enumerate(MEDIA.items())
    ],
    # an edit gets a short answer; its text is read for the quick exit and emergency words only
    ("edited-message", update(edited_message={**text_message("SALIR"), "edit_date": DATE + 5}), inbound("SALIR", InboundKind.EDIT), None),
    ("edited-group-message", update(edited_message={**text_message("hola", chat=GROUP), "edit_date": DATE + 5}), None, None),
    # the caption travels with the media: the engine reads it for the quick exit and emergency words
    ("media-photo-with-caption", update(message=message(photo=MEDIA["photo"], caption="my papers")),
     inbound("my papers", InboundKind.MEDIA), None),
]

IGNORED = [
    # (id, update, callback_id): nothing to answer
    ("channel-post", update(channel_post={"message_id": 3, "sender_chat": CHANNEL, "chat": CHANNEL, "date": DATE, "text": "news"}), None),
    ("group-text", update(message=text_message("hola", chat=GROUP)), None),
    ("basic-group-start", update(message=text_message("/start", chat=BASIC_GROUP)), None),
    ("group-photo", update(message=message(chat=GROUP, photo=MEDIA["photo"])), None),
    ("service-pinned", update(message=message(pinned_message={"chat": private_chat(), "message_id": 16, "date": 0})), None),
    ("service-write-access", update(message=message(write_access_allowed={"from_request": True})), None),
    ("service-new-members", update(message=message(chat=GROUP, new_chat_members=[user()])), None),
    ("my-chat-member-blocked", update(my_chat_member={
        "chat": private_chat(), "from": user(), "date": DATE,
        "old_chat_member": {"status": "member", "user": BOT_MESSAGE["from"]},
        "new_chat_member": {"status": "kicked", "user": BOT_MESSAGE["from"], "until_date": 0},
    }), None),
    ("callback-inline-mode", callback("choice:1", message=None, query_id="55"), "55"),
    ("callback-in-group", callback("choice:1", message={**BOT_MESSAGE, "chat": GROUP}, query_id="56"), "56"),
]


@pytest.mark.parametrize(
    "payload",
    [case[1] for case in PARSED] + [case[1] for case in IGNORED],
    ids=[case[0] for case in PARSED] + [case[0] for case in IGNORED],
)
def test_payloads_here_are_real_telegram_updates(payload):
    assert type_problems("Update", payload) == []


def test_the_realism_check_can_fail():
    broken = update(message=text_message("hola"))
    del broken["message"]["date"]
    broken["message"]["chat"]["kind"] = "private"
    problems = type_problems("Update", broken)
    assert any("'date'" in p for p in problems)
    assert any("'kind'" in p for p in problems)


@pytest.mark.parametrize(
    ("payload", "expected", "callback_id"), [case[1:] for case in PARSED], ids=[case[0] for case in PARSED]
)
def test_parse_update(payload, expected, callback_id):
    original = copy.deepcopy(payload)

    delivery = parse_update(payload)

    assert delivery == Delivery("telegram", str(payload["update_id"]), expected, callback_id)
    assert payload == original  # read only


@pytest.mark.parametrize(("payload", "callback_id"), [case[1:] for case in IGNORED], ids=[case[0] for case in IGNORED])
def test_parse_update_with_nothing_to_answer(payload, callback_id):
    assert parse_update(payload) == Delivery("telegram", str(payload["update_id"]), None, callback_id)


def test_delivery_id_is_the_update_id():
    assert parse_update(update(update_id=987654321, message=text_message("x"))).delivery_id == "987654321"


def test_start_is_a_restart_even_with_surrounding_space_in_payload():
    delivery = parse_update(update(message=text_message("/start   es  ")))
    assert delivery.inbound.kind is InboundKind.RESTART
    assert delivery.inbound.language_hint == "es"


def test_parse_update_accepts_what_python_telegram_bot_round_trips():
    from telegram import Update

    payload = update(message=text_message("hola"))
    again = Update.de_json(copy.deepcopy(payload), None).to_dict()

    assert parse_update(again) == parse_update(payload)


# -- junk -----------------------------------------------------------------------------------------

SECRET_TEXT = "my-address-is-12-Elm-St"


def _without(key: str) -> dict:
    payload = update(message=text_message(SECRET_TEXT))
    del payload["message"][key]
    return payload


JUNK = [
    ("list", [update(message=text_message(SECRET_TEXT))]),
    ("string", SECRET_TEXT),
    ("none", None),
    ("number", 100000001),
    ("empty-object", {}),
    ("update-id-string", {"update_id": "100000001", "message": text_message(SECRET_TEXT)}),
    ("update-id-bool", {"update_id": True, "message": text_message(SECRET_TEXT)}),
    ("update-id-float", {"update_id": 100000001.0, "message": text_message(SECRET_TEXT)}),
    ("message-not-object", update(message=SECRET_TEXT)),
    ("message-without-chat", _without("chat")),
    ("message-without-message-id", _without("message_id")),
    ("chat-not-object", update(message={**text_message(SECRET_TEXT), "chat": SECRET_TEXT})),
    ("chat-id-string", update(message={**text_message(SECRET_TEXT), "chat": {"id": str(CHAT_ID), "type": "private"}})),
    ("chat-without-type", update(message={**text_message(SECRET_TEXT), "chat": {"id": CHAT_ID}})),
    ("callback-not-object", update(callback_query=SECRET_TEXT)),
    ("callback-without-id", update(callback_query={"from": user(), "chat_instance": "1", "data": SECRET_TEXT, "message": BOT_MESSAGE})),
    ("callback-message-without-chat", update(callback_query={"id": "1", "from": user(), "chat_instance": "1",
                                                            "data": "choice:1", "message": {"message_id": 1, "date": 0}})),
]


@pytest.mark.parametrize("payload", [case[1] for case in JUNK], ids=[case[0] for case in JUNK])
def test_junk_is_a_bad_payload_that_quotes_nothing(payload):
    with pytest.raises(BadPayload) as raised:
        parse_update(payload)
    assert str(raised.value)
    assert SECRET_TEXT not in str(raised.value)
    assert str(CHAT_ID) not in str(raised.value)


def test_bad_payload_names_what_is_missing():
    with pytest.raises(BadPayload, match="chat"):
        parse_update(_without("chat"))
    with pytest.raises(BadPayload, match="update_id"):
        parse_update({"message": text_message("x")})


def test_inbound_repr_keeps_chat_and_text_out():
    delivery = parse_update(update(message=text_message(SECRET_TEXT)))
    assert SECRET_TEXT not in repr(delivery)
    assert str(CHAT_ID) not in repr(delivery)


# -- render ---------------------------------------------------------------------------------------


def test_render_plain_message():
    assert render(Outbound("Hello."), str(CHAT_ID)) == {"chat_id": str(CHAT_ID), "text": "Hello.", "protect_content": True}


def test_render_choices_as_one_button_per_row():
    params = render(Outbound("Pick one.", (ChoiceView(1, "English"), ChoiceView(2, "Español"), ChoiceView(10, "Other"))), "42")

    assert params["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "1 English", "callback_data": "choice:1"}],
            [{"text": "2 Español", "callback_data": "choice:2"}],
            [{"text": "10 Other", "callback_data": "choice:10"}],
        ]
    }
    assert params["protect_content"] is True
    assert params["text"] == "Pick one."


def test_rendered_params_are_a_valid_send_message_call():
    params = render(Outbound("Pick one.", (ChoiceView(1, "English"),)), str(CHAT_ID))
    assert call_problems("sendMessage", params) == []


def test_button_press_comes_back_as_the_choice_number():
    params = render(Outbound("Pick.", (ChoiceView(1, "A"), ChoiceView(12, "B"))), str(CHAT_ID))
    sent = {**BOT_MESSAGE, "reply_markup": params["reply_markup"]}
    pressed = params["reply_markup"]["inline_keyboard"][1][0]["callback_data"]

    assert parse_update(callback(pressed, message=sent)).inbound.text == "12"


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a" * TEXT_LIMIT, id="exactly-limit"),
        pytest.param("a" * (TEXT_LIMIT - 1) + "\U0001F600", id="emoji-at-the-edge"),
    ],
)
def test_text_at_the_limit_is_kept_whole_or_cut_to_fit(text):
    sent = render(Outbound(text), "42")["text"]
    assert _utf16(sent) <= TEXT_LIMIT
    if _utf16(text) <= TEXT_LIMIT:
        assert sent == text
    else:
        assert sent.endswith("\u2026") and sent[:-1] == text[: len(sent) - 1]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("word " * 2000, id="words"),
        pytest.param("x" * 10000, id="one-long-word"),
        pytest.param("\U0001F600" * 3000, id="emoji"),
        pytest.param("é" * 4097, id="one-over"),
    ],
)
def test_long_text_is_cut_below_the_limit(text):
    sent = render(Outbound(text), "42")["text"]

    assert _utf16(sent) <= TEXT_LIMIT
    assert len(sent) <= TEXT_LIMIT
    assert sent.endswith("\u2026")
    assert text.startswith(sent[:-1].rstrip())
    assert len(sent) > TEXT_LIMIT // 2 - 100  # not cut needlessly short (emoji count twice)


def test_long_text_is_cut_at_a_word():
    sent = render(Outbound("abcdefghij " * 1000), "42")["text"]  # the limit falls inside a word
    assert sent.endswith(" abcdefghij\u2026")


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_becomes_a_neutral_mark(text):
    sent = render(Outbound(text, (ChoiceView(1, "A"),)), "42")
    assert sent["text"] == "\u2026"
    assert call_problems("sendMessage", sent) == []


def test_buttons_carry_the_offer_they_belong_to_and_it_comes_back():
    from bot.channels.telegram import parse_update, render

    params = render(Outbound("Pick one", (ChoiceView(1, "Yes"), ChoiceView(2, "No")), offer="s12"), "5550001")
    data = [row[0]["callback_data"] for row in params["reply_markup"]["inline_keyboard"]]
    assert data == ["choice:1:s12", "choice:2:s12"]
    delivery = parse_update(callback(data[1]))
    assert delivery.inbound.text == "2" and delivery.inbound.offer == "s12"
    assert parse_update(callback("choice:2")).inbound.offer is None  # buttons sent before
