"""What every search backend offers, and the plain data it returns."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.orm import Session

from forum.search.documents import MARK_END, MARK_START, SearchDoc
from forum.search.query import Query

#: Every search gives up after this many seconds (unless the app sets SEARCH_TIME_LIMIT) and
#: returns what it has.
TIME_LIMIT = 0.8
SORTS = ("relevance", "newest", "votes")


class Busy(Exception):
    """Another process holds the index writer; pending changes wait for the next drain."""


@dataclass
class Hit:
    """One result: enough to render a line of the results page without the author's name."""

    id: int
    kind: str
    subtype: str | None
    slug: str | None
    title: str
    #: Escaped HTML whose only markup is <mark> around matched words.
    snippet: str
    title_html: str
    tags: list[str]
    post_score: int
    answer_count: int
    accepted: bool
    question_id: int | None
    created_at: dt.datetime | None
    username: str | None
    #: None for anonymous posts.
    author_id: int | None = None
    relevance: float = 0.0


@dataclass
class Results:
    """One page of results with the facts around it."""

    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    #: How many of the results contain every word (they come first).
    complete: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    tags: list[tuple[str, int]] = field(default_factory=list)
    timed_out: bool = False
    #: The total (and facets) were counted on the first matches only; the total is an estimate.
    approximate: bool = False


class Writer(Protocol):
    """A batch of index changes, made visible together by ``commit``."""

    def update(self, docs: Sequence[SearchDoc]) -> None:
        """Add or replace documents."""

    def delete(self, ids: Sequence[int]) -> None:
        """Remove documents (missing ones are ignored)."""

    def commit(self) -> None:
        """Make the batch visible."""

    def cancel(self) -> None:
        """Drop the batch and release the lock."""


class Backend(Protocol):
    """A search backend: the Whoosh files or PostgreSQL."""

    name: str

    def writer(self, session: Session, *, timeout: float) -> Writer:
        """Take the writer (raise Busy after ``timeout`` seconds)."""

    def search(
        self,
        session: Session,
        query: Query,
        *,
        sort: str = "relevance",
        offset: int = 0,
        limit: int = 20,
        facets: bool = True,
        time_limit: float = TIME_LIMIT,
        highlight: bool = True,
    ) -> Results:
        """Run a parsed query (``highlight=False``: snippets are the start of each text)."""

    def highlight(self, session: Session, query: Query, hits: Sequence[Hit]) -> list[Hit]:
        """``hits`` (from this backend) with snippet and title highlighted for ``query``."""

    def similar(
        self, session: Session, title: str, limit: int, kinds: Sequence[str] = ("question",)
    ) -> list[Hit]:
        """Posts of ``kinds`` sharing content words with ``title`` (not "how do", "what is"),
        those sharing the most first; unhighlighted (the lists show titles only)."""

    def stored_hits(self, session: Session, ids: Sequence[int]) -> dict[int, Hit]:
        """Hits for the indexed documents among ``ids`` (unhighlighted), by id."""

    def correct(self, session: Session, words: Sequence[str]) -> dict[str, str]:
        """Common words to offer for unknown or rare ones."""

    def experts_evidence(self, session: Session, query: Query, limit: int) -> list[Hit]:
        """Answers and articles matching ``query`` whose author is known (not anonymous)."""

    def versions(self, session: Session) -> dict[int, str]:
        """Every indexed document id with its version (for verify)."""

    def rebuild(self, session: Session, progress: ProgressFn | None) -> tuple[int, Writer]:
        """Build a fresh index from the database and swap it in; return the count and a
        writer on the new index, still locked, so the caller replays what changed meanwhile."""

    def compact(self, *, timeout: float) -> int:
        """Tidy the index's storage when it is fragmented; return how much was merged."""

    def schema_ok(self) -> bool:
        """Whether the index was written with this code's document schema (when not, it
        must be rebuilt before changes are applied to it)."""

    def close(self) -> None:
        """Release files and searchers."""


class ProgressFn(Protocol):
    """Told how many documents were written so far."""

    def __call__(self, done: int) -> None: ...


def marked_html(text: str) -> str:
    """Escape ``text`` and turn the highlighter's private markers into <mark> elements."""
    escaped = html.escape(text, quote=False)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


def leading_text(text: str, length: int = 240) -> str:
    """The start of ``text`` cut at a word boundary."""
    if len(text) <= length:
        return text
    cut = text.rfind(" ", 0, length)
    return text[: cut if cut > 0 else length] + " …"
