"""The labelled message sets in ``testkit/understanding/`` and how understanding is scored on them.

``dev_<lang>.yaml`` is the development set (thresholds and data were tuned on it);
``heldout_<lang>.yaml`` was written apart and is only measured. Both hold ``intents`` (intent id
-> messages) and ``not_crisis`` (ordinary messages that must not get an emergency reply).
Used by ``tests/test_understanding.py`` (which holds the accuracy line) and ``bench/understanding.py``
(which reports it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.understanding import CRISIS, Understander

SETS = Path(__file__).parent / "understanding"
LANGUAGES = ("en", "es")
SPLITS = ("dev", "heldout")


@dataclass(frozen=True)
class Labelled:
    text: str
    intent: str  # "none": nothing to act on; the right answer is "unsure"
    language: str
    split: str


def labelled(split: str, language: str) -> list[Labelled]:
    data = yaml.safe_load((SETS / f"{split}_{language}.yaml").read_text(encoding="utf-8"))
    return [Labelled(text, intent, language, split) for intent, texts in data["intents"].items() for text in texts]


def not_crisis(split: str, language: str) -> list[str]:
    data = yaml.safe_load((SETS / f"{split}_{language}.yaml").read_text(encoding="utf-8"))
    return list(data["not_crisis"])


def is_right(understander: Understander, message: Labelled, session_language: str) -> bool:
    """Whether ``message`` is understood as labelled, read in a conversation in ``session_language``."""
    got = understander.understand(message.text, session_language).intent
    return got is None if message.intent == "none" else got == message.intent


@dataclass
class Score:
    right: int = 0
    total: int = 0
    missed: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def score(understander: Understander, messages: list[Labelled], session_language: str | None = None) -> dict[str, Score]:
    """Per intent, plus ``"all"``; each message read in ``session_language`` (default: its own)."""
    scores: dict[str, Score] = defaultdict(Score)
    for message in messages:
        language = session_language or message.language
        right = is_right(understander, message, language)
        for key in (message.intent, "all"):
            scores[key].total += 1
            scores[key].right += right
        if not right:
            scores[message.intent].missed.append((message.text, understander.understand(message.text, language).intent))
    return dict(scores)


def crisis_recall(understander: Understander, messages: list[Labelled], session_language: str | None = None) -> Score:
    """Crisis messages that get a crisis reply (either kind: both give 911)."""
    result = Score()
    for message in messages:
        if message.intent in CRISIS:
            got = understander.understand(message.text, session_language or message.language).intent
            result.total += 1
            result.right += got in CRISIS
            if got not in CRISIS:
                result.missed.append((message.text, got))
    return result


def false_alarms(understander: Understander, texts: list[str], language: str) -> Score:
    """``right`` counts the ordinary messages that WRONGLY got a crisis reply."""
    result = Score()
    for text in texts:
        got = understander.understand(text, language).intent
        result.total += 1
        if got in CRISIS:
            result.right += 1
            result.missed.append((text, got))
    return result
