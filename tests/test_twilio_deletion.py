"""Deleting what Twilio keeps: every inbound and outbound message of a conversation that ends (quick
exit, carrier opt-out, an end with nothing kept, idle expiry) is deleted through Twilio's REST API
by the outbox worker, against a stub of the Message resource checked against Twilio's own API
description (``twilio_messages_api``), which fails on command (20009: not final yet).

Sids are learned as Twilio gives them: the inbound webhook's ``MessageSid``, the status callbacks
of the TwiML replies (``record_status`` with whom it went to, as ``web.webhooks`` calls it), and
a REST send's answer (``message_sent``)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.channels.base import SendError
from bot.channels.twilio_sms import (
    MAX_KEPT_SIDS, TWILIO_DELETE_FOR, NotYetDeletable, TwilioAdapter, TwilioSender, kept_sids, parse_message, parse_status,
    twilio_delete_backoff,
)
from bot.config import Settings, generate_keys
from bot.service import Service, key_ring
from bot.store import KeyRing, Pseudonyms, SessionStore, open_database
from bot.store.database import read_connection
from bot.store.tables import outbox
from bot.web import create_app
from bot.worker import Worker
from testkit.databases import rows, stored_bytes
from tests.conftest import REPO
from tests.twilio_messages_api import TwilioMessagesApi

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "0123456789abcdef0123456789abcdef"
OURS = "+14155550100"
PERSON = "+14155550142"
PUBLIC = "https://safeharbor.example.org"


def sid(n: int, kind: str = "SM") -> str:
    return f"{kind}{n:032x}"


@pytest.fixture
def api():
    api = TwilioMessagesApi.start()
    yield api
    api.stop()


@pytest.fixture
def service(settings, content, clock):
    store = SessionStore(open_database(settings.database_url), key_ring(settings))
    service = Service(content, store, Pseudonyms(settings.pepper), clock)
    service.kept.deletes_copies = True  # as from_settings sets it with TWILIO_ACCOUNT_SID and the rest
    yield service
    service.close()


def worker_for(service: Service, api: TwilioMessagesApi, sender=None) -> Worker:
    sender = sender or TwilioSender(ACCOUNT, TOKEN, from_number=OURS, api_base_url=api.url)
    adapter = TwilioAdapter(sender)
    worker = Worker(service, service.store.outbox(), {"sms": adapter, "whatsapp": adapter})
    worker.deleter = adapter.deleter  # its counts of messages deleted and given up on
    return worker


def drain(worker: Worker, rounds: int = 10) -> None:
    async def go():
        for _ in range(rounds):
            if not await worker.run_once():
                return
    asyncio.run(go())


def inbound_form(body: str, message_sid: str, sender: str = PERSON) -> dict[str, str]:
    return {"MessageSid": message_sid, "SmsMessageSid": message_sid, "AccountSid": ACCOUNT, "From": sender, "To": OURS,
            "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}


def status_form(message_sid: str, status: str, to: str = PERSON, error: str | None = None) -> dict[str, str]:
    fields = {"MessageSid": message_sid, "SmsSid": message_sid, "MessageStatus": status, "SmsStatus": status,
              "AccountSid": ACCOUNT, "From": OURS, "To": to, "ApiVersion": "2010-04-01"}
    if error:
        fields["ErrorCode"] = error
    return fields


def say(service: Service, body: str, message_sid: str, sender: str = PERSON) -> list[str]:
    reception = service.receive(parse_message(inbound_form(body, message_sid, sender)))
    assert not reception.failed
    return [output.text for output in reception.outputs]


def status(service: Service, message_sid: str, state: str = "delivered", to: str = PERSON, error: str | None = None) -> None:
    """A status callback, handed to the service as the Twilio adapter's status webhook does."""
    update = parse_status(status_form(message_sid, state, to, error))
    service.record_status("twilio", update.message_sid, update.status, update.error_code, update.channel, update.address)
    if update.unsubscribed_address:
        service.opted_out(update.unsubscribed_channel, update.unsubscribed_address)


def replied(service: Service, message_sid: str, to: str = PERSON) -> None:
    """Twilio sent one TwiML reply: its callbacks, ``sent`` then ``delivered``."""
    status(service, message_sid, "sent", to)
    status(service, message_sid, "delivered", to)


def pending_deletions(service: Service) -> list[list[str]]:
    with read_connection(service.store.engine) as connection:
        found = connection.execute(
            select(outbox.c.payload).where(outbox.c.kind == "delete", outbox.c.status == "pending").order_by(outbox.c.id)
        ).all()
    return [json.loads(service.store.keys.open_transient(row.payload))["sids"] for row in found]


def kept(service: Service, address: str = PERSON) -> list[str]:
    with service.store.conversation(service.pseudonyms.of("sms", address), service.clock()) as held:
        return kept_sids(held.channel_state)


def test_a_quick_exit_deletes_every_inbound_and_outbound_message_then_the_last_line_too(service, api, settings, captured_logs):
    assert say(service, "hola", sid(1))[0].startswith("Hi, thanks for writing.")
    replied(service, sid(101))
    assert say(service, "2", sid(2))[0].startswith("Una pregunta primero.")
    replied(service, sid(102))
    say(service, "1", sid(3))
    replied(service, sid(103))
    service.message_sent("sms", PERSON, sid(104))  # an advocate's reply, sent by the worker (REST)
    assert kept(service) == [sid(1), sid(101), sid(2), sid(102), sid(3), sid(103), sid(104)]
    secrets_ = [sid(n) for n in (1, 2, 3, 101, 102, 103, 104)] + [PERSON, PERSON[1:]]
    at_rest = stored_bytes(settings.database_url)
    assert not [s for s in secrets_ if s.encode() in at_rest]  # sealed, with the conversation

    assert say(service, "salir", sid(4))[0].startswith("Listo.")
    assert rows(settings.database_url, "SELECT count(*) FROM conversations") == [(0,)]
    queued = pending_deletions(service)
    assert sorted(s for batch in queued for s in batch) == sorted([sid(n) for n in (1, 2, 3, 4, 101, 102, 103, 104)])
    at_rest = stored_bytes(settings.database_url)
    assert not [s for s in secrets_ + [sid(4)] if s.encode() in at_rest]  # the outbox's payload is sealed too

    worker = worker_for(service, api)
    drain(worker)
    assert sorted(api.deleted) == sorted([sid(n) for n in (1, 2, 3, 4, 101, 102, 103, 104)])
    assert worker.deleter.deleted == 8 and worker.deleter.undeleted == 0

    # The quick exit's own line went out after the erasure: its callbacks find no conversation.
    replied(service, sid(105))
    drain(worker)
    assert api.deleted[-1] == sid(105)
    assert [c for c in api.calls if c[0] == sid(105)] == [(sid(105), 204)]  # sent + delivered: deleted once
    assert api.violations == []
    assert pending_deletions(service) == []
    everything = stored_bytes(settings.database_url) + captured_logs.text.encode()
    assert not [s for s in secrets_ + [sid(4), sid(105)] if s.encode() in everything]


def test_a_conversation_that_keeps_nothing_keeps_nothing_at_twilio(service, api):
    say(service, "hola", sid(1))
    replied(service, sid(101))
    say(service, "1", sid(2))  # English
    replied(service, sid(102))
    assert say(service, "2", sid(3))  # not safe to talk now: the flow ends, nothing is kept
    replied(service, sid(103))  # the goodbye, after the end
    drain(worker_for(service, api))
    assert sorted(api.deleted) == sorted([sid(1), sid(2), sid(3), sid(101), sid(102), sid(103)])


def test_a_carrier_opt_out_deletes_the_conversation_at_twilio_stop_included(service, api, settings):
    say(service, "hola", sid(1))
    replied(service, sid(101))
    assert say(service, "STOP", sid(2)) == []  # the carrier has blocked the number: no reply
    assert rows(settings.database_url, "SELECT count(*) FROM conversations") == [(0,)]
    drain(worker_for(service, api))
    assert sorted(api.deleted) == sorted([sid(1), sid(2), sid(101)])


def test_a_21610_on_a_rest_send_erases_and_deletes_at_twilio(service, api, settings):
    say(service, "hola", sid(1))
    replied(service, sid(101))
    with service.store.conversation(service.pseudonyms.of("sms", PERSON), service.clock()) as held:
        held.enqueue("sms", "send", {"to": PERSON, "text": "An advocate's reply", "choices": []})

    class Unsubscribed(TwilioSender):
        def send(self, to: str, body: str) -> str:
            raise SendError("twilio answered HTTP 400 (error 21610)", unsubscribed=True)

    drain(worker_for(service, api, Unsubscribed(ACCOUNT, TOKEN, from_number=OURS, api_base_url=api.url)))
    assert rows(settings.database_url, "SELECT count(*) FROM conversations") == [(0,)]
    assert sorted(api.deleted) == sorted([sid(1), sid(101)])


def test_an_advocates_reply_sent_by_the_worker_is_kept_then_deleted_with_the_conversation(service, api):
    say(service, "hola", sid(1))
    with service.store.conversation(service.pseudonyms.of("sms", PERSON), service.clock()) as held:
        held.enqueue("sms", "send", {"to": PERSON, "text": "Hi, this is Ana.", "choices": []})

    class Sends(TwilioSender):
        def send(self, to: str, body: str) -> str:
            return sid(500)  # the SID Twilio's answer to the POST carries

    worker = worker_for(service, api, Sends(ACCOUNT, TOKEN, from_number=OURS, api_base_url=api.url))
    drain(worker)
    assert kept(service) == [sid(1), sid(500)] and api.deleted == []
    say(service, "salir", sid(2))
    drain(worker)
    assert sorted(api.deleted) == sorted([sid(1), sid(2), sid(500)])


def test_an_idle_conversation_that_expires_is_deleted_at_twilio_in_the_same_purge(service, api, clock, settings):
    say(service, "hola", sid(1))
    replied(service, sid(101))
    say(service, "1", sid(2), sender=PERSON)
    replied(service, sid(102))
    say(service, "hello", sid(3), sender="+14155550143")  # someone else, still active
    clock.advance(minutes=50)
    assert service.purge_expired() == 0
    say(service, "hola", sid(4), sender="+14155550143")
    clock.advance(minutes=20)  # the first person idle past the flow's hour
    assert service.purge_expired() == 1
    assert pending_deletions(service) == [[sid(1), sid(101), sid(2), sid(102)]]
    drain(worker_for(service, api))
    assert sorted(api.deleted) == sorted([sid(1), sid(2), sid(101), sid(102)])
    assert kept(service, "+14155550143") == [sid(3), sid(4)]  # the other conversation keeps its own


def test_a_message_not_yet_final_is_retried_with_backoff_and_the_others_are_not_asked_again(service, api, clock):
    say(service, "hola", sid(1))
    replied(service, sid(101))
    api.script(sid(2), [(400, 20009), (400, 20009)])  # the exit message itself is still being received
    say(service, "salir", sid(2))
    worker = worker_for(service, api)
    drain(worker)
    assert sorted(api.deleted) == sorted([sid(1), sid(101)])
    assert pending_deletions(service) == [[sid(2)]]  # what is left of the job, sealed again
    with read_connection(service.store.engine) as connection:
        (due,) = connection.execute(select(outbox.c.next_attempt_at).where(outbox.c.status == "pending")).scalars().all()
    wait = (due if due.tzinfo else due.replace(tzinfo=clock.now.tzinfo)) - clock.now
    assert timedelta(seconds=60) <= wait <= timedelta(seconds=90)  # "wait at least 1 minute"

    clock.advance(seconds=30)
    drain(worker)
    assert [c for c in api.calls if c[0] == sid(2)] == [(sid(2), 400)]  # not before its time
    clock.advance(seconds=61)
    drain(worker)
    assert [c[1] for c in api.calls if c[0] == sid(2)] == [400, 400]  # 20009 again: waits longer now
    clock.advance(seconds=181)
    drain(worker)
    assert api.deleted[-1] == sid(2)
    assert [c for c in api.calls if c[0] in (sid(1), sid(101))] == [(sid(1), 204), (sid(101), 204)]  # each asked once
    assert pending_deletions(service) == [] and worker.deleter.undeleted == 0


def test_a_message_twilio_never_lets_go_is_given_up_after_14_days_and_counted(service, api, clock, captured_logs):
    say(service, "hola", sid(1))
    api.script(sid(1), [(400, 20009)] * 500)
    say(service, "salir", sid(2))
    worker = worker_for(service, api)
    start = clock.now
    while clock.now - start <= TWILIO_DELETE_FOR + timedelta(hours=7):
        drain(worker)
        clock.advance(hours=6, minutes=30)
    attempts = len([c for c in api.calls if c[0] == sid(1)])
    assert 14 < attempts < 80  # a minute doubling up to six hours apart, for 14 days
    assert api.deleted == [sid(2)]
    assert worker.deleter.undeleted == 1 and pending_deletions(service) == []
    assert "1 message(s) could not be deleted at Twilio in 14 days" in captured_logs.text
    assert sid(1) not in captured_logs.text and PERSON not in captured_logs.text


def test_a_very_long_conversation_keeps_a_bounded_list_and_deletes_the_oldest_at_once(service, api):
    say(service, "hola", sid(1))
    for n in range(2, MAX_KEPT_SIDS + 3):
        service.message_sent("sms", PERSON, sid(n))
    assert len(kept(service)) == MAX_KEPT_SIDS
    drain(worker_for(service, api))
    assert sorted(api.deleted) == [sid(1), sid(2)]  # the two oldest, not lost: deleted now


def test_without_twilio_credentials_no_sid_is_kept_and_nothing_queued(service, settings):
    service.kept.deletes_copies = False
    say(service, "hola", sid(1))
    replied(service, sid(101))
    assert kept(service) == []
    say(service, "salir", sid(2))
    replied(service, sid(102))
    assert rows(settings.database_url, "SELECT count(*) FROM outbox") == [(0,)]


def test_twilio_delete_backoff_starts_at_a_minute_and_is_capped():
    assert twilio_delete_backoff(0, rng=lambda: 1.0) == timedelta(seconds=90)
    assert twilio_delete_backoff(3, rng=lambda: 0.0) == timedelta(minutes=8)
    assert twilio_delete_backoff(40, rng=lambda: 0.0) == timedelta(hours=6)
    assert twilio_delete_backoff(2, retry_after=5) == timedelta(minutes=1)  # never under Twilio's minute
    assert twilio_delete_backoff(2, retry_after=10**9) == timedelta(hours=6)


# -- the sender's DELETE and its errors -----------------------------------------------------------


def test_delete_maps_twilio_answers(api):
    sender = TwilioSender(ACCOUNT, TOKEN, from_number=OURS, api_base_url=api.url)
    assert sender.delete(sid(1)) is True
    assert sender.delete(sid(1)) is False  # already gone (404): nothing left to delete
    assert sender.delete(sid(2, "MM")) is True  # a media message
    api.script(sid(3), [(400, 20009), (503, 20503), (401, 20003), (400, 21000)])
    with pytest.raises(NotYetDeletable) as not_yet:
        sender.delete(sid(3))
    assert not not_yet.value.permanent and "20009" in str(not_yet.value) and sid(3) not in str(not_yet.value)
    with pytest.raises(SendError) as busy:
        sender.delete(sid(3))
    assert not busy.value.permanent and not isinstance(busy.value, NotYetDeletable)
    with pytest.raises(SendError) as credentials:  # fixable by the operator: retried, not given up
        sender.delete(sid(3))
    assert not credentials.value.permanent and "401" in str(credentials.value)
    with pytest.raises(SendError) as refused:
        sender.delete(sid(3))
    assert refused.value.permanent
    calls = len(api.calls)
    with pytest.raises(SendError) as bad:
        sender.delete("SM../../Calls/CA" + "0" * 24)
    assert bad.value.permanent and len(api.calls) == calls  # not a Message SID: never sent
    assert api.violations == []


# -- through the web app: TwiML asks for the replies' callbacks; 21610 in one erases -----------------


@pytest.fixture
def web(tmp_path, database_url, clock):
    settings = Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, "SAFEHARBOR_PUBLIC_URL": PUBLIC, "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM_NUMBER": OURS, **generate_keys(),
    })
    service = Service.from_settings(settings, clock=clock)
    client = TestClient(create_app(service, settings, background=False), base_url="http://internal-host:8000")
    client.service = service
    client.db = database_url
    yield client
    service.close()


def post(web, path: str, fields: dict):
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}{path}", fields)
    return web.post(path, data=fields, headers={"X-Twilio-Signature": signature})


def test_twiml_replies_ask_for_status_callbacks_and_a_21610_in_one_deletes_everything(web, api):
    import xml.etree.ElementTree as ET

    assert web.service.kept.deletes_copies
    answer = post(web, "/webhooks/twilio/sms", inbound_form("hola", sid(1)))
    (message,) = ET.fromstring(answer.text).iter("Message")
    assert message.get("action") == f"{PUBLIC}/webhooks/twilio/status"
    assert post(web, "/webhooks/twilio/status", status_form(sid(101), "delivered")).status_code == 204
    post(web, "/webhooks/twilio/sms", inbound_form("1", sid(2)))
    assert post(web, "/webhooks/twilio/status", status_form(sid(102), "failed", error="21610")).status_code == 204
    assert rows(web.db, "SELECT count(*) FROM conversations") == [(0,)]
    drain(worker_for(web.service, api))
    assert sorted(api.deleted) == sorted([sid(1), sid(2), sid(101), sid(102)])


def test_a_status_callback_for_a_sid_that_is_not_a_message_deletes_nothing(web, api):
    post(web, "/webhooks/twilio/sms", inbound_form("salir", sid(1)))
    assert post(web, "/webhooks/twilio/status", status_form("SM-not-a-sid", "delivered")).status_code == 204
    drain(worker_for(web.service, api))
    assert api.deleted == [sid(1)] and api.violations == []


def test_logs_never_hold_a_sid(web, api, captured_logs):
    captured_logs.set_level(logging.DEBUG)
    post(web, "/webhooks/twilio/sms", inbound_form("hola", sid(1)))
    post(web, "/webhooks/twilio/status", status_form(sid(101), "sent"))
    api.script(sid(2), [(400, 20009)])
    post(web, "/webhooks/twilio/sms", inbound_form("salir", sid(2)))
    drain(worker_for(web.service, api))
    assert sorted(api.deleted) == sorted([sid(1), sid(101)])
    for secret in (sid(1), sid(2), sid(101), PERSON, PERSON[1:]):
        assert secret not in captured_logs.text
