"""Nearest examples: which intent's example messages a message is most like.

Each example and each message becomes a TF-IDF vector of character 3-grams (inside word
boundaries, so "pasaport" and "passport" share most of theirs and a typo costs a few n-grams,
not the word) plus whole words; similarity is the cosine. An intent's score is its best
example's similarity, so one close example is enough and no intent needs many. Trained at load
time from the data in ``locales/understanding/`` in a few hundred milliseconds; nothing is
downloaded and nothing is kept but the index.

Why not scikit-learn: importing it (with SciPy) adds about 90 MB to a process whose budget is
150 MB; this index is a few MB and answers in a fraction of a millisecond.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

N_GRAM_SIZES = (3,)
# Features found in more than this share of the examples (" th", "my ", "=i") say little about
# the intent and make most of the work: they are left out of the index and of every vector.
MAX_DOCUMENT_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class Example:
    label: Hashable
    language: str
    words: tuple[str, ...]


def features(words: tuple[str, ...]) -> Counter[str]:
    """Character n-grams of each word padded with spaces, and the words themselves (``=word``)."""
    counts: Counter[str] = Counter()
    for word in words:
        counts["=" + word] += 1
        padded = f" {word} "
        for size in N_GRAM_SIZES:
            for i in range(len(padded) - size + 1):
                counts[padded[i : i + size]] += 1
    return counts


class NearestExamples:
    """An inverted index of example vectors; ``scores`` is pure and thread-safe."""

    def __init__(self, examples: Iterable[Example]):
        self.examples = tuple(e for e in examples if e.words)
        counted = [features(e.words) for e in self.examples]
        document_frequency: Counter[str] = Counter()
        for counts in counted:
            document_frequency.update(counts.keys())
        total = len(self.examples)
        common = max(2, int(MAX_DOCUMENT_SHARE * total))
        self._idf = {f: math.log((1 + total) / (1 + df)) + 1 for f, df in document_frequency.items() if df <= common}
        postings: dict[str, tuple[array, array]] = defaultdict(lambda: (array("I"), array("f")))
        for index, counts in enumerate(counted):
            for feature, weight in self._weigh(counts).items():
                indexes, weights = postings[feature]
                indexes.append(index)
                weights.append(weight)
        # Typed arrays: a posting costs 8 bytes, not the 80 of a tuple of an int and a float.
        self._postings = dict(postings)

    def _weigh(self, counts: Counter[str]) -> dict[str, float]:
        """Sublinear TF times IDF, L2-normalized; features unknown to the index are dropped."""
        weighted = {}
        for feature, count in counts.items():
            idf = self._idf.get(feature)
            if idf is not None:
                weighted[feature] = (1 + math.log(count)) * idf
        norm = math.sqrt(sum(w * w for w in weighted.values())) or 1.0
        return {f: w / norm for f, w in weighted.items()}

    def similarities(self, words: tuple[str, ...]) -> dict[int, float]:
        """Example index -> cosine similarity, for examples sharing any feature with ``words``."""
        scores: dict[int, float] = defaultdict(float)
        postings = self._postings
        for feature, weight in self._weigh(features(words)).items():
            indexes, weights = postings[feature]
            for index, example_weight in zip(indexes, weights):
                scores[index] += weight * example_weight
        return scores

    def scores(self, words: tuple[str, ...]) -> list[tuple[float, Example]]:
        """Each label's best example and its similarity, best first."""
        best: dict[Hashable, tuple[float, Example]] = {}
        for index, score in self.similarities(words).items():
            example = self.examples[index]
            if example.label not in best or score > best[example.label][0]:
                best[example.label] = (score, example)
        return sorted(best.values(), key=lambda pair: -pair[0])
