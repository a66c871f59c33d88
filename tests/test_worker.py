"""The outbox worker against a fake Bot API that fails on command and an SMS sender stub:
order per conversation, retries with backoff, never twice once accepted, stop on unsubscribed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from fake_bot_api import fake_bot_api  # noqa: F401  (the fixture)

from bot.channels.base import Delivery, SendError
from bot.channels.telegram import TelegramAdapter, TelegramSender
from bot.channels.twilio_sms import TwilioAdapter
from bot.domain import Channel, Inbound
from bot.service import Service, key_ring
from bot.store import KeyRing, Pseudonyms, SessionStore, open_database
from testkit.databases import rows
from bot.store.outbox import CLAIM_FOR
from bot.worker import MAX_BACKOFF, Worker, backoff


@pytest.fixture
def setup(settings, content, clock, fake_bot_api):  # noqa: F811
    store = SessionStore(open_database(settings.database_url), key_ring(settings))
    service = Service(content, store, Pseudonyms(settings.pepper), clock)
    outbox = store.outbox()
    return service, outbox, fake_bot_api, settings


def tg(service: Service, chat: int, text: str, update_id: int) -> None:
    inbound = Inbound(Channel.TELEGRAM, str(chat), text, message_ref=update_id % 1000)
    reception = service.receive(Delivery("telegram", str(update_id), inbound))
    assert not reception.failed


def drain(worker: Worker, rounds: int = 20) -> None:
    async def go():
        for _ in range(rounds):
            if not await worker.run_once():
                return
    asyncio.run(go())


def run_rounds(service, outbox, fake, rounds: int = 20, senders=None) -> Worker:
    async def go():
        sender = TelegramSender(fake.token, api_base_url=fake.url)
        worker = Worker(service, outbox, senders or {"telegram": TelegramAdapter(sender)})
        try:
            for _ in range(rounds):
                if not await worker.run_once():
                    break
        finally:
            await sender.close()
        return worker
    return asyncio.run(go())


def texts_to(fake, chat: int) -> list[str]:
    return [c["text"].split("\n", 1)[0] for c in fake.accepted_by("sendMessage") if c["chat_id"] == chat]


def test_replies_go_out_in_order_per_conversation(setup):
    service, outbox, fake, _ = setup
    for n, text in enumerate(["hi", "2", "1"]):  # greeting, safe check (es), menu
        tg(service, 111, text, 100 + n)
        tg(service, 222, text if n != 1 else "1", 200 + n)  # the other person picks English
    run_rounds(service, outbox, fake)
    assert texts_to(fake, 111) == ["Hi, thanks for writing. / Hola, gracias por escribir.", "Una pregunta primero.", "Aquí tienes algunas opciones."]
    assert texts_to(fake, 222)[1] == "One question first."
    assert fake.violations == []
    assert outbox.pending() == 0


def test_a_transient_failure_is_retried_later_and_nothing_overtakes_it(setup, clock):
    service, outbox, fake, _ = setup
    tg(service, 333, "hi", 1)
    tg(service, 333, "1", 2)
    fake.fail("sendMessage", status=500)
    run_rounds(service, outbox, fake)
    assert texts_to(fake, 333) == []  # the first failed; the second waits behind it
    assert outbox.pending() == 2
    clock.advance(seconds=MAX_BACKOFF.total_seconds())
    run_rounds(service, outbox, fake)
    assert texts_to(fake, 333) == ["Hi, thanks for writing. / Hola, gracias por escribir.", "One question first."]


def test_retry_after_is_honoured(setup, clock, settings):
    service, outbox, fake, _ = setup
    tg(service, 444, "hi", 1)
    fake.fail("sendMessage", status=429, retry_after=7)
    run_rounds(service, outbox, fake)
    (due, attempts, error), = rows(settings.database_url, "SELECT next_attempt_at, attempts, error FROM outbox WHERE status='pending'")
    # "Too fast" is a wait, not a failure of the message: no attempt counted toward giving up.
    assert (attempts, error) == (0, "throttled") and str(due).startswith((clock.now + timedelta(seconds=7)).strftime("%Y-%m-%d %H:%M:%S"))
    clock.advance(seconds=6)
    run_rounds(service, outbox, fake)
    assert texts_to(fake, 444) == []
    clock.advance(seconds=1)
    run_rounds(service, outbox, fake)
    assert len(texts_to(fake, 444)) == 1


def test_a_refusal_is_final_and_the_payload_is_wiped(setup, settings):
    service, outbox, fake, _ = setup
    tg(service, 555, "hi", 1)
    fake.fail("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    run_rounds(service, outbox, fake)
    assert rows(settings.database_url, "SELECT status, payload, error FROM outbox") == [("failed", None, "refused")]


def test_a_message_accepted_is_never_sent_again_and_a_dead_workers_claim_is_released(setup, clock):
    service, outbox, fake, _ = setup
    tg(service, 666, "hi", 1)
    run_rounds(service, outbox, fake)
    run_rounds(service, outbox, fake)
    assert len(texts_to(fake, 666)) == 1  # accepted once, never again
    tg(service, 666, "1", 2)
    claimed = outbox.take_due(clock.now)  # a worker takes it ... and dies before sending
    assert len(claimed) == 1
    run_rounds(service, outbox, fake)
    assert len(texts_to(fake, 666)) == 1  # still claimed: nobody else sends it meanwhile
    clock.advance(seconds=CLAIM_FOR.total_seconds() + 1)
    run_rounds(service, outbox, fake)
    assert texts_to(fake, 666)[1] == "One question first."  # released and sent, once
    assert len(texts_to(fake, 666)) == 2


class UnsubscribedSms:
    def __init__(self):
        self.sent = []

    def send(self, to: str, body: str) -> str:
        self.sent.append(body)
        raise SendError("twilio 21610", unsubscribed=True)


def test_an_unsubscribed_recipient_stops_the_stream_for_good_and_is_erased(setup, settings):
    service, outbox, fake, _ = setup
    service.handle(Inbound(Channel.SMS, "+14155550111", "hi"))
    pseudonym = service.pseudonyms.of("sms", "+14155550111")
    with service.store.conversation(pseudonym, service.clock()) as held:
        for n in range(3):
            held.enqueue("sms", "send", {"to": "+14155550111", "text": f"message {n}", "choices": []})
    sms = UnsubscribedSms()
    run_rounds(service, outbox, fake, senders={"sms": TwilioAdapter(sms)})
    assert len(sms.sent) == 1  # the first got 21610: the others are never tried
    # erased with the conversation: no row, no timeline of what was to be said
    assert rows(settings.database_url, "SELECT count(*) FROM outbox") == [(0,)]
    assert rows(settings.database_url, "SELECT count(*) FROM conversations") == [(0,)]


def test_backoff_grows_with_jitter_up_to_a_cap():
    assert backoff(0, rng=lambda: 0.0) == timedelta(seconds=0.5)
    assert backoff(3, rng=lambda: 1.0) == timedelta(seconds=12)
    assert backoff(30, rng=lambda: 0.5) == MAX_BACKOFF
    assert backoff(5, retry_after=2.5) == timedelta(seconds=2.5)
    spread = {backoff(4).total_seconds() for _ in range(50)}
    assert len(spread) > 40 and all(8 <= s <= 24 for s in spread)


def test_a_reply_in_flight_during_a_quick_exit_is_deleted_too(setup):
    service, outbox, fake, _ = setup
    tg(service, 777, "hi", 1)
    (job,) = outbox.take_due(service.clock())  # the greeting is on its way ...
    tg(service, 777, "SALIR", 2)  # ... when the person quick-exits
    sent_id = 4242
    service.message_sent("telegram", "777", sent_id)  # ... and then it arrives
    outbox.sent(job)
    run_rounds(service, outbox, fake)
    deleted = [i for call in fake.accepted_by("deleteMessages") for i in call["message_ids"]]
    assert sent_id in deleted and 1 in deleted and 2 in deleted


def test_a_quick_exit_after_a_long_silence_still_deletes_the_chat(setup, clock):
    service, outbox, fake, settings = setup
    for n, text in enumerate(["hi", "1", "1"], 1):
        tg(service, 888, text, n)
    run_rounds(service, outbox, fake)
    bot_ids = [1001, 1002, 1003]  # the fake numbers the bot's messages from 1001
    clock.advance(hours=3)  # idle far past the flow's timeout; the purge runs
    (before,) = rows(settings.database_url, "SELECT wrapped FROM data_keys")
    assert service.purge_expired() == 0  # state shredded, message ids kept (they are still deletable)
    # ... under a new data key: the state's old copies (a dead row, the log) go with the old one's epoch.
    (after,) = rows(settings.database_url, "SELECT wrapped FROM data_keys")
    assert bytes(after[0]) != bytes(before[0])
    assert rows(settings.database_url, "SELECT count(*) FROM conversations WHERE state IS NULL AND channel_state IS NOT NULL") == [(1,)]
    tg(service, 888, "SALIR", 4)
    run_rounds(service, outbox, fake)
    (deleted,) = fake.accepted_by("deleteMessages")
    assert sorted(deleted["message_ids"]) == sorted([1, 2, 3, 4] + bot_ids)
    clock.advance(hours=49)
    tg(service, 888, "hi", 5)
    clock.advance(hours=49)
    assert service.purge_expired() == 1  # nothing deletable left: erased whole


def test_a_reply_that_could_not_go_out_for_ten_minutes_is_dropped_not_sent(setup, clock):
    service, outbox, fake, _ = setup
    tg(service, 999, "hi", 1)
    fake.fail("sendMessage", status=500, times=20)
    run_rounds(service, outbox, fake)
    fake.reset()
    clock.advance(minutes=11)
    run_rounds(service, outbox, fake)
    assert fake.accepted_by("sendMessage") == []  # out of the blue, 11 minutes later: never
    assert outbox.pending() == 0
