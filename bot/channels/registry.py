"""The one place that lists the channels: which adapters exist, built from the settings.

    adapters = build_adapters(settings)      # one per provider, configured or not
    by_channel(adapters)["telegram"]         # the adapter serving an outbox job's channel

A new channel is a folder under ``bot/channels/``, its settings, and a line here.
"""

from __future__ import annotations

from bot.channels.base import ChannelAdapter
from bot.channels.redaction import redact_secrets
from bot.channels.telegram import TelegramAdapter, TelegramSender
from bot.channels.terminal import TerminalAdapter
from bot.channels.twilio_sms import TwilioAdapter, TwilioSender
from bot.domain.messages import Channel

NOTICES_CHANNEL = Channel.TELEGRAM
"""Where the notices to the advocates' group go (``SAFEHARBOR_ADVOCATE_TELEGRAM_CHAT``)."""


def build_adapters(settings, *, senders: bool = True) -> tuple[ChannelAdapter, ...]:
    """Every channel's adapter for ``settings`` (a ``bot.config.Settings``): each verifies its
    webhooks with its secrets (refusing them all when unset) and, with ``senders``, can send
    when the settings allow it (without: what each channel does, for the service). Their
    secrets are hidden from every log from then on."""
    channels = settings.channels
    telegram_sender = None
    if senders and channels.telegram_sends:
        telegram_sender = TelegramSender(channels.telegram_bot_token, api_base_url=channels.telegram_api_base_url)
    twilio_senders = {}
    if senders and channels.twilio_sends:
        def twilio(prefix: str) -> TwilioSender:
            return TwilioSender(
                channels.twilio_account_sid,
                channels.twilio_auth_token,
                from_number=f"{prefix}{channels.twilio_from_number}" if channels.twilio_from_number else None,
                messaging_service_sid=None if channels.twilio_from_number else channels.twilio_messaging_service_sid,
                api_base_url=channels.twilio_api_base_url,
                status_callback=f"{channels.public_url}/webhooks/twilio/status" if channels.public_url else None,
            )

        twilio_senders = {Channel.SMS.value: twilio(""), Channel.WHATSAPP.value: twilio("whatsapp:")}
    adapters = (
        TwilioAdapter(
            senders=twilio_senders, auth_token=channels.twilio_auth_token, shared_key=channels.twilio_webhook_shared_key,
            public_url=channels.public_url, deletes=channels.twilio_sends,
        ),
        TelegramAdapter(telegram_sender, channels.telegram_webhook_secret, token=channels.telegram_bot_token),
        TerminalAdapter(),
    )
    redact_secrets(secret for adapter in adapters for secret in adapter.secrets)
    return adapters


def default_adapters() -> tuple[ChannelAdapter, ...]:
    """Adapters with nothing configured (no sender, every webhook refused): what a ``Service``
    built without settings asks about each channel's capabilities."""
    return (TwilioAdapter(deletes=False), TelegramAdapter(), TerminalAdapter())


def by_channel(adapters) -> dict[str, ChannelAdapter]:
    """``adapters`` by the ``Channel`` values they serve (an outbox job's ``channel``)."""
    return {channel.value: adapter for adapter in adapters for channel in adapter.channels}


def polling_adapter(adapters):
    """The adapter that can fetch updates instead of receiving webhooks (development), if any."""
    return next((adapter for adapter in adapters if hasattr(adapter, "poll")), None)
