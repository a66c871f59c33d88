"""``safeharbor chat``: hold a conversation in the terminal, through the whole service."""

from __future__ import annotations

import sys

from bot.config import Settings

DEFAULT_CHAT_ADDRESS = "local"


def add_to(commands) -> None:
    chat = commands.add_parser("chat", help="hold a conversation in the terminal")
    chat.add_argument("--lang", metavar="CODE", help="language hint, e.g. es (the person still chooses)")
    chat.add_argument(
        "--from", dest="address", metavar="ADDRESS", default=DEFAULT_CHAT_ADDRESS,
        help="who is writing; the same address continues the same conversation",
    )
    chat.add_argument("--channel", choices=("sms", "telegram"), default="sms", help="show replies as this channel would")
    chat.set_defaults(run=_chat)


def _chat(args) -> int:
    from bot.channels.terminal import run_chat
    from bot.service import Service

    service = Service.from_settings(Settings.from_env())
    catalog = service.content.catalog

    def reply_to(inbound):
        """The replies and the SMS alphabet of their language, so ``--channel sms`` prints the
        body SMS sends. Like ``Service.handle``, never raises for anything a person can type."""
        try:
            turn = service.run_turn(inbound)
        except Exception as exc:  # noqa: BLE001 - the person must get an answer whatever failed
            print(f"safeharbor chat: the turn failed ({type(exc).__name__})", file=sys.stderr)
            return [service.fallback], catalog.locales[catalog.default].sms_alphabet
        # after a quick exit nothing is kept, not even the language: its one reply is in the
        # language it was written in, whose alphabet the default's stands for (both GSM-7 here)
        language = turn.session.language if turn.session else catalog.default
        return list(turn.outputs), catalog.locales[catalog.resolve(language) or catalog.default].sms_alphabet

    try:
        service.purge_expired()
        return run_chat(
            reply_to, args.address, sys.stdin, sys.stdout,
            interactive=sys.stdin.isatty(), language=args.lang, style=args.channel,
        )
    finally:
        service.close()
