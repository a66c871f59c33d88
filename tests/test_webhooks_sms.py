"""``POST /webhooks/twilio/sms`` and ``/status`` through the real app, on a real SQLite file:
authenticity before anything, each MessageSid applied once, carrier words, media, TwiML."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.config import Settings, generate_keys
from bot.service import Service
from bot.web import create_app
from testkit.databases import rows
from tests.conftest import REPO

TOKEN = "0123456789abcdef0123456789abcdef"
PUBLIC = "https://safeharbor.example.org"
SMS_URL = f"{PUBLIC}/webhooks/twilio/sms"
STATUS_URL = f"{PUBLIC}/webhooks/twilio/status"
PERSON = "+14155550177"


@pytest.fixture
def web(tmp_path, database_url, content, clock):
    settings = Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": database_url, "SAFEHARBOR_PUBLIC_URL": PUBLIC,
        "TWILIO_AUTH_TOKEN": TOKEN, **generate_keys(),
    })
    service = Service.from_settings(settings, clock=clock)
    client = TestClient(create_app(service, settings, background=False), base_url="http://internal-host:8000")
    client.db = database_url
    yield client
    service.close()


def form(body: str, sid: str, **extra: str) -> dict[str, str]:
    fields = {
        "ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
        "Body": body, "FromCountry": "US", "To": "+14155550100", "NumSegments": "1", "MessageSid": sid,
        "AccountSid": "AC" + "1" * 32, "From": PERSON, "ApiVersion": "2010-04-01",
    }
    fields.update(extra)
    return fields


def post(web, fields: dict, url: str = SMS_URL, signature: str | None = None, path: str = "/webhooks/twilio/sms", headers=None):
    signature = RequestValidator(TOKEN).compute_signature(url, fields) if signature is None else signature
    return web.post(path, data=fields, headers={"X-Twilio-Signature": signature, **(headers or {})})


def messages(response) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return [m.text or "" for m in ET.fromstring(response.text).iter("Message")]


def count(db, table: str) -> int:
    return rows(db, f"SELECT count(*) FROM {table}")[0][0]


def test_a_conversation_over_sms_replies_in_twiml_with_numbered_choices(web):
    (first,) = messages(post(web, form("hola", "SM" + "0" * 32)))
    assert first.startswith("Hi, thanks for writing.") and first.endswith("1 English\n2 Español")  # ñ is GSM-7
    (second,) = messages(post(web, form("2", "SM" + "1" * 32)))
    assert second.startswith("Una pregunta primero.\n¿Es seguro para ti hablar ahora?")
    assert "í" not in second and "Si no lo es, no pasa nada. Escribe de nuevo cuando quieras, de dia o de noche." in second  # folded to GSM-7 for SMS


@pytest.mark.parametrize(
    "case",
    ["forged parameter", "wrong URL", "Host-header URL", "missing header", "wrong token", "empty signature"],
)
def test_requests_not_signed_by_twilio_for_our_url_get_403_and_write_nothing(web, case, caplog):
    caplog.set_level(logging.DEBUG)
    fields = form("hi", "SM" + "2" * 32)
    signature = {
        "forged parameter": RequestValidator(TOKEN).compute_signature(SMS_URL, {**fields, "Body": "something else"}),
        "wrong URL": RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/webhooks/twilio/status", fields),
        "Host-header URL": RequestValidator(TOKEN).compute_signature("http://internal-host:8000/webhooks/twilio/sms", fields),
        "missing header": None,
        "wrong token": RequestValidator("f" * 32).compute_signature(SMS_URL, fields),
        "empty signature": "",
    }[case]
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    response = web.post("/webhooks/twilio/sms", data=fields, headers=headers)
    assert response.status_code == 403
    assert count(web.db, "conversations") == 0 and count(web.db, "deliveries") == 0
    assert PERSON not in caplog.text and "refused a twilio webhook" in caplog.text


def test_a_signed_request_without_required_fields_gets_400_without_a_stack_trace(web):
    fields = form("hi", "SM" + "3" * 32)
    del fields["From"]
    response = post(web, fields)
    assert response.status_code == 400
    assert "From" in response.text and "Traceback" not in response.text and "hi" not in response.text
    assert count(web.db, "conversations") == 0


def test_a_redelivery_is_applied_once_and_gets_the_same_reply(web):
    messages(post(web, form("hi", "SM" + "4" * 32)))
    first = messages(post(web, form("1", "SM" + "5" * 32)))  # English -> safe check
    again = messages(post(web, form("1", "SM" + "5" * 32)))  # Twilio retries, or a replay
    assert again == first
    (menu,) = messages(post(web, form("1", "SM" + "6" * 32)))  # one step further, not two
    assert menu.startswith("Here are some options.")


def test_a_reply_is_kept_for_redeliveries_an_hour_then_dropped_and_the_receipt_names_no_one(web, clock):
    from bot.store.outbox import REPLY_KEPT_FOR

    messages(post(web, form("hi", "SM" + "4" * 31 + "a")))
    first = messages(post(web, form("1", "SM" + "4" * 31 + "b")))
    (receipt,) = rows(web.db, "SELECT * FROM deliveries LIMIT 1")
    assert len(receipt) == 4  # provider, keyed hash, sealed reply, time: no conversation
    clock.advance(seconds=REPLY_KEPT_FOR.total_seconds() - 60)
    web.app.state.service.store.outbox().purge(clock())
    assert messages(post(web, form("1", "SM" + "4" * 31 + "b"))) == first  # still within the hour
    clock.advance(minutes=2)
    web.app.state.service.store.outbox().purge(clock())
    assert rows(web.db, "SELECT count(*) FROM deliveries WHERE reply IS NOT NULL")[0][0] == 0
    assert messages(post(web, form("1", "SM" + "4" * 31 + "b"))) == []  # applied once: nothing new


def test_after_a_quick_exit_no_earlier_reply_opens_again(web):
    messages(post(web, form("hi", "SM" + "5" * 31 + "a")))
    messages(post(web, form("1", "SM" + "5" * 31 + "b")))
    messages(post(web, form("EXIT", "SM" + "5" * 31 + "c")))
    assert messages(post(web, form("hola", "SM" + "5" * 31 + "d")))[0].startswith("Hi, thanks for writing.")
    # A redelivery of a message from before the exit: its reply was sealed under the erased key.
    assert messages(post(web, form("1", "SM" + "5" * 31 + "b"))) == []
    assert count(web.db, "conversations") == 1


@pytest.mark.parametrize("word", ["STOP", "stop", "Unsubscribe", "QUIT", "end", "cancel", "STOPALL", "revoke", "optout"])
def test_carrier_opt_out_words_get_no_reply_and_erase_the_conversation(web, word):
    messages(post(web, form("hi", "SM" + "7" * 32)))
    assert count(web.db, "conversations") == 1
    assert messages(post(web, form(word, "SM" + "8" * 32))) == []
    assert count(web.db, "conversations") == 0 and count(web.db, "data_keys") == 0


def test_start_begins_again_with_the_first_reply(web):
    first = messages(post(web, form("hi", "SM" + "9" * 32)))
    messages(post(web, form("2", "SM" + "a" * 32)))
    assert messages(post(web, form("START", "SM" + "b" * 32))) == first


def test_a_photo_is_answered_in_text_and_nothing_is_fetched(web):
    messages(post(web, form("hi", "SM" + "c" * 32)))
    fields = form("", "MM" + "d" * 32, NumMedia="1", MediaUrl0="https://api.twilio.com/media/x", MediaContentType0="image/jpeg")
    (reply,) = messages(post(web, fields))
    assert reply.startswith("Thanks. I can only read text here") and reply.endswith("2 Español")


def test_whatsapp_goes_through_the_same_webhook_as_its_own_conversation(web):
    messages(post(web, form("hi", "SM" + "e" * 32)))
    (reply,) = messages(post(web, form("2", "SM" + "f" * 32, From=f"whatsapp:{PERSON}", To="whatsapp:+14155550100")))
    assert reply.startswith("Hi, thanks for writing.")  # a new conversation: not the SMS one
    assert count(web.db, "conversations") == 2


def test_status_callbacks_are_recorded_once_per_message_and_status_without_content(web):
    fields = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "1" * 32, "To": PERSON}
    for _ in range(3):
        response = post(web, fields, url=STATUS_URL, path="/webhooks/twilio/status")
        assert response.status_code == 204
    post(web, {**fields, "MessageStatus": "failed", "ErrorCode": "30003"}, url=STATUS_URL, path="/webhooks/twilio/status")
    recorded = rows(web.db, "SELECT provider_ref, status, error_code FROM delivery_statuses ORDER BY id")
    assert [(r[1], r[2]) for r in recorded] == [("delivered", None), ("failed", "30003")]
    assert recorded[0][0] == recorded[1][0] and "SM" not in recorded[0][0]  # a keyed hash of the SID
    forged = post(web, fields, url=STATUS_URL, path="/webhooks/twilio/status", signature="bad")
    assert forged.status_code == 403


def test_a_webhook_path_answers_only_post(web):
    assert web.get("/webhooks/twilio/sms").status_code in (404, 405)  # not a webhook: refused
    assert web.get("/healthz").status_code == 200  # the rest of the app is behind it


def test_a_webhook_handler_that_raises_gets_a_plain_500_and_logs_only_the_kind(caplog):
    from starlette.applications import Starlette

    from bot.web.app import WebhooksFirst

    async def broken(request):
        raise RuntimeError(f"something about {PERSON}")

    app = WebhooksFirst({"/webhooks/twilio/sms": broken}, Starlette(), None)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/webhooks/twilio/sms", data={"From": PERSON})
    assert response.status_code == 500 and "Traceback" not in response.text and PERSON not in response.text
    assert "a webhook failed: RuntimeError" in caplog.text and PERSON not in caplog.text


def test_health_check_answers_when_the_database_does(web):
    assert web.get("/healthz").json() == {"status": "ok"}


def test_a_redelivered_quick_exit_gets_the_same_reply(web):
    messages(post(web, form("hi", "SM" + "1" * 31 + "a")))
    first = messages(post(web, form("EXIT", "SM" + "1" * 31 + "b")))
    assert first[0].startswith("Done.")
    assert messages(post(web, form("EXIT", "SM" + "1" * 31 + "b"))) == first
    assert count(web.db, "conversations") == 0  # and nothing came back


def test_a_large_or_chunked_body_is_refused_before_it_is_read(web):
    huge = b"Body=" + b"x" * 200_000
    assert web.post("/webhooks/twilio/sms", content=huge, headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 413

    def chunks():
        for _ in range(100):
            yield b"x" * 10_000

    chunked = web.post("/webhooks/twilio/sms", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert chunked.status_code == 413
    assert web.post("/webhooks/twilio/sms", data={"Body": "hi"}, files={"f": b"x"}).status_code == 403  # multipart: not Twilio's


def test_an_opted_out_status_erases_the_persons_conversation(web):
    messages(post(web, form("hi", "SM" + "2" * 31 + "a")))
    assert count(web.db, "conversations") == 1
    fields = {"MessageSid": "SM" + "2" * 31 + "b", "MessageStatus": "failed", "ErrorCode": "21610", "To": PERSON,
              "AccountSid": "AC" + "1" * 32}
    assert post(web, fields, url=STATUS_URL, path="/webhooks/twilio/status").status_code == 204
    assert count(web.db, "conversations") == 0 and count(web.db, "data_keys") == 0
