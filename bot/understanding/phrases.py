"""Key phrases found in a message's words: deterministic, typo-tolerant and explainable.

A phrase is words, compared after ``words()`` normalization and by stem ("kill me" is in "he is
killing me"; "matar" in "me quiere matarme"). It matches when its words appear in
the message in order with at most ``MAX_GAP`` other words between two of them ("kill me" is in
"he is going to kill me"; "want to die" in "i just want to really die"). A word ending in ``*``
is a prefix ("suicid*" matches "suicidal", "suicidarme"); one ending in ``!`` matches only itself
("danger!" is not "dangerous"). Words of 5 to 7 letters also match with
one typo, 9 or more with two (``rapidfuzz``'s optimal-string-alignment distance, which counts a
swap of two letters as one): "lawer" is "lawyer", "pasporte" is "pasaporte"; shorter words must
be exact, so "kill" never matches "fill" and "die" never "did". A typo is never taken in the
first letter (people rarely miss it; "fever" must not be "never"), and a message word that is
itself a correctly spelled word of the service's texts is taken as written.

Every match says which phrase, as written in the data, and where: a reply can always be
explained ("crisis.danger: 'kill me' at words 4-5").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from rapidfuzz import process
from rapidfuzz.distance import OSA

MAX_GAP = 2


class Stemmer(Protocol):
    """What is used of a Snowball stemmer (``snowballstemmer.stemmer("english")``)."""

    def stemWord(self, word: str) -> str: ...  # noqa: N802 (the library's name)


def allowed_typos(word: str) -> int:
    """How many edits a data word of this length may differ by."""
    return 0 if len(word) < 5 else 1 if len(word) < 9 else 2


@dataclass(frozen=True, slots=True)
class Phrase:
    """One phrase of the data: its label (an intent id), its words, and how it was written."""

    label: Hashable
    words: tuple[str, ...]
    written: str
    language: str | None  # None: digits or emoji only, of no language


@dataclass(frozen=True, slots=True)
class Match:
    phrase: Phrase
    start: int  # index of the first matched word
    end: int  # index after the last matched word
    exact: int = 0  # how many of the phrase's words are in the message as written (not by stem or typo)

    def covers(self, other: Match) -> bool:
        return self.start <= other.start and other.end <= self.end


class PhraseIndex:
    """Phrases, indexed by their words, built once; ``find`` is pure and thread-safe.

    Words are compared by key: ``s:``, a language and a word's stem (Snowball, in the phrase's
    language, so
    "kill" matches "killing" and "killed", "matar" matches "matarme"), ``p:`` and a prefix for a
    ``*`` word, ``w:`` and the word itself for digits and emoji. A message word, whose language
    is not known, stands for its stems in every language.
    """

    def __init__(
        self,
        phrases: Iterable[Phrase],
        stemmers: Mapping[str, Stemmer] | None = None,
        known: frozenset[str] = frozenset(),
        max_gap: int = MAX_GAP,
        typos: bool = True,
    ):
        self._max_gap = max_gap
        self._typos = typos
        self._stemmers = dict(stemmers or {})
        self._known = known
        self.phrases = tuple(p for p in phrases if p.words)
        # first key -> (phrase, its keys, the set of them): a phrase is only tried where every
        # one of its words is somewhere in the message
        self._by_first: dict[str, list[tuple[Phrase, tuple[str, ...], frozenset[str]]]] = {}
        self._stems: set[str] = set()
        by_word: dict[str, set[str]] = {}  # a data word -> its keys
        keyed = [(phrase, tuple(self._key(word, phrase.language) for word in phrase.words)) for phrase in self.phrases]
        for phrase, keys in keyed:
            self._by_first.setdefault(keys[0], []).append((phrase, keys, frozenset(keys)))
        # ``find`` reaches a phrase through its rarest word ("kill" rather than "i" in "i want to
        # kill myself"): a message's common words then bring up few phrases to try.
        uses = Counter(key for _, keys in keyed for key in set(keys))
        self._by_rarest: dict[str, list[tuple[Phrase, tuple[str, ...], frozenset[str]]]] = {}
        for phrase, keys in keyed:
            self._by_rarest.setdefault(min(keys, key=lambda k: (uses[k], k)), []).append((phrase, keys, frozenset(keys)))
            for word, key in zip(phrase.words, keys):
                if word.endswith("*"):
                    self._stems.add(word[:-1])
                elif not word.endswith("!"):
                    by_word.setdefault(word, set()).add(key)
        self._word_keys = {word: frozenset(keys) for word, keys in by_word.items()}
        self._fuzzy = sorted(w for w in by_word if allowed_typos(w)) if typos else []
        self._stem_lengths = sorted({len(s) for s in self._stems})
        # The same few thousand words come again and again ("my", "boss", "help"): each is
        # resolved against the data once.
        self._resolve_cached = lru_cache(maxsize=4096)(self._resolve)

    def resolve(self, word: str, languages: frozenset[str] | None = None) -> frozenset[str]:
        """The keys a message word stands for (see ``_resolve``), stemmed in ``languages`` only
        when given (the languages the message is written in), else in every language."""
        return self._resolve_cached(word, languages)

    def _key(self, word: str, language: str | None) -> str:
        if word.endswith("*"):
            return "p:" + word[:-1]
        if word.endswith("!"):
            return "w:" + word[:-1]
        stemmer = self._stemmers.get(language) if language else None
        return f"s:{language}:{stemmer.stemWord(word)}" if stemmer else "w:" + word

    def _resolve(self, word: str, languages: frozenset[str] | None) -> frozenset[str]:
        """The keys a message word stands for: a data word's own keys if it is one, and its stem
        in each language, but only where the stem is shorter than the word: an inflection
        ("killing" -> "kill"). A word that is its own stem stands for nothing else, so the
        English "her" is not the stem of the Spanish "herirme"."""
        found = {"w:" + word, *self._word_keys.get(word, ())}
        for language, stemmer in self._stemmers.items():
            if languages is not None and language not in languages:
                continue
            stem = stemmer.stemWord(word)
            if len(stem) < len(word):
                found.add(f"s:{language}:{stem}")
        for length in self._stem_lengths:
            if length > len(word):
                break
            if word[:length] in self._stems:
                found.add("p:" + word[:length])
        if len(word) >= 4 and self._fuzzy and word not in self._known:
            for candidate, distance, _ in process.extract(word, self._fuzzy, scorer=OSA.distance, score_cutoff=2, limit=None):
                if distance <= allowed_typos(candidate) and candidate[0] == word[0]:
                    found.update(self._word_keys[candidate])
        return frozenset(found)

    def find(self, tokens: tuple[str, ...], languages: frozenset[str] | None = None) -> list[Match]:
        """Every phrase found in ``tokens``, leftmost first (one match per phrase and start)."""
        resolved = [self.resolve(t, languages) for t in tokens]
        present = frozenset().union(*resolved)
        candidates = [
            entry for key in present for entry in self._by_rarest.get(key, ()) if entry[2] <= present
        ]
        found = []
        for phrase, phrase_keys, _ in candidates:
            for start, keys in enumerate(resolved):
                if phrase_keys[0] in keys:
                    end = _rest(phrase_keys, resolved, start + 1, self._max_gap)
                    if end is not None:
                        span = tokens[start:end]
                        found.append(Match(phrase, start, end, sum(w in span for w in phrase.words)))
        found.sort(key=lambda m: m.start)
        return found

    def whole(self, tokens: tuple[str, ...]) -> list[Match]:
        """Phrases that are all of ``tokens``, word for word (no gaps)."""
        resolved = [self.resolve(t) for t in tokens]
        return [
            Match(phrase, 0, len(tokens), sum(w in tokens for w in phrase.words))
            for key in (resolved[0] if resolved else ())
            for phrase, keys, _ in self._by_first.get(key, ())
            if len(keys) == len(tokens) and all(k in r for k, r in zip(keys, resolved))
        ]


def _rest(keys: tuple[str, ...], resolved: list[frozenset[str]], position: int, max_gap: int) -> int | None:
    """Where the phrase ends if ``keys[1:]`` follow in order from ``position``, else None."""
    for key in keys[1:]:
        for index in range(position, min(position + max_gap + 1, len(resolved))):
            if key in resolved[index]:
                position = index + 1
                break
        else:
            return None
    return position
