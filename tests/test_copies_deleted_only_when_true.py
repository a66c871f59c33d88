"""The reply that ends a conversation says the provider's copies are being deleted only where
they are: SMS with Twilio's REST API configured. Receiving SMS alone (TwiML answers, no account
SID) or Telegram, nothing at a provider is deleted, so nothing may say it is (issue 12)."""

from __future__ import annotations

import pytest

from bot.channels.base import Delivery
from bot.channels.twilio_sms import parse_message
from bot.domain.messages import Channel, Inbound
from bot.flowdef.actions import COPIES_DELETED
from bot.service import Service, key_ring
from bot.store import Pseudonyms, SessionStore, open_database

ACCOUNT = "AC" + "0123456789abcdef" * 2
OURS = "+14155550100"
PERSON = "+14155550142"


@pytest.fixture
def service(settings, content, clock):
    store = SessionStore(open_database(settings.database_url), key_ring(settings))
    service = Service(content, store, Pseudonyms(settings.pepper), clock)
    yield service
    service.close()


def sms(service: Service, body: str, n: int) -> str:
    message_sid = f"SM{n:032x}"
    form = {"MessageSid": message_sid, "SmsMessageSid": message_sid, "AccountSid": ACCOUNT, "From": PERSON, "To": OURS,
            "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}
    reception = service.receive(parse_message(form))
    assert not reception.failed
    return "\n".join(output.text for output in reception.outputs)


def claims(service: Service, reply: str) -> bool:
    """Whether ``reply`` says, in any language of the catalog, that the copies are being deleted."""
    return any(service.content.text(COPIES_DELETED, code) in reply for code in service.content.catalog.locales)


# (first messages, the message that ends the conversation, its language)
ENDINGS = {
    "quick exit, English": (["hi", "1"], "EXIT", "en"),
    "quick exit, Spanish": (["hola", "2"], "salir", "es"),
    "not safe to talk, English": (["hi", "1"], "2", "en"),
}


@pytest.mark.parametrize("ending", ENDINGS, ids=list(ENDINGS))
@pytest.mark.parametrize("deletes", [True, False], ids=["twilio deletes", "sms receives only"])
def test_the_last_reply_says_copies_are_deleted_only_when_they_are(service, backend, ending, deletes):
    service.kept.deletes_copies = deletes  # as from_settings sets it with TWILIO_ACCOUNT_SID and a sender
    first, last, language = ENDINGS[ending]
    for n, body in enumerate(first, start=1):
        sms(service, body, n)
    reply = sms(service, last, len(first) + 1)
    expected = service.content.text(COPIES_DELETED, language)
    if deletes:
        assert reply.endswith(expected), reply
    else:
        assert not claims(service, reply), reply
        assert "being deleted" not in reply and "borran" not in reply


def test_telegram_never_claims_a_provider_deletes_its_copies(service, backend):
    service.kept.deletes_copies = True  # Twilio's: Telegram keeps no copies this service deletes
    reception = None
    for n, text in enumerate(["hi", "1", "EXIT"], start=1):
        reception = service.receive(Delivery("telegram", str(1000 + n), Inbound(Channel.TELEGRAM, "4242", text, message_ref=n)))
    assert not reception.failed and reception.queued
    reply = "\n".join(output.text for output in reception.outputs)
    assert "erase" in reply.lower() and not claims(service, reply), reply
