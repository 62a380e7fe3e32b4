"""The PostgreSQL backend: weighted tsvectors in ``search_documents``, shared by every app host."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    not_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

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
#: The total and facets come from at most this many matches; beyond, the planner's estimate
#: (ranking still considers every match).
COUNT_SCAN = 4_000

_DOCUMENT_SQL = (
    "setweight(to_tsvector('english', :indexed_title || ' ' || :tag_words), 'A')"
    " || setweight(to_tsvector('english', :body), 'B')"
    " || setweight(to_tsvector('english', :answers), 'C')"
    " || setweight(to_tsvector('english', :comments), 'D')"
    " || array_to_tsvector(CAST(:markers AS text[]))"
)


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
    " author_id, question_id, score, answer_count, accepted, created_at, version, document)"
    " VALUES (:post_id, :kind, :subtype, :slug, :title, :tags, :body, :username, :author_id,"
    f" :question_id, :score, :answer_count, :accepted, :created_at, :version, {_DOCUMENT_SQL})"
    " ON CONFLICT (post_id) DO UPDATE SET kind = excluded.kind, subtype = excluded.subtype,"
    " slug = excluded.slug, title = excluded.title, tags = excluded.tags, body = excluded.body,"
    " username = excluded.username, author_id = excluded.author_id,"
    " question_id = excluded.question_id, score = excluded.score,"
    " answer_count = excluded.answer_count, accepted = excluded.accepted,"
    " created_at = excluded.created_at, version = excluded.version,"
    " document = excluded.document"
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
            combined = combined.op(operator, return_type=TSQUERY)(part)
        return combined

    def _join(self, parts: list[ColumnElement[Any]], operator: str) -> ColumnElement[Any]:
        combined = parts[0]
        for part in parts[1:]:
            combined = combined.op(operator, return_type=TSQUERY)(part)
        return combined

    def _conditions(self, parsed: q.Query) -> list[ColumnElement[bool]]:
        doc = SearchDocument.document
        conds: list[ColumnElement[bool]] = []

        def exact(kind: str, value: str) -> ColumnElement[Any]:
            return cast(literal(_quote(_marker(kind, value))), TSQUERY)

        for tag in parsed.tags:
            conds.append(doc.op("@@", return_type=Boolean)(exact("tag", tag)))
        for tag in parsed.excluded_tags:
            conds.append(not_(doc.op("@@", return_type=Boolean)(exact("tag", tag))))
        for user in parsed.users:
            conds.append(doc.op("@@", return_type=Boolean)(exact("user", user)))
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
            conds.append(not_(doc.op("@@", return_type=Boolean)(self._node(node))))
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
        doc = SearchDocument.document
        results = Results()
        session.execute(text(f"SET LOCAL statement_timeout = {int(TIME_LIMIT * 1000)}"))
        if clauses:
            all_q = self._join(clauses, "&&")
            any_q = self._join(clauses, "||")
            matches: ColumnElement[bool] = doc.op("@@", return_type=Boolean)(any_q)
            complete: ColumnElement[bool] = doc.op("@@", return_type=Boolean)(all_q)
            rank: ColumnElement[Any] = func.ts_rank(doc, any_q) * (
                1.0 + 0.05 * func.ln(1 + func.greatest(SearchDocument.score, 0))
            )
        else:
            any_q = None
            matches = true()
            complete = true()
            rank = literal(0.0)
        where = and_(matches, *conds)
        # Counting every match re-reads every matching document: count the first COUNT_SCAN.
        scanned = (
            select(
                SearchDocument.post_id,
                SearchDocument.kind,
                SearchDocument.tags,
                complete.label("complete"),
            )
            .where(where)
            .limit(COUNT_SCAN + 1)
            .subquery()
        )
        try:
            counts = session.execute(
                select(func.count(), func.count().filter(scanned.c.complete)).select_from(scanned)
            ).one()
        except Exception as exc:  # noqa: BLE001 - a cancelled statement is a timeout
            if "statement timeout" in str(exc) or "canceling statement" in str(exc):
                session.rollback()
                results.timed_out = True
                return results
            raise
        results.total, results.complete = int(counts[0]), int(counts[1])
        if results.total == 0:
            return results
        if results.total > COUNT_SCAN:
            results.approximate = True
            results.total = max(COUNT_SCAN, _estimated_rows(session, where))
        is_complete = case((complete, 1), else_=0)
        order: list[ColumnElement[Any]]
        if sort == "newest":
            order = [SearchDocument.created_at.desc(), SearchDocument.post_id.desc()]
        elif sort == "votes":
            order = [SearchDocument.score.desc(), SearchDocument.created_at.desc()]
        else:
            order = [is_complete.desc(), rank.desc(), SearchDocument.post_id.desc()]
        page_rows = session.execute(
            select(SearchDocument.post_id, rank)
            .where(where)
            .order_by(*order)
            .offset(offset)
            .limit(limit)
        ).all()
        ids = [int(r[0]) for r in page_rows]
        body_hl: ColumnElement[Any]
        title_hl: ColumnElement[Any]
        if any_q is not None:
            # ts_headline drops anything that looks like an HTML tag: hide the brackets.
            body_hl = func.ts_headline(CONFIG, _hide_brackets(SearchDocument.body), any_q, HEADLINE)
            title_hl = func.ts_headline(
                CONFIG, _hide_brackets(SearchDocument.title), any_q, TITLE_HEADLINE
            )
        else:
            body_hl = literal("")
            title_hl = literal("")
        rows = session.execute(
            select(SearchDocument, body_hl, title_hl).where(SearchDocument.post_id.in_(ids))
        ).all()
        by_id = {row[0].post_id: row for row in rows}
        results.hits = [
            _hit(by_id[pid][0], by_id[pid][1], by_id[pid][2], float(rel or 0))
            for pid, rel in page_rows
            if pid in by_id
        ]
        if facets:
            kind_rows = session.execute(
                select(scanned.c.kind, func.count()).group_by(scanned.c.kind)
            ).all()
            results.kinds = {str(k): int(n) for k, n in kind_rows}
            tag = func.unnest(func.string_to_array(scanned.c.tags, ",")).label("tag")
            tagged = select(tag).where(scanned.c.tags != "").subquery()
            tag_rows = session.execute(
                select(tagged.c.tag, func.count().label("n"))
                .group_by(tagged.c.tag)
                .order_by(func.count().desc(), tagged.c.tag)
                .limit(10)
            ).all()
            results.tags = [(str(t), int(n)) for t, n in tag_rows]
        return results

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
            .where(doc.op("@@", return_type=Boolean)(any_q), SearchDocument.kind == "question")
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
            conds.append(doc.op("@@", return_type=Boolean)(any_q))
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


def _estimated_rows(session: Session, where: ColumnElement[bool]) -> int:
    """The planner's estimate of how many documents match ``where`` (no rows are read)."""
    statement = select(SearchDocument.post_id).where(where)
    compiled = statement.compile(dialect=session.get_bind().dialect)
    plan = (
        session.connection()
        .exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
        .scalar_one()
    )
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _hit(doc: SearchDocument, snippet: str, title_html: str, relevance: float) -> Hit:
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
