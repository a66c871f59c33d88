"""Understanding a reply: commands, choices and keywords, localized, in every language at once.

Text is compared as ``bot.understanding.words`` normalizes it (case, accents, look-alike letters
and repeated letters folded, punctuation as spaces), so ``Menú``, ``MENUUU`` and ``menu.`` are
one word. A person may answer in a language other than the one chosen, so
words of every language match; where two languages disagree, the session's language wins.

Indexes are built once per flow at start-up; matching a message is a few dict look-ups and one
substring scan per "contains" phrase.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.flowdef.model import Command, Flow, Step
from bot.i18n import Catalog
from bot.understanding.words import MAX_CONSIDERED, words
# A word picks a choice as the first word of a short reply ("yes please") only when it is this
# long: "y" (Spanish "and") or "en" must not say yes or pick English in "y qué pasa...".
MIN_FIRST_WORD = 3
MAX_WORDS_FOR_FIRST_WORD = 4
# "2", "#2", "2.", "2)", "2 please"; not "-1", "1.5" or "2nd" (those are re-prompted).
_CHOICE_NUMBER = re.compile(r"#?(\d{1,3})[.)]?(?:\s.*)?", re.DOTALL)


def normalize(text: str) -> str:
    """A reply as words are compared: ``"¡Sííí, por favor! 🙏"`` -> ``"si por favor"`` (emoji
    are words to understanding, "🆘", but never part of a choice or a command)."""
    return " ".join(w for w in words(text) if w.isalnum())


@dataclass(frozen=True, slots=True)
class Hit:
    """What matched, and the language of the word that matched (None for a number)."""

    index: int
    language: str | None


@dataclass(slots=True)  # a value, never changed; not frozen, which is slower to build per turn
class CommandHit:
    """A global command a reply triggered, and the language of the word that did (a reply of
    "SALIR" from a new number is answered in Spanish)."""

    command: Command
    language: str | None


class CommandIndex:
    """Global commands: exact (the whole message) and contains (a phrase anywhere)."""

    def __init__(self, flow: Flow, catalog: Catalog):
        self.commands = flow.commands
        self._order = {c.id: i for i, c in enumerate(flow.commands)}
        self._exact: dict[str, list[Hit]] = {}
        self._contains: list[tuple[str, Hit]] = []
        for i, command in enumerate(flow.commands):
            for language, words in catalog.words(command.match).items():
                for word in words:
                    phrase = normalize(word)
                    if not phrase:
                        continue
                    if command.contains:
                        self._contains.append((f" {phrase} ", Hit(i, language)))
                    else:
                        self._exact.setdefault(phrase, []).append(Hit(i, language))

    def find(self, text: str, language: str) -> CommandHit | None:
        """The first command, in flow order, that ``text`` (normalized) triggers: a command's
        words as the whole reply (variants such as "exit now" are listed in the locales, so
        "exit plan" is not a quick exit), or a "contains" phrase anywhere."""
        hits = list(self._exact.get(text, ()))
        padded = f" {text} "
        hits.extend(hit for phrase, hit in self._contains if phrase in padded)
        if not hits:
            return None
        best = min(hits, key=lambda h: (h.index, h.language != language))
        return CommandHit(self.commands[best.index], best.language)


class StepIndex:
    """One step's choices (by number, label or match word) and free-text routes."""

    def __init__(self, step: Step, catalog: Catalog):
        self.step = step
        self._words: dict[str, list[Hit]] = {}
        for i, choice in enumerate(step.choices):
            for language, data in catalog.locales.items():
                label = data.text.get(choice.label)
                if isinstance(label, str):
                    self._add(normalize(label), Hit(i, language))
            if choice.match:
                for language, words in catalog.words(choice.match).items():
                    for word in words:
                        self._add(normalize(word), Hit(i, language))
        self._routes = [
            (f" {normalize(word)} ", Hit(i, language))
            for i, route in enumerate(step.routes)
            for language, words in catalog.words(route.match).items()
            for word in words
            if normalize(word)
        ]

    def _add(self, phrase: str, hit: Hit) -> None:
        if phrase:
            self._words.setdefault(phrase, []).append(hit)

    @staticmethod
    def number(raw: str, count: int) -> int | None:
        """The 0-based index a numbered reply ("2", "#2", "2.") picks among ``count``, or None."""
        number = _CHOICE_NUMBER.fullmatch(unicodedata.normalize("NFKC", raw[:MAX_CONSIDERED]).strip())
        if number and 1 <= int(number.group(1)) <= count:
            return int(number.group(1)) - 1
        return None

    def choice(self, raw: str, text: str, language: str) -> Hit | None:
        """A choice picked by the reply: its number (from the ``raw`` reply, so "-1" is not 1),
        its label or a match word (in the normalized ``text``), as the whole reply or as the
        first word of a short one ("2 please", "yes thanks")."""
        number = _CHOICE_NUMBER.fullmatch(unicodedata.normalize("NFKC", raw[:MAX_CONSIDERED]).strip())
        if number:
            picked = int(number.group(1))
            return Hit(picked - 1, None) if 1 <= picked <= len(self.step.choices) else None
        if not text:
            return None
        candidates = [text]
        words = text.split(" ")
        if 1 < len(words) <= MAX_WORDS_FOR_FIRST_WORD and len(words[0]) >= MIN_FIRST_WORD:
            candidates.append(words[0])
        for candidate in candidates:
            hits = self._words.get(candidate)
            if hits:
                return min(hits, key=lambda h: (h.language != language, h.index))
        return None

    def route(self, text: str, language: str) -> Hit | None:
        """The first route whose words appear in ``text``."""
        padded = f" {text} "
        hits = [hit for phrase, hit in self._routes if phrase in padded]
        return min(hits, key=lambda h: (h.index, h.language != language)) if hits else None
