"""Plain types shared by every layer: what comes in, what goes out, and what happened.

Nothing here does I/O or imports another part of safeharbor.
"""

from bot.domain.messages import (
    Channel,
    ChoiceView,
    Inbound,
    InboundKind,
    Outbound,
    Resource,
    hours_in,
    name_in,
    texts_in,
    render_plain,
)
from bot.domain.events import (
    ConversationEnded,
    ConversationErased,
    ConversationExpired,
    ConversationRestarted,
    EmergencyDetected,
    LinesDelivered,
    Event,
    HandoffRequested,
    LanguageChanged,
)
from bot.domain.problems import CATEGORIES, ContentInvalid, Problem
from bot.domain.sms import SmsCost, normalize_for_sms, prepare_sms, sms_cost

__all__ = [
    "CATEGORIES",
    "ContentInvalid",
    "Problem",
    "Channel",
    "ChoiceView",
    "ConversationEnded",
    "ConversationErased",
    "ConversationExpired",
    "ConversationRestarted",
    "EmergencyDetected",
    "LinesDelivered",
    "Event",
    "HandoffRequested",
    "Inbound",
    "InboundKind",
    "LanguageChanged",
    "Outbound",
    "Resource",
    "SmsCost",
    "hours_in",
    "name_in",
    "texts_in",
    "normalize_for_sms",
    "prepare_sms",
    "render_plain",
    "sms_cost",
]
