"""End to end over real HTTP on loopback: uvicorn serving the app with its background worker, a
fake Telegram Bot API that checks every call against the real API description, signed Twilio
webhooks. A whole conversation on each channel, quick exit, redelivery, and what is left after."""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET

import httpx
import pytest
from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)
from twilio.request_validator import RequestValidator

from bot.config import Settings, generate_keys
from bot.service import Service
from bot.web import create_app
from testkit.databases import rows, stored_bytes
from tests.conftest import REPO
from tests.serving import free_port, serving

TWILIO_TOKEN = "fedcba9876543210fedcba9876543210"
SECRET = "e2e-webhook-secret_1"
CHAT_ID = 724310095
PHONE = "+14155550199"
TYPED = ["hola", "necesito un abogado, me llamo Lucía Fernández"]


@pytest.fixture
def served(tmp_path, database_url, fake_bot_api):  # noqa: F811
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, "SAFEHARBOR_PUBLIC_URL": base,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TELEGRAM_BOT_TOKEN": fake_bot_api.token,
        "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_API_BASE_URL": fake_bot_api.url, **generate_keys(),
    })
    app = create_app(Service.from_settings(settings), settings, background=True)
    with serving(app, port), httpx.Client(base_url=base, timeout=10) as client:
        client.db = database_url
        client.base = base
        client.fake = fake_bot_api
        yield client


class Telegram:
    """A person writing to the bot; ``update_id`` and message ids as Telegram would give them."""

    def __init__(self, client):
        self.client, self.update_id, self.message_id = client, 880000000, 10

    def post(self, update: dict) -> httpx.Response:
        self.last = update
        return self.client.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})

    def say(self, text: str) -> httpx.Response:
        self.update_id += 1
        self.message_id += 1
        user = {"id": CHAT_ID, "is_bot": False, "first_name": "M", "language_code": "es"}
        message = {"message_id": self.message_id, "from": user, "chat": {"id": CHAT_ID, "type": "private", "first_name": "M"},
                   "date": int(time.time()), "text": text}
        return self.post({"update_id": self.update_id, "message": message})

    def press(self, button: dict, on_message_id: int) -> httpx.Response:
        """Press ``button`` (one of a sent message's inline keyboard) on that message."""
        self.update_id += 1
        user = {"id": CHAT_ID, "is_bot": False, "first_name": "M", "language_code": "es"}
        bot_message = {"message_id": on_message_id, "from": {"id": 1, "is_bot": True, "first_name": "b"},
                       "chat": {"id": CHAT_ID, "type": "private", "first_name": "M"}, "date": int(time.time()), "text": "…"}
        query = {"id": f"q{self.update_id}", "from": user, "message": bot_message, "chat_instance": "1", "data": button["callback_data"]}
        return self.post({"update_id": self.update_id, "callback_query": query})


def wait_for(fake, method: str, count: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(fake.calls_to(method)) < count:
        assert time.monotonic() < deadline, f"{method}: {len(fake.calls_to(method))} of {count} calls"
        time.sleep(0.02)
    return fake.calls_to(method)


def test_a_telegram_conversation_with_buttons_quick_exit_and_redelivery(served, caplog):
    caplog.set_level(logging.DEBUG)
    fake, person = served.fake, Telegram(served)
    assert person.say(TYPED[0]).status_code == 200
    (greeting,) = wait_for(fake, "sendMessage", 1)
    assert greeting["chat_id"] == CHAT_ID and greeting["protect_content"] is True
    assert greeting["text"].startswith("Hi, thanks for writing.")
    buttons = greeting["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in buttons] == ["1 English", "2 Español"]
    bot_ids = [1001]  # the fake numbers the bot's messages from 1001

    assert person.press(buttons[1][0], on_message_id=1001).status_code == 200  # Español, by button
    safe_check = wait_for(fake, "sendMessage", 2)[1]
    assert safe_check["text"].startswith("Una pregunta primero.")
    assert wait_for(fake, "answerCallbackQuery", 1)[0]["callback_query_id"] == f"q{person.update_id}"
    bot_ids.append(1002)

    assert person.post(person.last).status_code == 200  # Telegram delivers the same update again
    time.sleep(0.3)
    assert len(fake.calls_to("sendMessage")) == 2  # applied once: no second reply

    person.press(safe_check["reply_markup"]["inline_keyboard"][0][0], on_message_id=1002)  # yes, I can talk
    menu = wait_for(fake, "sendMessage", 3)[2]
    assert menu["text"].startswith("Aquí tienes algunas opciones.")
    bot_ids.append(1003)
    person.press(buttons[0][0], on_message_id=1001)  # "1 English" on the old greeting: not "1 in danger"
    stale = wait_for(fake, "sendMessage", 4)[3]
    assert stale["text"].startswith("Probemos otra vez.")
    bot_ids.append(1004)
    person.say(TYPED[1])  # free text, routed to legal help
    legal = wait_for(fake, "sendMessage", 5)[4]
    assert "- Ayuda legal gratis, corte de inmigración (DOJ): www.justice.gov/eoir/" in legal["text"]  # the name in Spanish
    bot_ids.append(1005)
    time.sleep(0.2)  # let the worker record the last message id
    # Mid-conversation, before any erasure could hide it: nothing readable in the files or logs.
    live = database_bytes(served.db) + caplog.text.encode()
    for secret in (str(CHAT_ID), "Lucía", "Fernández", "abogado", "724310095"):
        assert secret.encode() not in live, secret

    person.say("SALIR")
    (deleted,) = wait_for(fake, "deleteMessages", 1)
    assert deleted["chat_id"] == CHAT_ID
    # both sides: the person's two messages and the one with SALIR, and every bot message
    assert sorted(deleted["message_ids"]) == sorted([11, 12, 13] + bot_ids)
    final = wait_for(fake, "sendMessage", 6)[5]
    assert final["text"].startswith("Listo.")
    assert fake.calls.index(("deleteMessages", deleted)) < fake.calls.index(("sendMessage", final))  # delete, then one line
    assert fake.violations == []

    assert count(served.db, "conversations") == 0
    leftovers = database_bytes(served.db) + caplog.text.encode()
    for secret in (str(CHAT_ID), "Lucía", "Fernández", "abogado"):
        assert secret.encode() not in leftovers, secret


def test_telegram_webhooks_without_the_secret_get_403_and_junk_gets_400(served):
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": CHAT_ID, "type": "private"}, "text": "hi"}}
    assert served.post("/webhooks/telegram", json=update).status_code == 403
    assert served.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}).status_code == 403
    junk = served.post("/webhooks/telegram", content=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert junk.status_code == 400 and "Traceback" not in junk.text
    assert count(served.db, "conversations") == 0 and served.fake.calls_to("sendMessage") == []


def test_an_sms_conversation_over_http_with_quick_exit_and_replay(served, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"{served.base}/webhooks/twilio/sms"

    def sms(body: str, sid: str) -> list[str]:
        fields = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": "AC" + "2" * 32, "From": PHONE,
                  "To": "+14155550100", "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, fields)
        response = served.post("/webhooks/twilio/sms", data=fields, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200
        return [m.text or "" for m in ET.fromstring(response.text).iter("Message")]

    assert sms("hola", "SM" + "a" * 32)[0].startswith("Hi, thanks for writing.")
    first = sms("2", "SM" + "b" * 32)
    assert sms("2", "SM" + "b" * 32) == first  # a replay gets the same reply, applied once
    assert sms("1", "SM" + "c" * 32)[0].startswith("Aqui tienes algunas opciones.")  # í folded for SMS
    assert count(served.db, "conversations") == 1
    live = database_bytes(served.db) + caplog.text.encode()
    for secret in (PHONE, PHONE[1:], "hola"):
        assert secret.encode() not in live, secret
    erased = sms("salir", "SM" + "d" * 32)
    assert erased[0].startswith("Listo.")
    assert count(served.db, "conversations") == 0
    leftovers = database_bytes(served.db) + caplog.text.encode()
    for secret in (PHONE, PHONE[1:], "hola"):
        assert secret.encode() not in leftovers, secret


def count(db, table: str) -> int:
    return rows(db, f"SELECT count(*) FROM {table}")[0][0]


database_bytes = stored_bytes
