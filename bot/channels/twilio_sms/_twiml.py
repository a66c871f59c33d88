"""Replies as TwiML, the answer to the incoming-message webhook."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from xml.sax.saxutils import escape, quoteattr

from bot.domain.messages import Outbound, render_plain
from bot.domain.sms import prepare_sms

# Characters XML 1.0 cannot carry at all, even escaped; ElementTree would write them as they are
# and Twilio would reject the whole document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def sms_body(output: Outbound, alphabet: str = "gsm7") -> str:
    """The text of one SMS: numbered choices on their own lines, typographic characters replaced
    and, for a ``gsm7`` language, accents outside GSM-7 folded; nothing XML cannot carry."""
    return _prepared(render_plain(output), alphabet)


def _prepared(plain: str, alphabet: str) -> str:
    return _NOT_XML.sub("", prepare_sms(plain, alphabet))


# The bot's own replies are a few hundred distinct texts (steps, re-prompts, resource lists):
# prepared once each. Only ``twiml`` uses this, and only for the engine's texts: a reply that
# carries an advocate's words (lines that waited for the person) is prepared uncached, or they
# would stay in this process's memory after the person's quick exit.
_prepared_reply = lru_cache(maxsize=1024)(_prepared)


def twiml(outputs: Sequence[Outbound], alphabet: str = "gsm7", status_url: str | None = None, cached: bool = True) -> str:
    """The TwiML document answering one inbound message: one ``<Message>`` per output, in order.

    Each body is ``sms_body(output, alphabet)``, cached unless ``cached`` is False (pass False
    whenever an output holds words someone wrote, not only the engine's texts). Outputs that
    render empty are left out (Twilio refuses an empty ``<Message>``); no output at all gives an
    empty ``<Response />``, which sends nothing.

    ``status_url``: the public URL of ``/webhooks/twilio/status``, set as each ``<Message>``'s
    ``action``: Twilio then posts that message's status callbacks there (``MessageSid``, ``To``,
    ``MessageStatus``), which is the only way to learn the SID of a reply sent by TwiML, and so to
    delete it at Twilio later.

    >>> from bot.domain.messages import ChoiceView
    >>> twiml([Outbound("¿Estás bien?", (ChoiceView(1, "Sí"),))])
    '<?xml version="1.0" encoding="UTF-8"?><Response><Message>¿Estas bien?\\n1 Si</Message></Response>'
    >>> twiml([Outbound("Hi")], status_url="https://sh.example.org/webhooks/twilio/status")
    '<?xml version="1.0" encoding="UTF-8"?><Response><Message action="https://sh.example.org/webhooks/twilio/status">Hi</Message></Response>'
    """
    # Written directly rather than through twilio's MessagingResponse (ElementTree): the document
    # is always this one shape, and building it by tree cost a fifth of a webhook's time in the
    # event loop. tests/test_twiml.py checks it parses to what MessagingResponse would write.
    opening = f"<Message action={quoteattr(status_url)}>" if status_url else "<Message>"
    prepare = _prepared_reply if cached else _prepared
    messages = "".join(
        f"{opening}{escape(body)}</Message>" for body in (prepare(render_plain(output), alphabet) for output in outputs) if body.strip()
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{messages}</Response>' if messages else _EMPTY


_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response />'
