"""The languages' understanding data (``locales/understanding/<code>.yaml``, schema-checked by
``bot.i18n``) compiled for ``Understander``: phrases with their words normalized as messages are,
examples, filler words, the abbreviations every language shares, a stemmer per language, and the
word weights that tell which language a message is written in. Runs once per content load."""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field

import snowballstemmer

from bot.understanding.examples import Example
from bot.understanding.labels import EXIT, GREETING
from bot.understanding.phrases import Phrase
from bot.understanding.words import words


@dataclass
class Data:
    """The compiled data of every language."""

    filler: set[str] = field(default_factory=set)
    intent_filler: dict[str, set[str]] = field(default_factory=dict)
    anywhere: list[Phrase] = field(default_factory=list)  # crisis and need phrases
    alone: list[Phrase] = field(default_factory=list)  # phrases that must be the whole message
    greetings: list[Phrase] = field(default_factory=list)
    not_crisis: list[Phrase] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)


# Snowball's algorithm for each language it has, by code (Babel's English names would load a
# megabyte of CLDR data to say the same).
SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "eu": "basque", "fa": "persian", "fi": "finnish",
    "fr": "french", "ga": "irish", "hi": "hindi", "hu": "hungarian", "hy": "armenian",
    "id": "indonesian", "it": "italian", "lt": "lithuanian", "ne": "nepali", "nl": "dutch",
    "no": "norwegian", "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian",
    "sr": "serbian", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}


class _ThreadStemmer:
    """A Snowball stemmer per thread: turns run in a thread pool, and a stemmer must not be
    called from two threads at once (PyStemmer says so; the pure-Python one returns wrong stems)."""

    def __init__(self, algorithm: str):
        self.algorithm = algorithm
        self._local = threading.local()

    def stemWord(self, word: str) -> str:  # noqa: N802 (the library's name)
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            stemmer = self._local.stemmer = snowballstemmer.stemmer(self.algorithm)
        return stemmer.stemWord(word)


def stemmer_for(code: str) -> _ThreadStemmer | None:
    """Snowball's stemmer for a language code ("es-MX" uses Spanish's), or None."""
    name = SNOWBALL.get(code.split("-")[0])
    return _ThreadStemmer(name) if name in snowballstemmer.algorithms() else None


def phrase_words(written: str, abbreviations: dict[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """A phrase's words, normalized as messages are, keeping a trailing ``*`` (a prefix: any word
    that starts so) or ``!`` (this word exactly: "danger!" is not "dangerous")."""
    if "*" not in written and "!" not in written:
        return words(written, abbreviations)
    found: list[str] = []
    for piece in written.split():
        mark = piece[-1] if piece[-1] in "*!" else ""
        normalized = words(piece.rstrip("*!"), None if mark else abbreviations)
        if mark and normalized:
            normalized = (*normalized[:-1], normalized[-1] + mark)
        found.extend(normalized)
    return tuple(found)


def _data_words(source: dict) -> set[str]:
    """Every word a language's phrases and examples use, as written (before abbreviations)."""
    texts = [*source.get("greetings", ()), *source.get("not_crisis", ())]
    for intent in source.get("intents", {}).values():
        texts.extend((*intent.get("phrases", ()), *intent.get("alone", ()), *intent.get("examples", ())))
    return {w for text in texts for w in words(text)}


def shared_abbreviations(sources: dict[str, dict]) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Every language's abbreviations, applied to every message (a person may write in any
    language), and those left out with why: a short form that is a word of another language's
    data ("ya" is not "you" in Spanish), or that two languages expand differently."""
    vocabulary = {code: _data_words(source) for code, source in sources.items()}
    shared: dict[str, tuple[str, ...]] = {}
    dropped: dict[str, str] = {}
    for code, source in sources.items():
        others = set().union(*(v for c, v in vocabulary.items() if c != code))
        for short_written, long_written in source.get("abbreviations", {}).items():
            short, long = words(short_written), words(long_written)
            if len(short) != 1 or not long:
                dropped[short_written] = f"{code}: {short_written!r} is not one word"
                continue
            if short[0] in others:
                dropped[short[0]] = f"{code}: {short_written!r} is a word of another language's data"
            elif short[0] in shared and shared[short[0]] != long:
                dropped[short[0]] = f"{code}: {short_written!r} is expanded differently by another language"
            shared.setdefault(short[0], long)
    return {k: v for k, v in shared.items() if k not in dropped}, dropped


def compile_language(code: str, data: dict, abbreviations: dict[str, tuple[str, ...]], into: Data) -> None:
    """One language's data (already schema-checked by the catalog) into ``into``."""

    def phrase(label: str, written: str) -> Phrase:
        found = phrase_words(written, abbreviations)
        # digits and emoji belong to no language: "911" must not switch a conversation's language
        neutral = all(not any(ch.isalpha() for ch in w) for w in found)
        return Phrase(label, found, written, None if neutral else code)

    into.filler.update(w for item in data.get("filler", ()) for w in words(item))
    into.greetings.extend(phrase(GREETING, g) for g in data.get("greetings", ()))
    into.not_crisis.extend(phrase("not_crisis", p) for p in data.get("not_crisis", ()))
    for label, intent in data.get("intents", {}).items():
        into.anywhere.extend(phrase(label, p) for p in intent.get("phrases", ()))
        into.alone.extend(phrase(label, p) for p in intent.get("alone", ()))
        into.intent_filler.setdefault(label, set()).update(w for item in intent.get("filler", ()) for w in words(item))
        if label != EXIT:
            into.examples.extend(Example(label, code, words(e, abbreviations)) for e in intent.get("examples", ()))


def language_weights(
    text_words: dict[str, list[tuple[str, ...]]], data: Data
) -> tuple[tuple[str, ...], dict[str, tuple[float, ...]], tuple[float, ...]]:
    """For telling what a message is written in: the languages, each word's log-likelihood in
    each of them (add-one smoothing) and an unseen word's, from how often each language uses each
    word in its texts (``text_words``), its phrases and its examples."""
    counts: dict[str, Counter[str]] = {code: Counter() for code in text_words}
    for code, found in text_words.items():
        for ws in found:
            counts[code].update(ws)
    for item in (*data.anywhere, *data.examples):
        if item.language:
            counts[item.language].update(item.words)
    vocabulary = set().union(*counts.values())
    denominators = [sum(c.values()) + len(vocabulary) for c in counts.values()]
    weights = {
        word: tuple(math.log((c.get(word, 0) + 1) / d) for c, d in zip(counts.values(), denominators))
        for word in vocabulary
    }
    return tuple(counts), weights, tuple(math.log(1 / d) for d in denominators)
