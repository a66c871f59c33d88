"""From a message to an intent: crisis and quick exit first, then what the person needs.

    understander = Understander(catalog)            # once per content revision, at start-up
    result = understander.understand("no me pagan", "en")
    # Understanding(intent='need.wages', language='es', confidence=1.0, why="phrase 'no me pagan'")

The data is per language in ``locales/understanding/<code>.yaml`` (see ``UNDERSTANDING_SCHEMA``
in ``bot.i18n``); every language's data is used at once, since a person may write in a language
other than the one chosen, and the result says which language matched. In order:

1. **Quick exit** (``exit``): the message is one of its phrases and filler words only ("I want to
   exit", "borra todo", "gotta go, delete this chat"); a sentence that merely contains "exit" is
   not one.
2. **Crisis** (``crisis.self_harm``, then ``crisis.danger``): a crisis phrase anywhere, unless a
   ``not_crisis`` phrase (an exact run of words) covers it ("not in danger", "dying to know"); or a
   danger phrase that is
   the whole message ("help me"). Deterministic, so every crisis reply can be explained.
3. **Help** alone ("help", "ayuda") and a greeting alone.
4. **Needs**: a leading greeting is set aside ("hola necesito ayuda con mi jefe"); a need's key
   phrase wins ("my boss has my passport"); otherwise the nearest examples decide, if similar
   enough (``ACCEPT``). Below that, ``intent`` is None and ``guesses`` holds the best one to
   three needs for a reply that offers them.

Pure: no I/O, no clock; the same text and language always give the same answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from bot.i18n import Catalog
from bot.understanding.data import Data, compile_language, language_weights, phrase_words, shared_abbreviations, stemmer_for
from bot.understanding.examples import Example, NearestExamples
from bot.understanding.labels import (
    CRISIS, DANGER, DETERMINISTIC, EXIT, GREETING, HELP, NONE, NOT_GUESSED, NOT_NEEDS, SELF_HARM,
)
from bot.understanding.phrases import Match, PhraseIndex
from bot.understanding.words import words

__all__ = [
    "CRISIS", "DANGER", "DETERMINISTIC", "EXIT", "GREETING", "HELP", "NONE", "NOTHING", "NOT_GUESSED", "NOT_NEEDS",
    "SELF_HARM", "Understander", "Understanding", "phrase_words", "shared_abbreviations",
]


# Cosine similarity to the nearest example at or above which a need is taken as understood, and
# the least a need needs to be offered as a guess. Tuned on testkit/understanding/dev_*.yaml.
ACCEPT = 0.40
# A crisis example this similar gives the crisis reply though no crisis phrase matched: a false
# alarm costs little, a missed crisis everything.
CRISIS_ACCEPT = 0.35
MIN_WORDS_FOR_CRISIS_EXAMPLE = 3
# ... and when no other intent's example is more than this much closer ("help me find a lawyer
# please" is nearer a request for a lawyer than any crisis).
CRISIS_MARGIN = 0.03
GUESS = 0.18
MAX_GUESSES = 3


@dataclass(frozen=True, slots=True)
class Understanding:
    """What a message was understood as.

    ``intent``: an intent id ("crisis.danger", "need.wages", "exit", "greeting"...), or None when
    unsure. ``language``: the language whose data matched, or None. ``guesses``: when unsure, the
    needs it most resembles, best first. ``why``: a short explanation for logs and tests; it
    quotes the data, never the message.
    """

    intent: str | None
    language: str | None = None
    confidence: float = 0.0
    guesses: tuple[str, ...] = ()
    why: str = ""
    # After ``Understander.first``: what ``Understander.need`` continues from (not compared).
    reading: _Reading | None = field(default=None, repr=False, compare=False)

    @property
    def crisis(self) -> bool:
        return self.intent in CRISIS


NOTHING = Understanding(None)


@dataclass(frozen=True, slots=True)
class _Reading:
    """The part of understanding a message that ``need`` reuses from ``first``."""

    tokens: tuple[str, ...]  # after the greetings it opens with
    written_in: str | None  # the language the words are clearly in
    content: int  # how many of them are not filler words


class Understander:
    """All languages' understanding data, compiled once; ``understand`` is pure and thread-safe."""

    def __init__(self, catalog: Catalog):
        self.default = catalog.default
        sources = {code: locale.understanding or {} for code, locale in catalog.locales.items()}
        self.abbreviations, _ = shared_abbreviations(sources)
        data = Data()
        for code, source in sources.items():
            compile_language(code, source, self.abbreviations, data)
        self._filler = frozenset(data.filler)
        # The words set aside around whole-message phrases, and the labels that set aside each
        # set: the languages' filler, plus an intent's own ("gotta go" around a quick exit).
        ignored: dict[frozenset[str], set[str]] = {}
        for label in {p.label for p in data.alone}:
            ignored.setdefault(self._filler | frozenset(data.intent_filler.get(label, ())), set()).add(label)
        self._ignored = tuple((words, frozenset(labels)) for words, labels in ignored.items())
        # Words of the service's own texts are spelled right: a message word among them is taken
        # as written, never as a typo of a phrase word.
        text_words = {code: [words(t) for value in locale.text.values() for t in (value.values() if isinstance(value, dict) else (value,))] for code, locale in catalog.locales.items()}
        known = frozenset(w for found in text_words.values() for ws in found for w in ws if w.isalpha())
        stemmers = {code: stemmer for code, locale in catalog.locales.items() if (stemmer := stemmer_for(code))}
        self._anywhere = PhraseIndex(data.anywhere, stemmers, known)
        # Whole-message phrases are short and exact: no stems ("helpful" is not "help"). A quick-
        # exit phrase is also kept without its filler words ("delete this chat" as "delete chat"),
        # as a message is compared both ways; a crisis or help phrase is not ("help please" must
        # not become "help", which is the help text).
        alone = list(data.alone)
        for phrase in data.alone:
            if phrase.label == EXIT:
                ignored = next(words for words, labels in self._ignored if EXIT in labels)
                core = tuple(w for w in phrase.words if w not in ignored)
                if core and core != phrase.words:
                    alone.append(replace(phrase, words=core))
        self._alone = PhraseIndex(alone, {}, known)
        self._greetings = PhraseIndex(data.greetings, {}, known, typos=False)  # "bueno" is no "buenos"
        # Cancelling phrases are exact runs of words: a looser match would silence a real crisis.
        self._not_crisis = PhraseIndex(data.not_crisis, stemmers, known, max_gap=0)
        self._examples = NearestExamples(data.examples)
        # For telling what a message is written in: each word's weight in each language.
        self._languages, self._word_weights, self._unseen_weights = language_weights(text_words, data)

    def words(self, text: str) -> tuple[str, ...]:
        """``text`` as the words it is understood by, abbreviations expanded."""
        return words(text, self.abbreviations)

    def understand(self, text: str, language: str) -> Understanding:
        """What ``text``, written in a conversation in ``language``, asks for."""
        return self.need(self.first(text, language), language)

    def first(self, text: str, language: str) -> Understanding:
        """What wins before a step's own choices are read: the quick exit, a crisis, help or a
        greeting alone. Otherwise ``intent`` is None, and ``need`` reads the rest."""
        tokens = self.words(text)
        if not tokens:
            return NOTHING
        if all(t.isdigit() for t in tokens):  # "2", "3 4": a choice, unless it is "911" or "9 1 1"
            crisis = [m for m in self._anywhere.find(tokens) if m.phrase.label in CRISIS]
            return _pick(crisis, crisis[0].phrase.label, language) if crisis else NOTHING
        written_in = self._language(tokens)
        return self._in(self._first(tokens, language, written_in), tokens, written_in)

    def need(self, first: Understanding, language: str) -> Understanding:
        """What a message that ``first`` found nothing urgent in needs (or ``first`` itself)."""
        reading = first.reading
        if first.intent is not None or reading is None:
            return first
        ranked = self._examples.scores(reading.tokens)
        # A sentence close to a crisis example is a crisis, though no phrase caught it (read
        # here, after the step's own choices, so that a choice's label is never one); a word or
        # two ("help", "sí, por favor") is too little to be sure of, and phrases cover those.
        if reading.content >= MIN_WORDS_FOR_CRISIS_EXAMPLE:
            crisis = [(score, example) for score, example in ranked if example.label in CRISIS]
            if crisis and crisis[0][0] >= max(CRISIS_ACCEPT, ranked[0][0] - CRISIS_MARGIN):
                return self._in(_nearest(*crisis[0]), reading.tokens, reading.written_in)
        phrases = [m for m in self._anywhere.find(reading.tokens, _only(reading.written_in)) if m.phrase.label not in NOT_NEEDS]
        return self._in(self._need(ranked, phrases, language), reading.tokens, reading.written_in)

    def _in(self, understood: Understanding, tokens: tuple[str, ...], written_in: str | None) -> Understanding:
        """``understood`` in the language its words are clearly written in, if there is one; when
        the data could not say (a phrase both languages list) and the words are not clear either,
        the likelier language, however slightly."""
        if understood.intent is None:
            return understood
        if written_in is None and understood.language is None:
            written_in = self._language(tokens, margin=0.0)
        if written_in and written_in != understood.language:
            return replace(understood, language=written_in)
        return understood

    def _language(self, tokens: tuple[str, ...], margin: float = math.log(2)) -> str | None:
        """The language the words are most likely written in (how often each is used in that
        language's texts and data, smoothed), or None when no language is twice as likely as the
        next (or by ``margin``): "no me pagan" is Spanish, though an English example quotes it;
        "911" is neither."""
        if len(self._languages) < 2 or not any(t.isalpha() for t in tokens):
            return None  # "911", "🆘": of no language
        totals = [0.0] * len(self._languages)
        for token in tokens:
            for i, weight in enumerate(self._word_weights.get(token, self._unseen_weights)):
                totals[i] += weight
        ranked = sorted(zip(totals, self._languages), reverse=True)
        return ranked[0][1] if ranked[0][0] - ranked[1][0] > margin else None

    def _first(self, tokens: tuple[str, ...], language: str, written_in: str | None) -> Understanding:
        """``written_in``: the language the words are in, when it is clear; words are stemmed in
        it alone (the English "here" must not be read as a Spanish stem)."""
        alone = self._whole(tokens)
        if found := _pick(alone.get(EXIT, []), EXIT, language):
            return found
        anywhere = self._anywhere.find(tokens, _only(written_in))
        crisis = [m for m in anywhere if m.phrase.label in CRISIS]
        if crisis:
            cancelling = self._not_crisis.find(tokens, _only(written_in))
            crisis = [m for m in crisis if not any(c.covers(m) for c in cancelling)]
        crisis += alone.get(DANGER, []) + alone.get(SELF_HARM, [])
        if crisis:
            # The phrase matched most as written wins ("me quiere matar" is a threat, though by
            # stem it is also "me quiero matar"); on a tie, thoughts of suicide (988 and 911).
            best = max(crisis, key=lambda m: (m.exact / len(m.phrase.words), m.exact, m.phrase.label == SELF_HARM))
            return _pick([m for m in crisis if m.exact == best.exact], best.phrase.label, language)
        if found := _pick(alone.get(HELP, []), HELP, language):
            return found
        start = _after_greetings(self._greetings, tokens)
        rest = tokens[start:]
        content = [t for t in rest if t not in self._filler]
        if not content:  # a greeting and nothing else
            greeting = _pick(self._greetings.find(tokens), GREETING, language) if start else None
            return greeting or NOTHING
        if not any(ch.isalpha() for t in rest for ch in t):
            return NOTHING  # numbers, emoji: nothing to read a need from (a choice, or a slip)
        return Understanding(None, reading=_Reading(rest, written_in, len(content)))

    def _whole(self, tokens: tuple[str, ...]) -> dict[str, list[Match]]:
        """Label -> its ``alone`` phrases that are the whole message as written ("ayuda ya"), or
        once filler words (the languages' and the intent's own) are set aside ("help me
        please"); for the quick exit, repeats too ("delete delete")."""
        found: dict[str, list[Match]] = {}
        for match in self._alone.whole(tokens):
            found.setdefault(match.phrase.label, []).append(match)
        for ignored, labels in self._ignored:
            core = tuple(t for t in tokens if t not in ignored and t.isalnum())  # emoji set aside too
            if EXIT in labels:
                core = tuple(t for i, t in enumerate(core) if i == 0 or t != core[i - 1])
            if core and core != tokens:
                for match in self._alone.whole(core):
                    if match.phrase.label in labels:
                        found.setdefault(match.phrase.label, []).append(match)
        return found

    def _need(self, ranked: list[tuple[float, Example]], phrases: list[Match], language: str) -> Understanding:
        """A need from its key phrases, or else from the nearest examples (``ranked``)."""
        if phrases:
            similarity = {example.label: score for score, example in ranked}
            best = max(phrases, key=lambda m: (similarity.get(m.phrase.label, 0.0), -m.start))
            return _pick(phrases, best.phrase.label, language)
        needs = [(score, example) for score, example in ranked if example.label not in CRISIS]
        if needs:
            score, example = needs[0]
            if score >= ACCEPT and example.label not in NOT_NEEDS:
                return _nearest(score, example)
        # a crisis example near enough to guess is offered too ("I'm in danger now")
        guesses = tuple(e.label for s, e in ranked if s >= GUESS and e.label not in NOT_GUESSED)[:MAX_GUESSES]
        return Understanding(None, needs[0][1].language if needs else None, needs[0][0] if needs else 0.0, guesses, "unsure")


def _only(language: str | None) -> frozenset[str] | None:
    """The languages to stem a message in: the one it is clearly written in, else every one."""
    return frozenset((language,)) if language else None


def _nearest(score: float, example: Example) -> Understanding:
    return Understanding(example.label, example.language, score, why=f"nearest example {' '.join(example.words)!r} ({score:.2f})")


def _pick(matches: list[Match], label: str, language: str) -> Understanding | None:
    """The understanding of ``label`` if a match has it, by a phrase of ``language`` if one is
    (a phrase both languages have, "911", must not switch the conversation's language)."""
    found = [m for m in matches if m.phrase.label == label]
    if not found:
        return None
    phrase = min(found, key=lambda m: (m.phrase.language not in (language, None), m.start)).phrase
    languages = {m.phrase.language for m in found} - {None}
    # a phrase both languages list ("auxilio" is in the English data too) says nothing of the
    # language: None, and the caller asks the words
    written = next(iter(languages)) if len(languages) == 1 else None
    return Understanding(label, written, 1.0, why=f"phrase {phrase.written!r}")


def _after_greetings(greetings: PhraseIndex, tokens: tuple[str, ...]) -> int:
    """The index of the first word after the greetings the message opens with."""
    position = 0
    while True:
        following = [m.end for m in greetings.find(tokens[position:]) if m.start == 0]
        if not following:
            return position
        position += max(following)
