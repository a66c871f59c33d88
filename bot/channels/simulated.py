"""The studio's "Try it" as each channel would see it: a person's message as that channel's own
parser reads it, and a reply as that channel renders it, without any provider, address or send
(``bot.service.simulator`` runs the conversation; it names no channel itself).

    simulated_inbound("sms", "hola", "es", 0)         # an Inbound, parsed from a made-up Twilio form
    simulated_inbound("telegram", {"button": "choice:2:s0"}, "es", 3)   # a pressed inline button
    shown("sms", output, "gsm7")                      # {"text", "encoding", "characters", "segments"}
    shown("telegram", output, "gsm7")                 # {"text", "buttons": [{"text", "data"}]}
"""

from __future__ import annotations

from dataclasses import replace

from bot.channels.telegram import parse_update, render as telegram_render
from bot.channels.twilio_sms import parse_message, sms_body
from bot.domain.messages import Inbound, Outbound
from bot.domain.sms import sms_cost

SIMULATED = ("sms", "telegram")
# Made-up addresses: they only have to parse; nothing is ever sent to them.
_PHONE = "+15005550006"
_CHAT = 100000001


class SimulatedMessageError(ValueError):
    """A message the channel could not carry (e.g. a button press over SMS)."""


def simulated_inbound(channel: str, message, language: str, number: int) -> Inbound | None:
    """Message ``number`` (0-based) as ``channel``'s parser reads it; None when a turn would read
    nothing. ``message``: text, or on Telegram ``{"button": callback_data}``."""
    if isinstance(message, dict) and channel == "telegram" and isinstance(message.get("button"), str):
        update = {"update_id": number + 1, "callback_query": {
            "id": f"sim{number}", "chat_instance": "0", "data": message["button"][:64],
            "from": {"id": _CHAT, "is_bot": False, "first_name": "A", "language_code": language},
            "message": {"message_id": number + 1, "date": 0, "chat": {"id": _CHAT, "type": "private"}},
        }}
        return parse_update(update).inbound
    if not isinstance(message, str):
        raise SimulatedMessageError(f"message {number + 1}: text, or on Telegram {{\"button\": data}}")
    if channel == "telegram":
        update = {"update_id": number + 1, "message": {
            "message_id": number + 1, "date": 0, "text": message,
            "from": {"id": _CHAT, "is_bot": False, "first_name": "A", "language_code": language},
            "chat": {"id": _CHAT, "type": "private"},
        }}
        return parse_update(update).inbound
    form = [("MessageSid", f"SM{number:032x}"), ("From", _PHONE), ("Body", message), ("NumMedia", "0")]
    inbound = parse_message(form).inbound
    # SMS carries no language; the chosen one is the hint (as ``safeharbor chat --lang``).
    return replace(inbound, language_hint=language) if inbound is not None else None


def shown(channel: str, output: Outbound, alphabet: str) -> dict:
    """``output`` as ``channel`` shows it: on SMS the body as sent with its cost, on Telegram
    the text and the inline buttons."""
    if channel == "sms":
        body = sms_body(output, alphabet)
        cost = sms_cost(body)
        return {"text": body, "encoding": cost.encoding, "characters": cost.units, "segments": cost.segments}
    params = telegram_render(output, str(_CHAT))
    keyboard = params.get("reply_markup", {}).get("inline_keyboard", [])
    return {"text": params["text"], "buttons": [{"text": b["text"], "data": b["callback_data"]} for row in keyboard for b in row]}
