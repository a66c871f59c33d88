"""The Telegram sender keeps to the Bot API's rates (about 30 messages a second for the bot, one a
second in a private chat, 20 a minute in a group), shared by every worker through the database,
honours a 429's retry_after for every worker, and so delays replies in a flood without ever
dropping one; a reply is dropped as too late only after the provider failed it for ten minutes.

Against the fake Bot API (real HTTP on loopback, every call checked against the API description)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)

from bot.channels.base import Delivery
from bot.channels.telegram import TelegramAdapter, TelegramSender
from bot.config import LimitSettings
from bot.domain import Channel, Inbound
from bot.service import NOTICE_STREAM, Service, key_ring
from bot.store import Pseudonyms, SessionStore, open_database
from bot.store.outbox import new_message
from bot.worker import MAX_ATTEMPTS, Worker
from testkit.databases import rows
from testkit.fake_bot_api import most_in_any

RATE = 20  # the bot's sends per second in these tests (30 in a deployment): a flood of 60 takes 3 s
LIMITS = LimitSettings(new_conversations_per_minute=1000, messages_per_person_per_minute=1000, telegram_per_second=RATE)


def make_service(settings, content, clock) -> Service:
    store = SessionStore(open_database(settings.database_url), key_ring(settings))
    return Service(content, store, Pseudonyms(settings.pepper), clock, limits=LIMITS)


@pytest.fixture
def service(settings, content, clock):
    service = make_service(settings, content, clock)
    yield service
    service.close()


class Chats:
    """People writing to the bot, each message a delivery the service applies once."""

    def __init__(self, service: Service):
        self.service, self.update_id = service, 0

    def say(self, chat: int, text: str) -> None:
        self.update_id += 1
        inbound = Inbound(Channel.TELEGRAM, str(chat), text, message_ref=self.update_id)
        assert not self.service.receive(Delivery("telegram", str(self.update_id), inbound)).failed


def rounds(service: Service, fake, count: int = 50, until=None) -> Worker:
    """Run the worker's rounds (at most ``count``, or until ``until()``) with a fresh sender."""
    async def go():
        sender = TelegramSender(fake.token, api_base_url=fake.url)
        worker = Worker(service, service.store.outbox(), {"telegram": TelegramAdapter(sender)})
        try:
            for _ in range(count):
                handled = await worker.run_once()
                if (until is not None and until()) or (until is None and not handled):
                    break
        finally:
            await sender.close()
        return worker
    return asyncio.run(go())


def sent_to(fake, chat: int | str) -> list[str]:
    return [c["text"] for c in fake.accepted_by("sendMessage") if str(c["chat_id"]) == str(chat)]


def test_a_flood_of_replies_keeps_to_the_bots_rate_across_two_workers_and_none_is_dropped(settings, content, clock, fake_bot_api):  # noqa: F811
    chats = Chats(make_service(settings, content, clock))
    for chat in range(60):
        chats.say(900000 + chat, "hi")  # sixty people at once: sixty replies queued
    # Two workers, each with its own service and database connections, as two processes have.
    services = [make_service(settings, content, clock) for _ in range(2)]
    done = threading.Event()
    threads = [
        threading.Thread(target=rounds, args=(s, fake_bot_api, 200, lambda: len(fake_bot_api.accepted_by("sendMessage")) >= 60 or done.is_set()))
        for s in services
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    done.set()
    accepted = fake_bot_api.accepted_by("sendMessage")
    assert sorted(int(c["chat_id"]) for c in accepted) == [900000 + n for n in range(60)]  # each once, none lost
    times = fake_bot_api.accepted_at("sendMessage")
    # RATE a second for both workers together (one more at a window's edge, and loopback jitter)
    assert most_in_any(times, 1.0) <= RATE + 2
    assert max(times) - min(times) >= (60 - RATE - 3) / RATE  # spread out, not sent in a burst
    assert fake_bot_api.violations == []
    assert rows(settings.database_url, "SELECT count(*) FROM outbox WHERE status <> 'sent'") == [(0,)]


def test_a_private_chat_gets_at_most_three_messages_in_any_three_seconds(service, clock, fake_bot_api, settings):  # noqa: F811
    chats = Chats(service)
    for text in ["hi", "1", "1", "menu", "menu", "menu", "menu", "menu"]:
        chats.say(555, text)  # eight replies to one chat, queued at once
    assert rows(settings.database_url, "SELECT count(*) FROM outbox WHERE kind = 'send'") == [(8,)]
    rounds(service, fake_bot_api)
    assert len(sent_to(fake_bot_api, 555)) == 3  # a short burst, then the chat's pace
    clock.advance(seconds=2.9)
    rounds(service, fake_bot_api)
    assert len(sent_to(fake_bot_api, 555)) == 3
    clock.advance(seconds=0.2)
    rounds(service, fake_bot_api)
    assert len(sent_to(fake_bot_api, 555)) == 6
    clock.advance(seconds=3.1)
    rounds(service, fake_bot_api)
    texts = sent_to(fake_bot_api, 555)
    assert len(texts) == 8 and texts[0].startswith("Hi, thanks for writing.") and texts[1].startswith("One question first.")


def test_the_advocates_group_gets_at_most_twenty_messages_a_minute(service, clock, fake_bot_api):  # noqa: F811
    group = "-1001234567890"
    with service.store.transaction() as cursor:
        for n in range(23):
            payload = {"to": group, "text": f"New chat waiting: Heron {n}", "choices": [], "offer": None, "notice": True}
            service.store.statements.enqueue.run(cursor, **new_message(service.store.keys, NOTICE_STREAM, "telegram", "send", payload, clock()))
    rounds(service, fake_bot_api, count=100)
    assert len(sent_to(fake_bot_api, group)) == 20
    clock.advance(seconds=59)
    rounds(service, fake_bot_api)
    assert len(sent_to(fake_bot_api, group)) == 20
    clock.advance(seconds=1.1)
    rounds(service, fake_bot_api)
    assert sent_to(fake_bot_api, group) == [f"New chat waiting: Heron {n}" for n in range(23)]  # in order, none lost


def test_a_429_makes_every_worker_wait_its_retry_after_and_costs_no_attempt(service, clock, fake_bot_api, settings):  # noqa: F811
    chats = Chats(service)
    chats.say(701, "hi")
    fake_bot_api.fail("sendMessage", status=429, retry_after=5)
    rounds(service, fake_bot_api)
    assert sent_to(fake_bot_api, 701) == []
    chats.say(702, "hi")  # another person: the bot as a whole was asked to wait
    other = make_service(settings, service.content, clock)  # another worker process's view
    rounds(other, fake_bot_api)
    assert sent_to(fake_bot_api, 702) == []
    assert rows(settings.database_url, "SELECT attempts, error FROM outbox WHERE status = 'pending' ORDER BY id") == [(0, "throttled"), (0, None)]
    clock.advance(seconds=5)
    rounds(other, fake_bot_api)
    assert len(sent_to(fake_bot_api, 701)) == 1 and len(sent_to(fake_bot_api, 702)) == 1
    other.close()


def test_a_reply_held_back_by_floods_and_429s_is_sent_late_never_dropped(service, clock, fake_bot_api):  # noqa: F811
    chats = Chats(service)
    chats.say(801, "hi")
    for _ in range(MAX_ATTEMPTS + 4):  # more "slow down"s than a failing message gets attempts
        fake_bot_api.fail("sendMessage", status=429, retry_after=60)
        rounds(service, fake_bot_api)
        clock.advance(seconds=61)
    assert sent_to(fake_bot_api, 801) == []
    clock.advance(minutes=20)  # and the worker was behind for a while: still the service's own delay
    rounds(service, fake_bot_api)
    assert len(sent_to(fake_bot_api, 801)) == 1


def test_a_reply_the_provider_fails_for_ten_minutes_is_dropped_whatever_waited_before(service, clock, fake_bot_api, settings):  # noqa: F811
    chats = Chats(service)
    chats.say(802, "hi")
    clock.advance(minutes=30)  # queued long ago (our own delay): not a reason to drop it
    fake_bot_api.fail("sendMessage", status=502, times=100)
    rounds(service, fake_bot_api)
    clock.advance(minutes=9)
    rounds(service, fake_bot_api)
    assert rows(settings.database_url, "SELECT status FROM outbox") == [("pending",)]
    fake_bot_api.reset()
    clock.advance(minutes=2)  # the provider has now failed it for over ten minutes
    rounds(service, fake_bot_api)
    assert sent_to(fake_bot_api, 802) == []
    assert rows(settings.database_url, "SELECT status, error FROM outbox") == [("failed", "stale")]
