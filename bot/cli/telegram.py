"""``safeharbor telegram set-webhook``: register the bot's webhook with Telegram."""

from __future__ import annotations

from bot.config import ConfigError, Settings


def add_to(commands) -> None:
    telegram = commands.add_parser("telegram", help="Telegram bot setup").add_subparsers(dest="telegram_command", required=True, metavar="ACTION")
    telegram.add_parser(
        "set-webhook", help="register SAFEHARBOR_PUBLIC_URL/webhooks/telegram with TELEGRAM_WEBHOOK_SECRET"
    ).set_defaults(run=_telegram_set_webhook)


def _telegram_set_webhook(args) -> int:
    import asyncio

    from bot.channels.telegram import TelegramSender

    channels = Settings.from_env().channels
    missing = [
        name for name, value in (
            ("TELEGRAM_BOT_TOKEN", channels.telegram_bot_token),
            ("TELEGRAM_WEBHOOK_SECRET", channels.telegram_webhook_secret),
            ("SAFEHARBOR_PUBLIC_URL", channels.public_url),
        ) if not value
    ]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not set")

    async def register() -> None:
        sender = TelegramSender(channels.telegram_bot_token, api_base_url=channels.telegram_api_base_url)
        try:
            await sender.set_webhook(f"{channels.public_url}/webhooks/telegram", channels.telegram_webhook_secret)
        finally:
            await sender.close()

    asyncio.run(register())
    print(f"webhook set to {channels.public_url}/webhooks/telegram (with the secret token)")
    return 0
