"""The database goes away under a running service, for real (a proxy in front of PostgreSQL is
cut), and comes back: people still get the static safety message with the 24/7 line, the log
says what failed without anything personal, and the service recovers by itself."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import httpx
import pytest
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from bot.config import Settings, generate_keys
from bot.service import Service
from bot.web import create_app
from testkit.databases import POSTGRES_URL
from tests.conftest import REPO
from tests.faults import CuttableProxy
from tests.serving import free_port, serving

TOKEN = "0123456789abcdef0123456789abcdef"
SECRET = "faults-secret_1"
PHONE = "+14155550142"
CHAT_ID = 512300871


pytestmark = pytest.mark.postgresql_only  # a server to cut away; SQLite is a file inside the process


@pytest.fixture
def cuttable(tmp_path, database_url):
    target = make_url(POSTGRES_URL)
    proxy = CuttableProxy((target.host or "127.0.0.1", target.port or 5432))
    proxy.restore()
    proxied = database_url.replace(f"{target.host}:{target.port or 5432}", f"127.0.0.1:{proxy.port}", 1)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path), "SAFEHARBOR_CONTENT_DIR": str(REPO),
        "DATABASE_URL": proxied, "SAFEHARBOR_PUBLIC_URL": base, "TWILIO_AUTH_TOKEN": TOKEN,
        "TELEGRAM_BOT_TOKEN": "123:fake", "TELEGRAM_WEBHOOK_SECRET": SECRET, **generate_keys(),
    })
    service = Service.from_settings(settings)
    with serving(create_app(service, settings, background=False), port) as url, httpx.Client(base_url=url, timeout=20) as client:
        client.proxy = proxy
        yield client
    proxy.cut()
    service.close()


def sms(client, body: str, sid: str, path: str = "/webhooks/twilio/sms") -> tuple[int, list[str]]:
    url = f"{client.base_url}{path}"
    fields = {"MessageSid": sid, "AccountSid": "AC" + "3" * 32, "From": PHONE, "To": "+14155550100", "Body": body, "NumMedia": "0"}
    response = client.post(path, data=fields, headers={"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, fields)})
    texts = [m.text or "" for m in ET.fromstring(response.text).iter("Message")] if response.status_code == 200 else []
    return response.status_code, texts


def telegram(client, text: str, update_id: int) -> httpx.Response:
    update = {"update_id": update_id, "message": {"message_id": update_id, "date": 0, "text": text,
              "chat": {"id": CHAT_ID, "type": "private"}, "from": {"id": CHAT_ID, "is_bot": False, "first_name": "K"}}}
    return client.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})


def test_database_down_during_webhooks_then_back(cuttable, caplog):
    caplog.set_level(logging.INFO)
    status, texts = sms(cuttable, "hi", "SM" + "1" * 32)
    assert status == 200 and texts[0].startswith("Hi, thanks for writing.")
    assert cuttable.get("/healthz").status_code == 200

    cuttable.proxy.cut()
    status, texts = sms(cuttable, "1", "SM" + "2" * 32)
    assert status == 200
    (fallback,) = texts
    assert "1-888-373-7888" in fallback and "233733" in fallback  # the 24/7 line, in TwiML
    answer = telegram(cuttable, "hola", 900001)
    assert answer.status_code == 200 and answer.json()["method"] == "sendMessage" and "1-888-373-7888" in answer.json()["text"]
    assert cuttable.get("/healthz").status_code == 503
    assert "failed: OperationalError" in caplog.text
    assert PHONE not in caplog.text and PHONE[1:] not in caplog.text and str(CHAT_ID) not in caplog.text

    # Twilio's fallback URL answers the same without any database.
    status, texts = sms(cuttable, "1", "SM" + "3" * 32, path="/webhooks/twilio/fallback")
    assert status == 200 and "1-888-373-7888" in texts[0]

    cuttable.proxy.restore()
    status, texts = sms(cuttable, "hi", "SM" + "4" * 32)
    assert status == 200 and texts[0].startswith("Hi, thanks for writing.")  # recovered, by itself
    assert cuttable.get("/healthz").status_code == 200


def test_the_fallback_url_is_verified_like_the_webhook(cuttable):
    fields = {"MessageSid": "SM" + "5" * 32, "From": PHONE, "Body": "hi"}
    forged = cuttable.post("/webhooks/twilio/fallback", data=fields, headers={"X-Twilio-Signature": "forged"})
    assert forged.status_code == 403
