"""The terminal channel: a conversation in a shell, for trying flows and for scripts.

Interactive (stdin is a TTY): a prompt, and each reply printed as SMS would show it (numbered
choices, and exactly the characters SMS sends: accents folded for a GSM-7 language). Scripted (stdin is not a TTY): one inbound message per line, each reply printed
followed by a blank line, so a transcript can be compared as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TextIO

from bot.domain.messages import Channel, Inbound, Outbound, render_plain
from bot.domain.sms import prepare_sms

PROMPT = "> "


def render(message: Outbound, style: str = "sms", alphabet: str = "gsm7") -> str:
    """``sms``: the body SMS sends (numbered choices, ``prepare_sms`` for the language's
    ``alphabet``: "¿Que te gustaria saber?"); ``telegram``: the text as written, then the choices as
    buttons ``[1 English] [2 Español]``."""
    if style == "telegram":
        buttons = " ".join(f"[{c.number} {c.label}]" for c in message.choices)
        return f"{message.text}\n{buttons}" if buttons else message.text
    return prepare_sms(render_plain(message), alphabet)


def lines_from(stream) -> Iterable[str]:
    """Lines of ``stream`` without their line ending; bytes that are not UTF-8 become U+FFFD."""
    source = getattr(stream, "buffer", None)
    if source is None:
        for line in stream:
            yield line.rstrip("\r\n")
        return
    for raw in source:
        yield raw.decode("utf-8", "replace").rstrip("\r\n")


def run_chat(
    handle: Callable[[Inbound], tuple[list[Outbound], str]],
    address: str,
    stdin: TextIO,
    stdout: TextIO,
    *,
    interactive: bool,
    language: str | None = None,
    style: str = "sms",
) -> int:
    """Feed lines to ``handle`` until end of input; returns the exit code (0). ``handle`` gives
    the replies and the SMS alphabet of the language they are in."""
    if interactive:
        stdout.write("safeharbor chat: write a message (Ctrl-D to leave; EXIT erases the conversation)\n")
        stdout.write(PROMPT)
        stdout.flush()
    for line in lines_from(stdin):
        replies, alphabet = handle(Inbound(Channel.TERMINAL, address, line, language_hint=language))
        for reply in replies:
            stdout.write(render(reply, style, alphabet) + "\n")
        stdout.write("\n" if not interactive else "\n" + PROMPT)
        stdout.flush()
    if interactive:
        stdout.write("\n")
    return 0


class TerminalAdapter:
    """The terminal as a ``ChannelAdapter``: no webhook, nothing sent later, nothing kept."""

    name = "terminal"
    channels = (Channel.TERMINAL,)
    queued = False
    deletes_chat = False
    keeps_copies = False
    paced = False
    secrets: tuple[str, ...] = ()
    sends = False

    def webhooks(self, desk) -> dict:
        return {}

    async def send(self, job):
        from bot.channels.base import SendError

        raise SendError("the terminal sends nothing later", permanent=True)

    @staticmethod
    def pace(job) -> None:
        return None

    def remember_sent(self, channel_state: dict, message_id, now) -> None:
        return None

    def keep_until(self, channel_state: dict) -> None:
        return None

    async def close(self) -> None:
        return None
