"""The registry is the one list of channels, and what the rest of safeharbor relies on holds:
every ``Channel`` has one adapter, the web app serves exactly the webhooks DESIGN names, and
every adapter's secrets are redacted from any log record, whichever library writes it."""

from __future__ import annotations

import logging

from bot.channels.base import Sent
from bot.channels.registry import build_adapters, by_channel
from bot.config import Settings, generate_keys
from bot.domain.messages import Channel
from bot.service import Service
from bot.web import create_app

TOKEN = "8f3c2b1a9d7e6f5a4b3c2d1e0f9a8b7c"
BOT_TOKEN = "123456789:AAH-the-bot-token-of-this-test-xyz"
SECRET = "the-webhook-secret-of-this-test"


def settings_for(tmp_path) -> Settings:
    return Settings.from_env({
        "SAFEHARBOR_ENV": "test", "SAFEHARBOR_HOME": str(tmp_path / "home"), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite",
        "SAFEHARBOR_PUBLIC_URL": "https://sh.example.org", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM_NUMBER": "+14155550100", "TELEGRAM_BOT_TOKEN": BOT_TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET, **generate_keys(),
    })


def test_every_channel_has_exactly_one_adapter(tmp_path):
    adapters = build_adapters(settings_for(tmp_path))
    served = [channel for adapter in adapters for channel in adapter.channels]
    assert sorted(served) == sorted(Channel)  # each once
    assert set(by_channel(adapters)) == {channel.value for channel in Channel}


def test_the_app_mounts_exactly_the_public_webhooks(tmp_path):
    from bot.service import upgrade_database

    settings = settings_for(tmp_path)
    upgrade_database(settings, progress=lambda line: None)
    service = Service.from_settings(settings)
    try:
        app = create_app(service, settings, background=False)
        assert sorted(app._webhooks) == [
            "/webhooks/telegram", "/webhooks/twilio/fallback", "/webhooks/twilio/sms", "/webhooks/twilio/status",
        ]
    finally:
        service.close()


def test_every_adapters_secrets_are_redacted_from_any_logger(tmp_path, caplog):
    build_adapters(settings_for(tmp_path))
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").info("HTTP Request: POST %s", f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage")
    logging.getLogger("urllib3.connectionpool").warning("auth %s", TOKEN)
    logging.getLogger("safeharbor.anything").warning(f"a message that quotes {SECRET} in its text")
    text = caplog.text
    assert BOT_TOKEN not in text and TOKEN not in text and SECRET not in text
    assert "bot<token>/sendMessage" in text and "auth <redacted>" in text  # what happened is still said


def test_a_send_result_never_shows_its_ids():
    sent = Sent(provider_ref="SM" + "a" * 32, deletable_id="SM" + "a" * 32)
    assert "SM" not in repr(sent) and "aaaa" not in repr(sent)
