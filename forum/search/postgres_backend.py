"""The PostgreSQL backend: weighted tsvectors in ``search_documents``, shared by every app host."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.errors import QueryCanceled
from sqlalchemy import (
    Boolean,
    ColumnElement,
    and_,
    cast,
    delete,
    func,
    literal,
    not_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSQUERY, aggregate_order_by
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.visitors import InternalTraversal

from forum.models import SearchDocument
from forum.search import query as q
from forum.search.base import TIME_LIMIT, Busy, Hit, ProgressFn, Results, leading_text, marked_html
from forum.search.documents import GT, LT, MARK_END, MARK_START, SearchDoc, iter_all_documents

CONFIG = "english"
#: Key of the advisory lock that makes drains one at a time (like Whoosh's writer lock).
LOCK_KEY = 0x5EA4C4
HEADLINE = (
    f"StartSel={MARK_START}, StopSel={MARK_END}, MaxFragments=2, MaxWords=28, MinWords=12,"
    ' FragmentDelimiter=" … "'
)
TITLE_HEADLINE = f"StartSel={MARK_START}, StopSel={MARK_END}, HighlightAll=true"
VOCABULARY_TTL = 300.0
#: The every-word matches are counted and faceted on at most this many documents; beyond, the
#: total is the planner's estimate, marked approximate.
COUNT_SCAN = 1_000
#: When the every-word matches do not fill the page, this many some-word matches are read
#: (the rarest words' first), counted and faceted.
PARTIAL_SCAN = 400
#: How many of a part's scanned matches get ts_rank, which reads the whole document: those
#: with query words in the title first (ts_rank weights the title highest).
RANK_POOL = 200

_DOCUMENT_SQL = (
    "setweight(to_tsvector('english', :indexed_title || ' ' || :tag_words), 'A')"
    " || setweight(to_tsvector('english', :body), 'B')"
    " || setweight(to_tsvector('english', :answers), 'C')"
    " || setweight(to_tsvector('english', :comments), 'D')"
    " || array_to_tsvector(CAST(:markers AS text[]))"
)
# Shared type instances: SQLAlchemy adapts each new instance to the dialect again.
_BOOLEAN = Boolean()
_TSQUERY = TSQUERY()
_TITLE_SQL = "to_tsvector('english', :indexed_title || ' ' || :tag_words)"


def _marker(kind: str, value: str) -> str:
    """An exact lexeme for filters (``tag:x``, ``user:y``): never produced by the parser."""
    return f"{kind}={value.lower()}"


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _markers(doc: SearchDoc) -> list[str]:
    out = [_marker("kind", doc.kind)]
    if doc.subtype:
        out.append(_marker("subtype", doc.subtype))
    out += [_marker("tag", t) for t in doc.tags]
    if doc.username:
        out.append(_marker("user", doc.username))
    return out


def _params(doc: SearchDoc) -> dict[str, Any]:
    return {
        "post_id": doc.id,
        "kind": doc.kind,
        "subtype": doc.subtype,
        "slug": doc.slug,
        "title": doc.title,
        "tags": ",".join(doc.tags),
        "tag_words": " ".join(doc.tags),
        # An answer shows its question's title but is not found by it (the thread is).
        "indexed_title": "" if doc.kind == "answer" else doc.title,
        "body": doc.body,
        "answers": doc.answers,
        "comments": doc.comments,
        "username": doc.username,
        "author_id": doc.author_id,
        "question_id": doc.question_id,
        "score": doc.score,
        "answer_count": doc.answer_count,
        "accepted": doc.accepted,
        "created_at": doc.created_at,
        "version": doc.version,
        "markers": _markers(doc),
    }


_UPSERT = text(
    "INSERT INTO search_documents (post_id, kind, subtype, slug, title, tags, body, username,"
    " author_id, question_id, score, answer_count, accepted, created_at, version, document,"
    " title_document)"
    " VALUES (:post_id, :kind, :subtype, :slug, :title, :tags, :body, :username, :author_id,"
    f" :question_id, :score, :answer_count, :accepted, :created_at, :version, {_DOCUMENT_SQL},"
    f" {_TITLE_SQL})"
    " ON CONFLICT (post_id) DO UPDATE SET kind = excluded.kind, subtype = excluded.subtype,"
    " slug = excluded.slug, title = excluded.title, tags = excluded.tags, body = excluded.body,"
    " username = excluded.username, author_id = excluded.author_id,"
    " question_id = excluded.question_id, score = excluded.score,"
    " answer_count = excluded.answer_count, accepted = excluded.accepted,"
    " created_at = excluded.created_at, version = excluded.version,"
    " document = excluded.document, title_document = excluded.title_document"
)


class _PgWriter:
    """Changes staged in the drain's transaction; its commit makes them visible."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def update(self, docs: Sequence[SearchDoc]) -> None:
        # Posts deleted since the documents were built would break the foreign key.
        if docs:
            self.session.execute(_UPSERT, [_params(d) for d in docs])

    def delete(self, ids: Sequence[int]) -> None:
        if ids:
            self.session.execute(delete(SearchDocument).where(SearchDocument.post_id.in_(ids)))

    def commit(self) -> None:
        """Nothing to do: the drain commits the transaction."""

    def cancel(self) -> None:
        self.session.rollback()


class PostgresBackend:
    """Full-text search in the application's PostgreSQL database."""

    name = "postgres"

    def __init__(self) -> None:
        self._vocabulary: tuple[tuple[int, int], float, dict[str, int]] | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Nothing is held open between calls."""
        self._vocabulary = None

    def compact(self, *, timeout: float) -> int:
        """Nothing to merge: PostgreSQL maintains the GIN index itself (autovacuum)."""
        return 0

    def writer(self, session: Session, *, timeout: float) -> _PgWriter:
        """Take the drain lock (a transaction-level advisory lock) or raise Busy."""
        deadline = time.monotonic() + timeout
        while True:
            got = session.scalar(select(func.pg_try_advisory_xact_lock(LOCK_KEY)))
            if got:
                return _PgWriter(session)
            if time.monotonic() >= deadline:
                raise Busy("another process is applying search changes")
            time.sleep(0.05)

    def rebuild(self, session: Session, progress: ProgressFn | None) -> tuple[int, _PgWriter]:
        """Replace every document in one transaction; readers see the old ones until commit."""
        session.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))
        session.execute(delete(SearchDocument))
        count = 0
        batch: list[SearchDoc] = []
        writer = _PgWriter(session)
        for doc in iter_all_documents(session):
            batch.append(doc)
            if len(batch) >= 500:
                writer.update(batch)
                count += len(batch)
                batch = []
                if progress is not None:
                    progress(count)
        writer.update(batch)
        count += len(batch)
        if progress is not None:
            progress(count)
        # Searches plan with the words' frequencies (and read the rarest first): every row is
        # new, so the statistics are brought up to date now rather than by a later autovacuum.
        session.execute(text("ANALYZE search_documents"))
        return count, writer

    def versions(self, session: Session) -> dict[int, str]:
        """Every indexed document id with its version."""
        rows = session.execute(select(SearchDocument.post_id, SearchDocument.version)).all()
        return {int(r[0]): str(r[1]) for r in rows}

    # -- queries -------------------------------------------------------------------------

    def _word(self, word: q.Word) -> ColumnElement[Any]:
        if word.prefix:
            return func.to_tsquery(CONFIG, literal(_quote(word.text) + ":*"))
        return func.plainto_tsquery(CONFIG, literal(word.text))

    def _node(self, node: q.Node) -> ColumnElement[Any]:
        if isinstance(node, q.Word):
            return self._word(node)
        if isinstance(node, q.Phrase):
            return func.phraseto_tsquery(CONFIG, literal(" ".join(node.words)))
        parts = [self._node(n) for n in node.parts]
        operator = "||" if isinstance(node, q.Any_) else "&&"
        combined = parts[0]
        for part in parts[1:]:
            combined = combined.op(operator, return_type=_TSQUERY)(part)
        return combined

    def _join(self, parts: list[ColumnElement[Any]], operator: str) -> ColumnElement[Any]:
        combined = parts[0]
        for part in parts[1:]:
            combined = combined.op(operator, return_type=_TSQUERY)(part)
        return combined

    def _conditions(self, parsed: q.Query) -> list[ColumnElement[bool]]:
        doc = SearchDocument.document
        conds: list[ColumnElement[bool]] = []

        def exact(kind: str, value: str) -> ColumnElement[Any]:
            return cast(literal(_quote(_marker(kind, value))), _TSQUERY)

        for tag in parsed.tags:
            conds.append(doc.op("@@", return_type=_BOOLEAN)(exact("tag", tag)))
        for tag in parsed.excluded_tags:
            conds.append(not_(doc.op("@@", return_type=_BOOLEAN)(exact("tag", tag))))
        for user in parsed.users:
            conds.append(doc.op("@@", return_type=_BOOLEAN)(exact("user", user)))
        kinds = set(parsed.kinds)
        if parsed.article_types:
            conds.append(SearchDocument.subtype.in_(sorted(parsed.article_types)))
            if not kinds:
                kinds.add("article")
        if not kinds and parsed.statuses & {"answered", "unanswered"}:
            kinds.add("question")
        if kinds:
            conds.append(SearchDocument.kind.in_(sorted(kinds)))
        if "answered" in parsed.statuses:
            conds.append(SearchDocument.answer_count > 0)
        if "unanswered" in parsed.statuses:
            conds.append(SearchDocument.answer_count == 0)
        if "accepted" in parsed.statuses:
            conds.append(SearchDocument.accepted.is_(True))
        for r in parsed.score:
            conds.append(_compare(SearchDocument.score, r.op, int(r.value)))  # type: ignore[arg-type]
        for r in parsed.created:
            conds.append(_date_condition(r))
        for node in parsed.excluded:
            conds.append(not_(doc.op("@@", return_type=_BOOLEAN)(self._node(node))))
        return conds

    def search(
        self,
        session: Session,
        query_: q.Query,
        *,
        sort: str = "relevance",
        offset: int = 0,
        limit: int = 20,
        facets: bool = True,
    ) -> Results:
        """Every-word matches first, then partial ones; ts_rank weighted A–D, nudged by votes."""
        clauses = [self._node(n) for n in query_.clauses]
        conds = self._conditions(query_)
        if not clauses and not conds:
            return Results()
        results = Results()
        deadline = time.monotonic() + TIME_LIMIT
        try:
            previous = _arm(session, TIME_LIMIT)
            self._search(session, results, clauses, conds, sort, offset, limit, facets, deadline)
            _restore(session, previous)
        except _OutOfTime:
            _restore(session, previous)
            results.hits = []
            results.timed_out = True
        except DBAPIError as exc:
            if not isinstance(exc.orig, QueryCanceled):
                raise
            session.rollback()
            results.hits = []
            results.timed_out = True
        return results

    def _search(
        self,
        session: Session,
        results: Results,
        clauses: list[ColumnElement[Any]],
        conds: list[ColumnElement[bool]],
        sort: str,
        offset: int,
        limit: int,
        facets: bool,
        deadline: float,
    ) -> None:
        """Fill ``results``: the every-word part, then the some-word part when it is needed."""
        doc = SearchDocument.document
        need = offset + limit
        ranked = sort == "relevance" and bool(clauses)
        pool = max(RANK_POOL, need) if ranked else 0
        any_q = self._join(clauses, "||") if clauses else None
        all_q = self._join(clauses, "&&") if clauses else None
        kinds: dict[str, int] = {}
        tags: dict[str, int] = {}
        estimates: list[int] = []
        if any_q is not None and all_q is not None and len(clauses) > 1:
            # One plan gives the size of every part: the order in which to read the words
            # (rarest first) and the total when the some-word part is not counted.
            estimates = _estimated_rows(
                session,
                [and_(_match(doc, q_), *conds) for q_ in (any_q, all_q, *clauses)],
            )
        first = _Scan.run(
            session,
            [_match(doc, all_q)] if all_q is not None else [true()],
            conds,
            any_q,
            cap=COUNT_SCAN,
            pool=pool,
            offset=offset,
            limit=limit,
            facets=facets,
            keep_ids=need if len(clauses) > 1 else 0,
        )
        _merge(kinds, first.kinds)
        _merge(tags, first.tags)
        page = first.page
        results.complete = results.total = first.docs
        if first.capped:
            results.approximate = True
            if not estimates:
                estimate = _estimated_rows(session, [and_(*_ors(doc, any_q), *conds)])[0]
                estimates = [estimate, estimate]
            results.complete = max(first.docs, estimates[1])
            results.total = max(results.complete, estimates[0])
        elif len(clauses) > 1 and first.docs < need:
            _check(session, deadline)
            # Rarest words first: ts_rank has no idea how rare a word is, so the documents
            # worth ranking are those with the rare words; the common ones fill what is left.
            order = sorted(range(len(clauses)), key=lambda i: estimates[2 + i])
            rest = _Scan.run(
                session,
                [_match(doc, clauses[i]) for i in order],
                [*conds, SearchDocument.post_id.not_in(first.ids)] if first.ids else conds,
                any_q,
                cap=PARTIAL_SCAN,
                pool=max(RANK_POOL, need - first.docs) if ranked else 0,
                offset=max(0, offset - first.docs),
                limit=max(0, need - max(offset, first.docs)),
                facets=facets,
                keep_ids=0,
            )
            _merge(kinds, rest.kinds)
            _merge(tags, rest.tags)
            page = page + rest.page
            results.total = first.docs + rest.docs
            if rest.capped:
                results.approximate = True
                results.total = max(results.total, estimates[0])
        elif len(clauses) > 1:
            results.approximate = estimates[0] > first.docs
            results.total = max(first.docs, estimates[0])
        if results.total == 0:
            return
        if facets:
            results.kinds = kinds
            results.tags = sorted(tags.items(), key=lambda t: (-t[1], t[0]))[:10]
        if not ranked:
            _check(session, deadline)
            page = self._ordered_page(session, clauses, conds, any_q, sort, offset, limit)
        if page:
            _check(session, deadline)
            results.hits = _highlighted(session, page, any_q)

    def _ordered_page(
        self,
        session: Session,
        clauses: list[ColumnElement[Any]],
        conds: list[ColumnElement[bool]],
        any_q: ColumnElement[Any] | None,
        sort: str,
        offset: int,
        limit: int,
    ) -> list[tuple[int, float]]:
        """A page by date or votes (or, without words, newest first) over every match."""
        where = and_(*_ors(SearchDocument.document, any_q), *conds)
        order: list[ColumnElement[Any]]
        if sort == "newest":
            order = [SearchDocument.created_at.desc(), SearchDocument.post_id.desc()]
        elif sort == "votes":
            order = [SearchDocument.score.desc(), SearchDocument.created_at.desc()]
        else:
            order = [SearchDocument.post_id.desc()]
        rows = session.execute(
            select(SearchDocument.post_id).where(where).order_by(*order).offset(offset).limit(limit)
        ).all()
        return [(int(r[0]), 0.0) for r in rows]

    def similar(self, session: Session, title: str, limit: int) -> list[Hit]:
        """Questions sharing words with ``title``, best first."""
        words = [w for w in q._words_of(title)][:16]
        if not words:
            return []
        any_q = self._join([func.plainto_tsquery(CONFIG, literal(w)) for w in words], "||")
        doc = SearchDocument.document
        rank = func.ts_rank(doc, any_q)
        rows = session.execute(
            select(SearchDocument, rank)
            .where(doc.op("@@", return_type=_BOOLEAN)(any_q), SearchDocument.kind == "question")
            .order_by(rank.desc(), SearchDocument.post_id.desc())
            .limit(limit)
        ).all()
        return [_hit(r[0], "", "", float(r[1])) for r in rows]

    def experts_evidence(self, session: Session, query_: q.Query, limit: int) -> list[Hit]:
        """Answers and articles matching ``query_`` by known (not anonymous) authors."""
        clauses = [self._node(n) for n in query_.clauses]
        conds = self._conditions(query_)
        if not clauses and not conds:
            return []
        doc = SearchDocument.document
        if clauses:
            any_q = self._join(clauses, "||")
            conds.append(doc.op("@@", return_type=_BOOLEAN)(any_q))
            rank: ColumnElement[Any] = func.ts_rank(doc, any_q)
        else:
            rank = literal(1.0)
        rows = session.execute(
            select(SearchDocument, rank)
            .where(
                *conds,
                SearchDocument.kind.in_(["answer", "article"]),
                SearchDocument.author_id.is_not(None),
            )
            .order_by(rank.desc())
            .limit(limit)
        ).all()
        return [_hit(r[0], "", "", float(r[1])) for r in rows]

    def correct(self, session: Session, words: Sequence[str]) -> dict[str, str]:
        """Common words of titles, tags and bodies at edit distance <= 2 from rare ones."""
        vocabulary = self._vocabulary_for(session)
        out: dict[str, str] = {}
        for word in words:
            word = word.lower()
            if len(word) < 3 or not word.isalpha():
                continue
            freq = vocabulary.get(word, 0)
            if freq >= 3:
                continue
            best: tuple[int, str] | None = None
            for candidate, n in vocabulary.items():
                if (
                    n < max(2, 3 * freq)
                    or candidate[0] != word[0]
                    or abs(len(candidate) - len(word)) > 2
                    or candidate == word
                ):
                    continue
                if _distance(word, candidate, 2) <= 2 and (best is None or n > best[0]):
                    best = (n, candidate)
            if best:
                out[word] = best[1]
        return out

    def _vocabulary_for(self, session: Session) -> dict[str, int]:
        key_row = session.execute(
            select(func.count(), func.coalesce(func.max(SearchDocument.post_id), 0))
        ).one()
        key = (int(key_row[0]), int(key_row[1]))
        now = time.monotonic()
        with self._lock:
            cached = self._vocabulary
            if cached is not None and cached[0] == key and now - cached[1] < VOCABULARY_TTL:
                return cached[2]
        rows = session.execute(
            text(
                "SELECT word, ndoc FROM ts_stat($$SELECT to_tsvector('simple', title || ' ' ||"
                " replace(tags, ',', ' ') || ' ' || left(body, 2000)) FROM search_documents$$)"
                " WHERE ndoc >= 2 AND word ~ '^[[:alpha:]]+$' ORDER BY ndoc DESC LIMIT 50000"
            )
        ).all()
        vocabulary = {str(w): int(n) for w, n in rows}
        with self._lock:
            self._vocabulary = (key, now, vocabulary)
        return vocabulary


def _hide_brackets(column: Any) -> ColumnElement[str]:
    return func.replace(func.replace(column, "<", LT), ">", GT)


def _show_brackets(text_: str) -> str:
    return text_.replace(LT, "<").replace(GT, ">")


def _match(document: Any, tsquery: ColumnElement[Any]) -> ColumnElement[bool]:
    return document.op("@@", return_type=_BOOLEAN)(tsquery)  # type: ignore[no-any-return]


def _ors(document: Any, tsquery: ColumnElement[Any] | None) -> list[ColumnElement[bool]]:
    return [] if tsquery is None else [_match(document, tsquery)]


def _merge(into: dict[str, int], counts: dict[str, int]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


class _OutOfTime(Exception):
    """The search's time ran out between two statements."""


#: The settings a search changes for its own statements, put back afterwards.
_SETTINGS = ("statement_timeout", "jit", "enable_seqscan")


def _arm(session: Session, seconds: float) -> list[str]:
    """Limit each statement's time; return the settings to restore.

    JIT compilation costs more than these short statements; a sequential scan would test
    ``@@`` on every row, reading each document out of line, where the GIN bitmap reads none.
    """
    row = session.execute(
        text(
            "SELECT current_setting('statement_timeout'), current_setting('jit'),"
            " current_setting('enable_seqscan'), set_config('statement_timeout', :ms, true),"
            " set_config('jit', 'off', true), set_config('enable_seqscan', 'off', true)"
        ),
        {"ms": str(max(1, int(seconds * 1000)))},
    ).one()
    return [str(row[0]), str(row[1]), str(row[2])]


def _restore(session: Session, previous: list[str]) -> None:
    session.execute(
        text(
            "SELECT set_config('statement_timeout', :a, true), set_config('jit', :b, true),"
            " set_config('enable_seqscan', :c, true)"
        ),
        dict(zip("abc", previous, strict=True)),
    )


def _check(session: Session, deadline: float) -> None:
    """Give the next statement what is left of the time limit, or stop."""
    left = deadline - time.monotonic()
    if left <= 0.005:
        raise _OutOfTime
    session.execute(
        text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(int(left * 1000))}
    )


@dataclass
class _Scan:
    """One part of the matches (every word, or some), counted on its first ``cap`` rows."""

    #: Distinct documents scanned (all of the part unless ``capped``).
    docs: int
    capped: bool
    kinds: dict[str, int]
    tags: dict[str, int]
    #: (post id, relevance) of the requested slice of this part, best first.
    page: list[tuple[int, float]]
    #: The first scanned ids (all of them when the part is small), to leave out of the next.
    ids: list[int]

    @classmethod
    def run(
        cls,
        session: Session,
        branches: list[ColumnElement[bool]],
        conds: list[ColumnElement[bool]],
        any_q: ColumnElement[Any] | None,
        *,
        cap: int,
        pool: int,
        offset: int,
        limit: int,
        facets: bool,
        keep_ids: int,
    ) -> _Scan:
        """One statement: scan the branches in order, count, facet, rank a pool, page."""
        sd = SearchDocument
        # Only the title vector, kept in the row, is read for every scanned match.
        pre: ColumnElement[Any] = (
            func.ts_rank(sd.title_document, any_q) if any_q is not None else literal(0.0)
        )
        # Enough rows to count up to the cap and to reach the requested page.
        scan = max(cap, offset + limit) + 1
        parts = [
            select(sd.post_id, sd.kind, sd.tags, pre.label("pre"), literal(i).label("tier"))
            .where(branch, *conds)
            .limit(scan)
            for i, branch in enumerate(branches)
        ]
        if len(parts) == 1:
            scanned = parts[0].cte("scanned").prefix_with("MATERIALIZED")
            docs = scanned
        else:
            # Each branch reads its GIN bitmap only when the ones before did not fill the scan.
            union = union_all(*parts).subquery()
            scanned = select(union).limit(scan).cte("scanned").prefix_with("MATERIALIZED")
            docs = (
                select(
                    scanned.c.post_id,
                    scanned.c.kind,
                    scanned.c.tags,
                    func.max(scanned.c.pre).label("pre"),
                    func.min(scanned.c.tier).label("tier"),
                )
                .group_by(scanned.c.post_id, scanned.c.kind, scanned.c.tags)
                .cte("docs")
                .prefix_with("MATERIALIZED")
            )
        columns: list[Any] = [
            select(func.count()).select_from(scanned).scalar_subquery(),
            select(func.count()).select_from(docs).scalar_subquery()
            if docs is not scanned
            else literal(None),
        ]
        if facets:
            counted = select(docs.c.kind, docs.c.tags).limit(cap + 1).subquery()
            kind = (
                select(counted.c.kind, func.count().label("n")).group_by(counted.c.kind).subquery()
            )
            tag = (
                select(func.unnest(func.string_to_array(counted.c.tags, ",")).label("tag"))
                .where(counted.c.tags != "")
                .subquery()
            )
            tag_n = select(tag.c.tag, func.count().label("n")).group_by(tag.c.tag).subquery()
            columns += [
                select(func.json_object_agg(kind.c.kind, kind.c.n)).scalar_subquery(),
                select(func.json_object_agg(tag_n.c.tag, tag_n.c.n)).scalar_subquery(),
            ]
        else:
            columns += [literal(None), literal(None)]
        if pool and limit > 0 and any_q is not None:
            chosen = (
                select(docs.c.post_id, docs.c.tier)
                .order_by(docs.c.tier, docs.c.pre.desc(), docs.c.post_id.desc())
                .limit(pool)
                .subquery()
            )
            rank = (
                func.ts_rank(sd.document, any_q)
                * (1.0 + 0.05 * func.ln(1 + func.greatest(sd.score, 0)))
            ).label("rank")
            # Among some-word matches, those with a rarer word come first (the tier); within
            # a tier, and among every-word matches (one tier), ts_rank decides.
            ranked = (
                select(sd.post_id, chosen.c.tier, rank)
                .join(chosen, chosen.c.post_id == sd.post_id)
                .order_by(chosen.c.tier, rank.desc(), sd.post_id.desc())
                .offset(offset)
                .limit(limit)
                .subquery()
            )
            columns.append(
                select(
                    func.json_agg(
                        aggregate_order_by(
                            func.json_build_array(ranked.c.post_id, ranked.c.rank),
                            ranked.c.tier,
                            ranked.c.rank.desc(),
                            ranked.c.post_id.desc(),
                        )
                    )
                ).scalar_subquery()
            )
        else:
            columns.append(literal(None))
        if keep_ids:
            first = select(docs.c.post_id).limit(keep_ids + 1).subquery()
            columns.append(select(func.array_agg(first.c.post_id)).scalar_subquery())
        else:
            columns.append(literal(None))
        row = session.execute(select(*columns)).one()
        rows = int(row[0])
        distinct = rows if row[1] is None else int(row[1])
        return cls(
            docs=min(cap + 1, distinct),
            # A scan that stopped early (or found more than the cap) did not count everything.
            capped=rows >= scan or distinct > cap,
            kinds={str(k): int(n) for k, n in (row[2] or {}).items()},
            tags={str(k): int(n) for k, n in (row[3] or {}).items()},
            page=[(int(pid), float(rel or 0)) for pid, rel in (row[4] or [])],
            ids=[int(i) for i in (row[5] or [])],
        )


def _highlighted(
    session: Session, page: list[tuple[int, float]], any_q: ColumnElement[Any] | None
) -> list[Hit]:
    """The page's hits with their snippets (ts_headline reads only these documents' text)."""
    sd = SearchDocument
    body_hl: ColumnElement[Any]
    title_hl: ColumnElement[Any]
    if any_q is not None:
        # ts_headline drops anything that looks like an HTML tag: hide the brackets.
        body_hl = func.ts_headline(CONFIG, _hide_brackets(sd.body), any_q, HEADLINE)
        title_hl = func.ts_headline(CONFIG, _hide_brackets(sd.title), any_q, TITLE_HEADLINE)
    else:
        body_hl = literal("")
        title_hl = literal("")
    rows = session.execute(
        select(*_STORED, body_hl.label("snippet"), title_hl.label("title_html")).where(
            sd.post_id.in_([pid for pid, _ in page])
        )
    ).all()
    by_id = {row.post_id: row for row in rows}
    return [
        _hit(by_id[pid], by_id[pid].snippet, by_id[pid].title_html, rel)
        for pid, rel in page
        if pid in by_id
    ]


#: What a hit shows (the document itself stays in storage).
_STORED = (
    SearchDocument.post_id,
    SearchDocument.kind,
    SearchDocument.subtype,
    SearchDocument.slug,
    SearchDocument.title,
    SearchDocument.body,
    SearchDocument.tags,
    SearchDocument.score,
    SearchDocument.answer_count,
    SearchDocument.accepted,
    SearchDocument.question_id,
    SearchDocument.created_at,
    SearchDocument.username,
    SearchDocument.author_id,
)


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON)`` of a statement, compiled once per shape like any statement."""

    inherit_cache = False
    _traverse_internals = [("statement", InternalTraversal.dp_clauseelement)]

    def __init__(self, statement: Any) -> None:
        self.statement = statement

    @property
    def _all_selected_columns(self) -> tuple[()]:
        # The plan comes back as one untyped column, not the explained statement's columns.
        return ()


@compiles(_Explain)
def _compile_explain(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + str(compiler.process(element.statement, **kw))


def _estimated_rows(session: Session, wheres: list[ColumnElement[bool]]) -> list[int]:
    """The planner's estimate of how many documents match each of ``wheres`` (none are read)."""
    parts = [select(SearchDocument.post_id).where(w) for w in wheres]
    statement = parts[0] if len(parts) == 1 else union_all(*parts)
    plan = session.execute(_Explain(statement)).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    top = plan[0]["Plan"]
    subplans = top.get("Plans", []) if len(parts) > 1 else []
    if len(subplans) != len(parts):
        return [int(top["Plan Rows"])] * len(parts)
    return [int(p["Plan Rows"]) for p in subplans]


def _hit(doc: Any, snippet: str, title_html: str, relevance: float) -> Hit:
    """A hit from a document or a row of its stored columns."""
    created = doc.created_at
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    snippet = _show_brackets(snippet or "")
    title_html = _show_brackets(title_html or "")
    has_mark = MARK_START in snippet
    return Hit(
        id=doc.post_id,
        kind=doc.kind,
        subtype=doc.subtype,
        slug=doc.slug,
        title=doc.title,
        snippet=marked_html(snippet) if has_mark else marked_html(leading_text(doc.body)),
        title_html=marked_html(title_html) if title_html else marked_html(doc.title),
        tags=[t for t in doc.tags.split(",") if t],
        post_score=doc.score,
        answer_count=doc.answer_count,
        accepted=doc.accepted,
        question_id=doc.question_id,
        created_at=created,
        username=doc.username,
        author_id=doc.author_id,
        relevance=relevance,
    )


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == ">":
        return column > value  # type: ignore[no-any-return]
    if op == ">=":
        return column >= value  # type: ignore[no-any-return]
    if op == "<":
        return column < value  # type: ignore[no-any-return]
    if op == "<=":
        return column <= value  # type: ignore[no-any-return]
    return column == value  # type: ignore[no-any-return]


def _date_condition(r: q.Range) -> ColumnElement[bool]:
    day = r.value
    assert isinstance(day, dt.date)
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    column = SearchDocument.created_at
    if r.op == "=":
        return and_(column >= start, column < end)
    if r.op == ">":
        return column >= end
    if r.op == ">=":
        return column >= start
    if r.op == "<":
        return column < start
    return column < end


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (returning limit + 1) once it exceeds ``limit``."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]
