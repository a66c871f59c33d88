"""Abuse and cost limits over the real webhooks (uvicorn on loopback, signed Twilio posts and
Telegram updates), on a SQLite file and on PostgreSQL: a flood of new numbers, one number
writing fast (alone and inside a handoff), emergency words and the quick exit while limited,
the limit resetting with the next minute, the queue of waiting chats and the transcript at
their caps, grouped notices to the advocates, and two processes sharing one limit."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)
from twilio.request_validator import RequestValidator

from bot.channels.telegram import TelegramAdapter, TelegramSender
from bot.config import ConfigError, LimitSettings, Settings, generate_keys
from bot.service.limits import NOTICES
from bot.service import Service
from bot.store import open_database
from bot.web import create_app
from bot.worker import Worker
from testkit.databases import rows, stored_bytes
from tests.conftest import REPO
from tests.serving import free_port, serving
from tests.waiting import eventually

TOKEN = "0123456789abcdef0123456789abcdef"
SECRET = "limits-webhook-secret_1"
GROUP = "-1009876543210"
LIMITS = {
    "SAFEHARBOR_LIMIT_NEW_CONVERSATIONS_PER_MINUTE": "5",
    "SAFEHARBOR_LIMIT_MESSAGES_PER_PERSON_PER_MINUTE": "6",
}
BUSY = "Many people are writing right now. Please write again in a few minutes."
WELCOME = "Hi, thanks for writing. / Hola, gracias por escribir.\nWe don't charge."
SLOW_DOWN = "Thanks. Messages are coming in fast, so this chat will pause for a minute."
SLOW_DOWN_KEPT = "Thanks. Messages are coming in fast, so the automatic answers will pause for a minute."
EMERGENCY = "Here is what you can do now."
ERASED = "Done.\nWhat this service kept about you is erased"
NOT_KEPT = "This chat is long now, so your new messages can't be kept for the person who answers."


def environment(tmp_path, database_url, base: str, fake=None, **limits: str) -> dict[str, str]:
    env = {
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path / "home"), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, "SAFEHARBOR_PUBLIC_URL": base, "TWILIO_AUTH_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET, **LIMITS, **limits, **generate_keys(),
    }
    if fake is not None:
        env.update({"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.url, "SAFEHARBOR_ADVOCATE_TELEGRAM_CHAT": GROUP})
    return env


class Web:
    """The app served on loopback, a client, and ways to write to it as people would."""

    def __init__(self, client: httpx.Client, service: Service, database_url: str, base: str):
        self.client, self.service, self.db, self.base = client, service, database_url, base
        self.serial = 0

    def sms(self, number: str, body: str) -> list[str]:
        """Post ``body`` from ``number`` as Twilio does; the replies in the TwiML answer."""
        self.serial += 1
        sid = f"SM{self.serial:032x}"
        fields = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": "AC" + "1" * 32, "From": number,
                  "To": "+14155550100", "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}
        signature = RequestValidator(TOKEN).compute_signature(f"{self.base}/webhooks/twilio/sms", fields)
        response = self.client.post("/webhooks/twilio/sms", data=fields, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200, response.text
        return [m.text or "" for m in ET.fromstring(response.text).iter("Message")]

    def telegram(self, chat: int, text: str) -> dict:
        """Post ``text`` from the private chat ``chat``; the webhook's JSON answer."""
        self.serial += 1
        user = {"id": chat, "is_bot": False, "first_name": "P"}
        update = {"update_id": 700000000 + self.serial, "message": {
            "message_id": self.serial, "from": user, "chat": {"id": chat, "type": "private", "first_name": "P"},
            "date": int(time.time()), "text": text}}
        response = self.client.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert response.status_code == 200, response.text
        return response.json()

    def count(self, table: str, where: str = "") -> int:
        return rows(self.db, f"SELECT count(*) FROM {table} {where}")[0][0]

    def escalate(self, number: str, first: str = "hi") -> list[str]:
        """Ask for a person who will check back (nothing is ever sent on its own)."""
        self.sms(number, first)
        self.sms(number, "advocate")
        return self.sms(number, "1")


@pytest.fixture
def web_factory(tmp_path, database_url, clock):
    opened = []

    def make(fake=None, **limits: str) -> Web:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        settings = Settings.from_env(environment(tmp_path, database_url, base, fake, **limits))
        service = Service.from_settings(settings, clock=clock)
        app = create_app(service, settings, background=False)
        context = serving(app, port)
        context.__enter__()
        client = httpx.Client(base_url=base, timeout=30)
        opened.append((context, client))
        return Web(client, service, database_url, base)

    yield make
    for context, client in opened:
        client.close()
        context.__exit__(None, None, None)


@pytest.fixture
def web(web_factory) -> Web:
    return web_factory()


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+1415555{n:04d}" for n in range(start, start + count)]


# -- new conversations per minute ------------------------------------------------------------------


def test_a_flood_of_new_numbers_gets_the_limit_in_full_turns_and_the_rest_one_short_answer(web, captured_logs):
    answers = [web.sms(number, "hi") for number in numbers(20)]
    full = [a for a in answers if a[0].startswith(WELCOME)]
    busy = [a for a in answers if BUSY in a[0]]
    assert len(full) == 5 and len(busy) == 15 and len(full) + len(busy) == 20
    assert answers[:5] == full  # the first five of the minute, in order
    (text,) = busy[0]
    # never a bare refusal: the 24/7 line and 911, past what a lock screen shows
    assert "call 1-888-373-7888 or text 233733, 24/7" in text and text.endswith("Call 911.") and text.index("1-888") > 178
    # nothing kept of the fifteen: no conversation, no receipt, no key
    assert web.count("conversations") == 5 and web.count("data_keys") == 5 and web.count("deliveries") == 5
    assert rows(web.db, "SELECT name, count FROM limit_windows") == [("new_conversations", 5)]
    stored = stored_bytes(web.db)
    assert not any(number.encode() in stored or number[1:].encode() in stored for number in numbers(20))
    assert not any(number[2:] in captured_logs.text for number in numbers(20))


def test_the_limit_resets_with_the_next_minute(web, clock):
    for number in numbers(5):
        web.sms(number, "hola")
    assert BUSY in web.sms("+14155559001", "hola")[0]
    clock.advance(seconds=60)
    assert web.sms("+14155559001", "hola")[0].startswith(WELCOME)  # the same person, a minute later
    assert BUSY not in web.sms("+14155559002", "hola")[0]


def test_a_person_already_talking_is_not_held_back_by_a_flood_of_new_numbers(web):
    person = "+14155558888"
    web.sms(person, "hi")
    for number in numbers(30):
        web.sms(number, "hi")
    (reply,) = web.sms(person, "1")  # English
    assert reply.startswith("One question first.")


@pytest.mark.parametrize("text, expected", [
    ("help me, he has a gun", EMERGENCY),
    ("911", EMERGENCY),
    ("me quiere matar, auxilio", "Esto es lo que puedes hacer ahora."),
    ("I want to kill myself", "I'm really glad you wrote."),
    ("EXIT", ERASED),
    ("salir", "Listo.\nLo que este servicio guardaba sobre ti"),
])
def test_emergency_words_and_the_quick_exit_are_answered_past_the_limit(web, text, expected):
    for number in numbers(5):
        web.sms(number, "hi")
    assert BUSY in web.sms("+14155557000", "hi")[0]
    (reply,) = web.sms("+14155557001", text)
    assert reply.startswith(expected)


def test_a_carrier_opt_out_word_past_the_limit_gets_no_reply_and_keeps_nothing(web):
    for number in numbers(5):
        web.sms(number, "hi")
    assert web.sms("+14155557002", "STOP") == []
    assert web.count("conversations") == 5


def test_a_telegram_flood_past_the_limit_is_answered_in_the_webhook_response_and_queues_nothing(web):
    for chat in range(5):
        assert web.telegram(800000000 + chat, "hi") == {}  # a full turn: the reply is queued
    answer = web.telegram(800000099, "hi")
    assert answer["method"] == "sendMessage" and answer["chat_id"] == "800000099" and answer["protect_content"] is True
    assert BUSY in answer["text"]
    assert web.count("outbox") == 5 and web.count("conversations") == 5


# -- messages per person per minute ---------------------------------------------------------------


def test_one_number_writing_fast_is_told_once_to_wait_and_answered_again_next_minute(web, clock):
    person = "+14155556666"
    answered = [web.sms(person, text) for text in ["hi", "1", "1", "menu", "menu", "menu"]]
    assert all(answered) and answered[-1][0].startswith("Here are some options.")
    (told,) = web.sms(person, "menu")
    assert told.startswith(SLOW_DOWN) and told.endswith("If you are in danger, call 911.")
    assert [web.sms(person, "menu") for _ in range(20)] == [[]] * 20  # told once; nothing more costs a reply
    clock.advance(seconds=60)
    assert web.sms(person, "menu")[0].startswith("Here are some options.")


def test_emergency_words_and_the_quick_exit_still_work_for_someone_over_their_limit(web):
    person = "+14155556667"
    for text in ["hi", "1", "1", "menu", "menu", "menu", "menu", "menu"]:
        web.sms(person, text)
    assert web.sms(person, "menu") == []  # over the limit, and told
    assert web.sms(person, "help me")[0].startswith(EMERGENCY)
    assert web.sms(person, "EXIT")[0].startswith(ERASED)
    assert web.count("conversations") == 0


def test_writing_fast_inside_a_handoff_keeps_every_line_for_the_advocate(web, captured_logs):
    person = "+14155556668"
    web.escalate(person)  # three messages
    lines = [f"line {n} of what happened" for n in range(12)]
    replies = [web.sms(person, line) for line in lines]
    # three more within the minute's six get their answer; of the nine past it, one is told
    assert all(reply and not reply[0].startswith(SLOW_DOWN_KEPT) for reply in replies[:3])
    told = [reply for reply in replies[3:] if reply]
    assert len(told) == 1 and told[0][0].startswith(SLOW_DOWN_KEPT)  # once, and what they write is kept
    (waiting,) = web.service.handoffs.listing("waiting")
    transcript = web.service.handoffs.transcript(waiting, "ana@example.org", web.service.clock())
    assert [line["text"] for line in transcript if line["sender"] == "person"][-12:] == lines
    stored = stored_bytes(web.db)  # the lines are sealed; the person's count is in their sealed state
    assert b"of what happened" not in stored and person[2:].encode() not in stored
    assert "of what happened" not in captured_logs.text and person[2:] not in captured_logs.text


# -- the queue of waiting chats, and the transcript ------------------------------------------------


def test_a_full_queue_gives_the_24_7_line_and_urgent_requests_have_room_of_their_own(web_factory, clock):
    web = web_factory(SAFEHARBOR_LIMIT_WAITING_HANDOFFS="2")
    for number in numbers(2):
        assert "You asked to talk with a person." in web.escalate(number)[0]
    (full,) = web.escalate("+14155550003")
    assert full.startswith("Thank you for asking. Everyone on our team is busy right now")
    assert "You asked to talk with a person" not in full and "call 1-888-373-7888 or text 233733" in full
    assert full.endswith("\n1 Main menu")  # the menu still works
    assert len(web.service.handoffs.listing("waiting")) == 2
    clock.advance(seconds=60)
    urgent = "+14155550004"
    web.sms(urgent, "help me")  # emergency guidance, marked urgent
    web.sms(urgent, "1")  # talk to a person
    assert "You asked to talk with a person." in web.sms(urgent, "1")[0]
    assert [h.urgent for h in web.service.handoffs.listing("waiting")] == [True, False, False]


def test_a_transcript_past_its_cap_tells_the_person_each_time_and_the_advocate_once(web_factory):
    web = web_factory(SAFEHARBOR_LIMIT_TRANSCRIPT_LINES="3", SAFEHARBOR_LIMIT_MESSAGES_PER_PERSON_PER_MINUTE="50")
    person = "+14155550005"
    web.escalate(person)  # the "1" that asked is the first line of the transcript
    kept = [web.sms(person, f"kept {n}") for n in range(2)]
    assert all(reply and NOT_KEPT not in reply[0] for reply in kept)
    for n in range(3):
        (reply,) = web.sms(person, f"lost {n}")
        # whatever the bot answers, the person learns it was not kept ("will read this" would be untrue)
        assert NOT_KEPT in reply and "will read this" not in reply
    (reply,) = web.sms(person, "menu")  # the menu still works, with the note
    assert reply.startswith("Here are some options.") and NOT_KEPT in reply
    (waiting,) = web.service.handoffs.listing("waiting")
    transcript = web.service.handoffs.transcript(waiting, "ana@example.org", web.service.clock())
    texts = [line["text"] for line in transcript]
    assert [t for t in texts if t.startswith(("kept", "lost"))] == ["kept 0", "kept 1"]
    assert texts.count("The person wrote more, but this chat is full: their later messages are not kept.") == 1


def test_writing_fast_into_a_full_transcript_is_answered_once_a_minute_not_each_time(web_factory):
    web = web_factory(SAFEHARBOR_LIMIT_TRANSCRIPT_LINES="3")  # and six messages a minute
    person = "+14155550007"
    web.escalate(person)  # three messages; the transcript holds the "1" that asked
    assert all(NOT_KEPT not in web.sms(person, text)[0] for text in ("a", "b"))
    assert NOT_KEPT in web.sms(person, "c")[0]  # the sixth of the minute: answered, and told it was not kept
    (told,) = web.sms(person, "d")  # past the minute's six: told once, without "what you write is kept"
    assert told.startswith(SLOW_DOWN) and NOT_KEPT in told and "still kept" not in told
    assert [web.sms(person, text) for text in "efgh"] == [[]] * 4


def test_a_transcript_is_capped_in_bytes_too(web_factory):
    web = web_factory(SAFEHARBOR_LIMIT_TRANSCRIPT_KB="1")
    person = "+14155550006"
    web.escalate(person)
    assert NOT_KEPT not in web.sms(person, "x" * 700)[0]
    assert NOT_KEPT in web.sms(person, "y" * 400)[0]  # 1 + 700 + 400 bytes > 1 KB
    assert NOT_KEPT not in web.sms(person, "z" * 100)[0]  # a short line still fits


# -- notices to the advocates' group ------------------------------------------------------------------


def test_notices_to_the_advocates_group_are_grouped_a_few_a_minute(web_factory, fake_bot_api, clock):  # noqa: F811
    web = web_factory(fake_bot_api, SAFEHARBOR_LIMIT_NEW_CONVERSATIONS_PER_MINUTE="50")
    for number in numbers(9):
        web.escalate(number)
    labels = sorted(h.label for h in web.service.handoffs.listing("waiting"))
    worker = run_worker(web.service, fake_bot_api)
    notices = [c["text"] for c in fake_bot_api.accepted_by("sendMessage") if str(c["chat_id"]) == GROUP]
    assert len(notices) == 2 and all(n.startswith("New chat waiting: ") for n in notices)  # the minute's two
    clock.advance(seconds=60)
    run_worker(web.service, fake_bot_api, worker)  # the next minute: one notice naming the seven others
    notices = [c["text"] for c in fake_bot_api.accepted_by("sendMessage") if str(c["chat_id"]) == GROUP]
    assert len(notices) == 3 and notices[2].startswith("7 new chats waiting: ") and notices[2].endswith(" and 2 more")
    named = [n.removeprefix("New chat waiting: ") for n in notices[:2]] + notices[2].split(": ", 1)[1].split(" and ")[0].split(", ")
    assert set(named) <= set(labels) and len(set(named)) == 7
    run_worker(web.service, fake_bot_api, worker)
    assert len([c for c in fake_bot_api.accepted_by("sendMessage") if str(c["chat_id"]) == GROUP]) == 3  # nothing owed
    assert fake_bot_api.violations == []
    assert rows(web.db, "SELECT count FROM limit_windows WHERE name = :n ORDER BY window_start", n=NOTICES) == [(2,), (1,)]


def run_worker(service: Service, fake, worker: Worker | None = None) -> Worker:
    async def go():
        sender = TelegramSender(fake.token, api_base_url=fake.url)
        nonlocal worker
        worker = worker or Worker(service, service.store.outbox(), {})
        worker.adapters = {"telegram": TelegramAdapter(sender)}
        try:
            for _ in range(10):
                if not await worker.run_once():
                    break
        finally:
            await sender.close()
    asyncio.run(go())
    return worker


# -- configuration ----------------------------------------------------------------------------------------


def test_every_limit_is_configurable_refuses_nonsense_and_is_documented():
    names = [f"SAFEHARBOR_LIMIT_{name.upper()}" for name in LimitSettings.__dataclass_fields__]
    readme = (REPO / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in names)
    assert LimitSettings.from_env({names[0]: "7"}).new_conversations_per_minute == 7
    for bad in ("0", "-3", "lots", "1.5"):
        with pytest.raises(ConfigError, match=f"{names[1]}="):
            LimitSettings.from_env({names[1]: bad})


# -- across processes ---------------------------------------------------------------------------------------


def test_two_processes_share_one_limit(tmp_path, database_url):
    env = {**os.environ, **environment(tmp_path, database_url, "http://unused")}
    open_database(database_url).dispose()  # the schema, before two processes start on it
    ports = [free_port(), free_port()]
    processes = []
    try:
        for port in ports:
            process_env = {**env, "SAFEHARBOR_PUBLIC_URL": f"http://127.0.0.1:{port}", "PYTHONPATH": str(REPO)}
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--no-background", "--port", str(port)], env=process_env, cwd=tmp_path,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            ))
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) for port in ports]
        for client in clients:
            wait_until_up(client)
        # The counts are per clock minute: start with enough of this one left for the flood.
        if time.time() % 60 > 40:
            time.sleep(61 - time.time() % 60)
        webs = [Web(client, None, database_url, str(client.base_url).rstrip("/")) for client in clients]
        for index, web in enumerate(webs):
            web.serial = index * 1000

        def write(n: int) -> str:
            return webs[n % 2].sms(f"+1415555{n:04d}", "hi")[0]

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(write, range(40)))
        assert sum(a.startswith(WELCOME) for a in answers) == 5 and sum(BUSY in a for a in answers) == 35
        assert rows(database_url, "SELECT count(*) FROM conversations")[0][0] == 5
        for client in clients:
            client.close()
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


def wait_until_up(client: httpx.Client) -> None:
    def answers() -> bool:
        try:
            return client.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    assert eventually(answers, within=60, every=0.1), "safeharbor serve did not start"
