"""Messages in and out of a conversation, independent of any channel, and their wire form (what
the outbox and a recorded webhook reply store of an ``Outbound``)."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field


class Channel(str, enum.Enum):
    """Where a person writes from. The value is part of their pseudonym, so never rename one."""

    SMS = "sms"
    WHATSAPP = "whatsapp"  # through Twilio, same adapter as SMS
    TELEGRAM = "telegram"
    TERMINAL = "terminal"


class InboundKind(str, enum.Enum):
    """What kind of thing arrived. Only ``TEXT`` is read; everything else gets a short answer."""

    TEXT = "text"
    MEDIA = "media"  # a photo, voice note, sticker, location... (never fetched, never kept)
    EDIT = "edit"  # an earlier message changed (Telegram): not a new reply
    OPT_OUT = "opt_out"  # a carrier opt-out word (STOP...): the carrier has blocked the number
    RESTART = "restart"  # SMS START / UNSTOP, Telegram /start: start over, as a first message


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from a person, as a channel adapter parsed it.

    ``address`` is how the channel reaches them (a phone number, a chat id). It is needed only to
    derive the pseudonym and to reply; it must never be logged or stored in plaintext.
    ``text`` is what they wrote (may be empty, e.g. a photo without a caption).
    ``language_hint`` is a channel's guess (Telegram's ``language_code``), never a decision.
    ``kind`` says whether there is text to read; ``message_ref`` lets a quick exit delete it.
    """

    channel: Channel
    address: str
    text: str
    language_hint: str | None = None
    kind: InboundKind = InboundKind.TEXT
    message_ref: int | str | None = None  # the provider's id of this message, where it can be deleted (Telegram's id, Twilio's SID)
    offer: str | None = None  # a pressed button's ``Outbound.offer``: which choices it answers

    def __repr__(self) -> str:  # keep addresses and bodies out of tracebacks and logs
        return f"Inbound(channel={self.channel.value!r}, text=<{len(self.text)} chars>)"


@dataclass(frozen=True, slots=True)
class ChoiceView:
    """A choice as the person sees it: its number on SMS, its button label on Telegram."""

    number: int
    label: str


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message to send: text, then the choices the person may pick from (possibly none)."""

    text: str
    choices: tuple[ChoiceView, ...] = field(default_factory=tuple)
    # An opaque tag of the step that offered these choices, for channels whose buttons stay on
    # screen (Telegram): a button pressed on an old message must not pick the current step's
    # choice of the same number. Short and meaningless to whoever reads it.
    offer: str | None = None

    def __repr__(self) -> str:
        return f"Outbound(text=<{len(self.text)} chars>, choices={len(self.choices)})"


def with_appended(outputs: tuple[Outbound, ...] | list[Outbound], extra: str) -> tuple[Outbound, ...]:
    """``outputs`` with ``extra`` added to the last message, after a blank line and above its
    choices (one message, one preview); ``extra`` alone when there is no message.

    >>> with_appended((Outbound("Done."),), "More.")[0].text
    'Done.\\n\\nMore.'
    """
    if not outputs:
        return (Outbound(extra),)
    *before, last = outputs
    return (*before, Outbound(f"{last.text}\n\n{extra}" if last.text else extra, last.choices, last.offer))


def encode_output(output: Outbound) -> dict:
    """``output`` as the outbox stores it (and a recorded webhook reply): JSON-ready."""
    return {"text": output.text, "choices": [[c.number, c.label] for c in output.choices], "offer": output.offer}


def decode_output(data: dict) -> Outbound:
    """The inverse of ``encode_output``; rows written before ``offer`` existed have none."""
    return Outbound(data["text"], tuple(ChoiceView(n, label) for n, label in data.get("choices", ())), data.get("offer"))


def encode_outputs(outputs: tuple[Outbound, ...] | list[Outbound]) -> bytes:
    """A webhook's replies as recorded with its delivery (answered again to a redelivery)."""
    return json.dumps([encode_output(o) for o in outputs]).encode()


def decode_outputs(blob: bytes) -> tuple[Outbound, ...]:
    return tuple(decode_output(item) for item in json.loads(blob))


def send_payload(
    to: str, output: Outbound, *, after_exit: bool | None = None, alphabet: str | None = None, quiet: bool = False, notice: bool = False,
) -> dict:
    """An outbox ``send`` job's payload: ``to`` (the address; ``ChannelAdapter.send`` reads it
    back with ``decode_output``), the message (``encode_output``), and what the adapter may
    need besides: ``after_exit`` (the line after a quick exit: not kept for deletion),
    ``alphabet`` (the language's SMS alphabet), ``quiet`` (not an answer to anything the person
    just wrote: no sound where the channel can), ``notice`` (to the advocates' group, not a
    person). The keys keep this order (the payloads already queued were written so)."""
    payload: dict = {"to": to} if after_exit is None else {"to": to, "after_exit": after_exit}
    payload.update(encode_output(output))
    if alphabet is not None:
        payload["alphabet"] = alphabet
    if quiet:
        payload["quiet"] = True
    if notice:
        payload["notice"] = True
    return payload


@dataclass(frozen=True, slots=True)
class Resource:
    """An entry of the resource directory (an organization and how to reach it).

    Contact fields are empty strings when they do not apply. ``name`` is the name as published
    (in the file's default form); ``name_translated`` holds ``(language, name)`` pairs when the
    file gives it per language (use ``name_in``). ``text_languages`` are the languages the text
    line answers in when they differ from ``languages`` (empty: the same). ``audiences`` limit an
    entry to people who ask as one of them (e.g. ``("youth",)``); empty: anyone.
    """

    id: str
    name: str
    categories: tuple[str, ...]
    languages: tuple[str, ...]
    region: str
    area: str
    phone: str = ""
    text: str = ""
    text_keyword: str = ""
    web: str = ""
    hours: str = ""  # "24/7", or opening hours as published (one language)
    hours_translated: tuple[tuple[str, str], ...] = ()  # (language, hours) when the file gives them per language
    interpreters: bool = False
    source: str = ""
    checked: str = ""
    name_translated: tuple[tuple[str, str], ...] = ()
    text_languages: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()


def hours_in(resource: Resource, language: str, default: str) -> str:
    """The resource's opening hours in ``language``, else in ``default``, else as published."""
    translated = dict(resource.hours_translated)
    return translated.get(language) or translated.get(default) or resource.hours


def name_in(resource: Resource, language: str, default: str) -> str:
    """The resource's name in ``language``, else in ``default``, else as published."""
    translated = dict(resource.name_translated)
    return translated.get(language) or translated.get(default) or resource.name


def texts_in(resource: Resource, language: str) -> bool:
    """Whether the resource's text line answers in ``language`` (True when it names none)."""
    served = resource.text_languages or resource.languages
    return not served or language in served


def render_plain(message: Outbound) -> str:
    """The message as SMS and the terminal show it: the text, then one numbered line per choice.

    >>> render_plain(Outbound("Hello.", (ChoiceView(1, "English"), ChoiceView(2, "Español"))))
    'Hello.\\n1 English\\n2 Español'
    """
    if not message.choices:
        return message.text
    lines = [message.text] if message.text else []
    lines.extend(f"{choice.number} {choice.label}" for choice in message.choices)
    return "\n".join(lines)
