"""The Whoosh index's schema: its fields, their analysis and what a document puts in them.

Both the backend (searching, incremental writes) and full builds (whoosh_build) use it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from whoosh.analysis import CompositeAnalyzer, StemmingAnalyzer, Token
from whoosh.fields import BOOLEAN, DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from forum.search.documents import SearchDoc
from forum.search.words import stem as english_stem

#: Bump when the schema or the analysis changes: an index with another version is rebuilt.
#: (8: the analyzer's class moved here, and an index's pickled schema names its module.
#: 9: Snowball English stems, as PostgreSQL's; stemmed tag words; body words for spelling.)
SCHEMA_VERSION = 9
INDEX_NAME = "forum"
#: The stemmed text fields a query word is looked for in.
TEXT_FIELDS = ("title", "body", "thread")
#: The stemmed words of a post's tags: ``deploy`` finds a post tagged ``deployment``.
TAG_WORDS = "tag_words"
#: Characters of a body kept for snippets: highlighting never re-reads a long text.
EXCERPT_CHARS = 2_000
#: Distinct raw words whose analysis is remembered.
ANALYSIS_CACHE = 100_000


_DEFAULT_PATTERN = StemmingAnalyzer().items[0].expression
# The dot is required between runs: an optional one made the runs ambiguous (backtracking).
_WORDS = re.compile(r"[\w\*]+(?:\.[\w\*]+)*", _DEFAULT_PATTERN.flags)


def unchanged(word: str) -> str:
    """A stemming function that keeps the word as it is (for the spelling vocabulary)."""
    return word


class FastStemmingAnalyzer(CompositeAnalyzer):  # type: ignore[misc]
    """Whoosh's StemmingAnalyzer (regex, lowercase, stop words, a stemmer) in one generator.

    Tokens and positions are the same as the chain's; each distinct raw word is lowered,
    checked against the stop list and stemmed once, then remembered. Calls asking for what
    the fast path does not produce (characters, kept stop words, no tokenizing) go through
    the original chain.
    """

    def __init__(self, **options: Any) -> None:
        options.setdefault("stemfn", english_stem)
        chain = StemmingAnalyzer(**options)
        CompositeAnalyzer.__init__(self, *chain.items)
        self._setup()

    def _setup(self) -> None:
        tokenizer, _lower, stop, stemmer = self.items
        expression = tokenizer.expression
        self._finditer = expression.finditer
        self._findall: Callable[[str], list[str]]
        if expression.pattern == _DEFAULT_PATTERN.pattern:
            # The same matches without the capturing group: findall then returns them.
            self._findall = _WORDS.findall
        else:
            self._findall = lambda text: [m.group(0) for m in expression.finditer(text)]
        stops, minsize, maxsize = stop.stops, stop.min, stop.max
        ignore, stemfn = stemmer.ignore, stemmer.stemfn

        @lru_cache(maxsize=ANALYSIS_CACHE)
        def analysed(raw: str) -> str | None:
            text = raw.lower()
            if len(text) < minsize or (maxsize is not None and len(text) > maxsize):
                return None
            if text in stops:
                return None
            return text if text in ignore else str(stemfn(text))

        self._analysed = analysed

    def __getstate__(self) -> dict[str, Any]:
        local = ("_finditer", "_findall", "_analysed")
        return {k: v for k, v in self.__dict__.items() if k not in local}

    def words(self, value: str) -> tuple[int, list[str]]:
        """The indexed words of ``value`` and the position of the first (the next follow on)."""
        analysed = list(map(self._analysed, self._findall(value)))
        kept = [w for w in analysed if w is not None]
        if not kept:
            return 0, kept
        first = 0
        while analysed[first] is None:
            first += 1
        return first, kept

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setup()

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        no_morph: bool = False,
        **kwargs: Any,
    ) -> Iterator[Token]:
        """Tokens of ``value``, as the StemmingAnalyzer chain yields them."""
        if chars or keeporiginal or not removestops or not tokenize or no_morph:
            return CompositeAnalyzer.__call__(  # type: ignore[no-any-return]
                self,
                value,
                positions=positions,
                chars=chars,
                keeporiginal=keeporiginal,
                removestops=removestops,
                start_pos=start_pos,
                start_char=start_char,
                tokenize=tokenize,
                mode=mode,
                no_morph=no_morph,
                **kwargs,
            )
        return self._tokens(value, positions, start_pos, mode, kwargs)

    def _tokens(
        self, value: str, positions: bool, start_pos: int, mode: str, kwargs: dict[str, Any]
    ) -> Iterator[Token]:
        assert isinstance(value, str), f"{value!r} is not unicode"
        analysed = self._analysed
        t = Token(positions, False, removestops=True, mode=mode, **kwargs)
        t.boost = 1.0
        t.stopped = False
        # The stop filter keeps the first kept word's position and numbers the rest on.
        pos: int | None = None
        for n, match in enumerate(self._finditer(value)):
            text = analysed(match.group(0))
            if text is None:
                continue
            t.text = text
            if positions:
                pos = start_pos + n if pos is None else pos + 1
                t.pos = pos
            yield t


#: Whoosh's StemmingAnalyzer with Snowball English stems, in one generator with remembered stems.
STEMMING = FastStemmingAnalyzer()
#: Unstemmed words of three letters or more, for "did you mean" (the same fast path).
SPELLING = FastStemmingAnalyzer(stemfn=unchanged, minsize=3)


def _numeric(bits: int = 32, **kwargs: Any) -> NUMERIC:
    # Fewer precision tiers: 2 terms per value instead of 8 (ranges stay exact).
    return NUMERIC(int, bits=bits, shift_step=16, **kwargs)


def make_schema() -> Schema:
    """The index schema; field boosts make title and tags weigh most, comments least.

    Only what is searched is indexed; what is only shown is STORED (slug, question, version).
    """
    created = DATETIME(stored=True, sortable=True)
    created.shift_step = 16  # 4 terms per date instead of 8
    # Looked up (document frequencies, close terms), never scored: no lengths, no arrays.
    spell = TEXT(analyzer=SPELLING, phrase=False)
    spell.scorable = False
    return Schema(
        id=ID(stored=True, unique=True),
        kind=ID(stored=True),
        subtype=ID(stored=True),
        slug=STORED(),
        title=TEXT(analyzer=STEMMING, stored=True, field_boost=3.0),
        display_title=STORED(),
        tags=KEYWORD(stored=True, commas=True, lowercase=True, scorable=True, field_boost=2.0),
        # The tags' words, stemmed: what a query word is looked for in (``tags`` is for tag:).
        tag_words=TEXT(analyzer=STEMMING, field_boost=2.0, phrase=False),
        body=TEXT(analyzer=STEMMING),
        # The start of the body, for snippets and the leading text.
        excerpt=STORED(),
        # A thread's answers and comments, in one field: fewer matchers per query word.
        thread=TEXT(analyzer=STEMMING, field_boost=0.5, phrase=False),
        # Unstemmed words of titles, tags and each body's start: the "did you mean" vocabulary.
        spell=spell,
        user=ID(stored=True),
        # "0" for anonymous posts (experts leave them out).
        author=ID(stored=True),
        question=STORED(),
        score=_numeric(stored=True, sortable=True, signed=True),
        answer_count=_numeric(stored=True),
        accepted=BOOLEAN(stored=True),
        created=created,
        version=STORED(),
    )


def document_fields(doc: SearchDoc) -> dict[str, Any]:
    """The values a search document gives each field of the schema."""
    return {
        "id": str(doc.id),
        "kind": doc.kind,
        "subtype": doc.subtype or "",
        "slug": doc.slug or "",
        # An answer shows its question's title but is not found by it (the thread is).
        "title": "" if doc.kind == "answer" else doc.title,
        "display_title": doc.title if doc.kind == "answer" else "",
        "tags": ",".join(doc.tags),
        "tag_words": " ".join(doc.tags),
        "body": doc.body,
        "excerpt": doc.body[:EXCERPT_CHARS],
        "thread": f"{doc.answers}\n{doc.comments}",
        # Titles, tags and the body's start (whole bodies twice made rebuilds a third slower).
        "spell": f"{'' if doc.kind == 'answer' else doc.title} {' '.join(doc.tags)}"
        f" {doc.body[:EXCERPT_CHARS]}",
        "user": (doc.username or "").lower(),
        "author": str(doc.author_id or 0),
        "question": doc.question_id or 0,
        "score": doc.score,
        "answer_count": doc.answer_count,
        "accepted": doc.accepted,
        "created": doc.created_at.astimezone(dt.UTC).replace(tzinfo=None),
        "version": doc.version,
    }
