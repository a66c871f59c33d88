"""Running the background work beside the web app, or alone (``safeharbor worker``).

``Background`` builds the outbox worker with the senders of the configured channels and, when
asked, polls Telegram for updates (development without a public URL: ``serve --telegram-polling``).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.channels.base import BadPayload
from bot.config import ConfigError, Settings
from bot.service import Service
from bot.worker import Worker

log = logging.getLogger("safeharbor.runtime")


def build_senders(settings: Settings) -> dict[str, object]:
    """The senders of the channels that have credentials."""
    channels = settings.channels
    senders: dict[str, object] = {}
    if channels.telegram_sends:
        from bot.channels.telegram import TelegramSender

        senders["telegram"] = TelegramSender(channels.telegram_bot_token, api_base_url=channels.telegram_api_base_url)
    if channels.twilio_sends:
        from bot.channels.twilio_sms import TwilioSender

        def twilio(prefix: str) -> TwilioSender:
            return TwilioSender(
                channels.twilio_account_sid,
                channels.twilio_auth_token,
                from_number=f"{prefix}{channels.twilio_from_number}" if channels.twilio_from_number else None,
                messaging_service_sid=None if channels.twilio_from_number else channels.twilio_messaging_service_sid,
                api_base_url=channels.twilio_api_base_url,
                status_callback=f"{channels.public_url}/webhooks/twilio/status" if channels.public_url else None,
            )

        senders["sms"], senders["whatsapp"] = twilio(""), twilio("whatsapp:")
    return senders


class Background:
    def __init__(self, service: Service, settings: Settings, *, telegram_polling: bool = False, poll: float = 1.0):
        if telegram_polling and not settings.channels.telegram_sends:
            raise ConfigError("--telegram-polling needs TELEGRAM_BOT_TOKEN")
        if telegram_polling and settings.env == "production":
            raise ConfigError("--telegram-polling removes the bot's webhook; it is for development, not production")
        self.service = service
        self.senders = build_senders(settings)
        self.worker = Worker(service, service.store.outbox(), self.senders)
        self.telegram_polling = telegram_polling
        self.poll = poll
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self.service.on_enqueued = self.worker.nudge
        self._tasks.append(asyncio.create_task(self.worker.run(self._stop, self.poll), name="outbox"))
        if self.telegram_polling:
            self._tasks.append(asyncio.create_task(self._poll_telegram(self.senders["telegram"]), name="telegram-polling"))

    async def stop(self) -> None:
        self._stop.set()
        self.service.on_enqueued = None
        for task in self._tasks:
            if task.get_name() == "telegram-polling":
                task.cancel()  # a long poll would otherwise hold the shutdown for its timeout
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for sender in self.senders.values():
            close = getattr(sender, "close", None)
            if close is not None and asyncio.iscoroutinefunction(close):
                await close()

    async def _poll_telegram(self, sender) -> None:
        """Development without a public URL: fetch updates instead of receiving webhooks."""
        from bot.channels import telegram

        offset: int | None = None
        webhook_removed = False
        log.warning("polling Telegram for updates (development mode; use a webhook in production)")
        while not self._stop.is_set():
            try:
                if not webhook_removed:
                    await sender.delete_webhook()  # Telegram refuses getUpdates while a webhook is set
                    webhook_removed = True
                updates = await sender.get_updates(offset, timeout=25)
            except Exception as exc:  # noqa: BLE001
                log.error("telegram polling failed: %s", type(exc).__name__)
                await asyncio.sleep(3)
                continue
            for update in updates:
                offset = max(offset or 0, int(update.get("update_id", 0)) + 1)
                try:
                    delivery = telegram.parse_update(update)
                except BadPayload:
                    continue
                reception = await asyncio.to_thread(self.service.receive, delivery)
                if reception.outputs and not reception.queued and delivery.inbound is not None:
                    try:  # as the webhook does: the 24/7 line when the turn failed, the answer past a limit
                        await sender.send_message(telegram.render(reception.outputs[0], delivery.inbound.address))
                    except Exception as exc:  # noqa: BLE001
                        log.error("telegram fallback failed: %s", type(exc).__name__)


async def run_worker(service: Service, settings: Settings) -> None:
    """``safeharbor worker``: the background work alone, until SIGTERM or SIGINT (a host stopping
    the process sends SIGTERM: the message being sent finishes and is recorded first)."""
    background = Background(service, settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await background.start()
    try:
        await stopping.wait()
    finally:
        await background.stop()
