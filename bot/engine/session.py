"""A conversation's state: small, explicit, and all that is kept about a person (encrypted).

Stored: the flow and step, the language, whether they chose it, where ``@back`` returns, whether
the conversation is urgent or asked for a person, whether an advocate handed it back, what the
numbers of an offer of guesses mean, and when they last wrote. Nothing they typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

FORMAT_VERSION = 1


@dataclass(slots=True)
class Session:
    flow: str
    state: str
    language: str
    last_active: int  # unix seconds (UTC) of the last inbound message
    language_chosen: bool = False
    return_to: str | None = None
    urgent: bool = False
    advocate_requested: bool = False
    # The handoff's status as the service read it for this turn ("waiting", "held"), or None. The
    # handoffs table is the truth; the service sets this before every turn.
    handoff: str | None = None
    # What the numbers of the last reply meant when it offered guesses instead of the step's own
    # choices ("intent:need.wages", "choice:2", "menu"), and how many replies in a row were not
    # understood. Intent ids and counts only, never what was written.
    offered: list[str] | None = None
    misses: int = 0
    # An advocate handed the chat back to the bot since the person last wrote: their next message
    # gets what waited for them and the menu (nothing was sent when it happened, DESIGN rule 1).
    handed_back: bool = False

    def to_dict(self) -> dict:
        """A JSON-ready dict, e.g. ``{"v": 1, "flow": "main", "state": "main_menu", ...}``."""
        # By hand: dataclasses.asdict deep-copies, ten times slower on the hot path of every turn.
        return {"v": FORMAT_VERSION, **{name: getattr(self, name) for name in self.__slots__}}

    @classmethod
    def from_dict(cls, data: dict) -> Session:
        """Inverse of ``to_dict``; raises ``ValueError`` on a blob this version cannot read."""
        if data.get("v") != FORMAT_VERSION:
            raise ValueError(f"session format {data.get('v')!r} is not {FORMAT_VERSION}")
        fields = {k: v for k, v in data.items() if k != "v"}
        try:
            return cls(**fields)
        except TypeError as exc:
            raise ValueError(f"session fields do not match: {exc}") from None


def unix(moment: datetime) -> int:
    """Seconds since the epoch of an aware datetime (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())
