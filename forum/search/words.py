"""Word forms, spelling corrections and the words that say nothing, shared by both backends.

Stems come from the Snowball English stemmer (PyStemmer), the algorithm PostgreSQL's
``english`` configuration uses, so both backends find the same word forms: ``deploy``,
``deploying``, ``deployed`` and ``deployments`` all become ``deploy``. (Whoosh's own Porter
stemmer gave ``deploi`` for the first three and ``deploy`` for the last.)
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache

import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

_LOCAL = threading.local()

#: Words that say nothing about a question's subject: stop words, question words and the
#: verbs and pronouns every question is phrased with. Left out of similar-question lookups.
FUNCTION_WORDS = frozenset(
    """
    a about above after again all also am an and any anybody anyone anything are as at be
    because been before being best better between both but by can cannot could did do does
    doing done each else even ever every few for from get gets getting got had has have
    having he her here hers him his how however i if in into is isn it its itself just let
    like make many may me might more most much must my myself need needs never no nor not
    now of off on once one only or other our ours out over own please possible right same
    shall she should so some someone something still such than thank thanks that the their
    them then there these they thing things this those through to too try trying under
    until up us use used using very via want wants was way ways we well were what whats
    when where whether which while who whom whose why will with within without work
    working works would yet you your yours
    """.split()
)


def _stemmer() -> Stemmer.Stemmer:
    # A PyStemmer object is not safe to share between threads: one per thread.
    stemmer: Stemmer.Stemmer | None = getattr(_LOCAL, "stemmer", None)
    if stemmer is None:
        stemmer = _LOCAL.stemmer = Stemmer.Stemmer("english")
    return stemmer


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """The Snowball English stem of a lower-case ``word``."""
    return str(_stemmer().stemWord(word))


_CONTENT = re.compile(r"[^\W_]+", re.UNICODE)


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry its subject, lower case, in order, without repeats:
    no function words, no single letters and no numbers alone."""
    out: dict[str, None] = {}
    for match in _CONTENT.finditer(text.lower()):
        word = match.group(0)
        if len(word) < 2 or word.isdigit() or word in FUNCTION_WORDS:
            continue
        out.setdefault(word, None)
    return list(out)


def max_edits(word: str) -> int:
    """Edits allowed between a word and its correction: 1 up to 4 letters, else 2."""
    return 1 if len(word) <= 4 else 2


def distance(a: str, b: str, limit: int = 2) -> int:
    """Damerau-Levenshtein distance (a swap of neighbours is one edit), ``limit + 1`` beyond."""
    return int(DamerauLevenshtein.distance(a, b, score_cutoff=limit))


def within(word: str, vocabulary: Sequence[str]) -> list[str]:
    """The words of ``vocabulary`` within ``max_edits`` of ``word`` (compared in C)."""
    if not vocabulary:
        return []
    found = process.extract(
        word,
        vocabulary,
        scorer=DamerauLevenshtein.distance,
        score_cutoff=max_edits(word),
        limit=None,
    )
    return [str(match[0]) for match in found]


def best_correction(
    word: str, candidates: Iterable[str], frequency: Callable[[Sequence[str]], Mapping[str, int]]
) -> str | None:
    """The best correction of the unknown ``word`` among ``candidates``.

    Candidates start with the word's first letter and lie within ``max_edits`` of it; the
    closest and most used wins: each edit costs as much as a word 7 times as frequent gains
    (score ``ln(1 + documents) - 2 * edits``). ``frequency`` tells in how many documents each
    candidate is found; those found in none are dropped.
    """
    limit = max_edits(word)
    close: dict[str, int] = {}
    for candidate in candidates:
        if candidate == word or not candidate or candidate[0] != word[0]:
            continue
        if abs(len(candidate) - len(word)) > limit:
            continue
        edits = distance(word, candidate, limit)
        if edits <= limit:
            close[candidate] = edits
    if not close:
        return None
    counts = frequency(list(close))
    scored = [
        (math.log1p(n) - 2.0 * close[candidate], -close[candidate], candidate)
        for candidate, n in counts.items()
        if n > 0 and candidate in close
    ]
    if not scored:
        return None
    scored.sort(key=lambda s: (-s[0], -s[1], s[2]))
    return scored[0][2]


def correctable(word: str) -> bool:
    """Whether ``word`` is worth correcting: three letters or more, letters only, and not a
    word that says nothing (stop words are not indexed, so they are never "known")."""
    return len(word) >= 3 and word.isalpha() and word not in FUNCTION_WORDS


#: Content words of a typed title looked up for similar posts.
MAX_SIMILAR_WORDS = 16
