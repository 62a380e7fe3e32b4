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
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from forum.models import SearchDocument, SearchWord
from forum.search import query as q
from forum.search import words
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
#: Close words looked at per unknown word (the most similar by trigrams, or by length).
CORRECTION_CANDIDATES = 64
#: Matches of each close word counted for its frequency (enough to tell common from rare).
CORRECTION_COUNT = 1_000
#: A similar-posts lookup ranks this many matches (the best by title and tags) by content
#: words shared with the typed title.
SIMILAR_POOL = 200
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
_TITLE_SQL = "to_tsvector('english', :indexed_title || ' ' || :tag_words)"
#: The unstemmed words a document adds to the "did you mean" vocabulary (as Whoosh's spell
#: field: titles, tags and the start of bodies).
_WORDS_SQL = text(
    "INSERT INTO search_words (word) SELECT DISTINCT word FROM unnest(CAST(:texts AS text[]))"
    " AS t(value), unnest(tsvector_to_array(to_tsvector('simple', t.value))) AS word"
    " WHERE word ~ '^[[:alpha:]]{3,64}$' ON CONFLICT DO NOTHING"
)
SPELL_CHARS = 2_000


def _spelling_text(doc: SearchDoc) -> str:
    title = "" if doc.kind == "answer" else doc.title
    return f"{title} {' '.join(doc.tags)} {doc.body[:SPELL_CHARS]}"


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
            self.session.execute(_WORDS_SQL, {"texts": [_spelling_text(d) for d in docs]})

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
        self._trigram: bool | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Nothing is held open between calls."""
        self._trigram = None

    def compact(self, *, timeout: float) -> int:
        """Nothing to merge: PostgreSQL maintains the GIN index itself (autovacuum)."""
        return 0

    def schema_ok(self) -> bool:
        """Always: the documents are rows of the application's tables, whose schema the
        migrations keep current."""
        return True

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
        session.execute(delete(SearchWord))
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

    def search(
        self,
        session: Session,
        query_: q.Query,
        *,
        sort: str = "relevance",
        offset: int = 0,
        limit: int = 20,
        facets: bool = True,
        time_limit: float = TIME_LIMIT,
        highlight: bool = True,
    ) -> Results:
        """Every-word matches first, then partial ones; ts_rank weighted A–D, nudged by votes."""
        sql = _Sql()
        clauses = [sql.node(n) for n in query_.clauses]
        conds = sql.conditions(query_)
        if not clauses and not conds:
            return Results()
        results = Results()
        deadline = time.monotonic() + time_limit
        try:
            previous = _arm(session, time_limit)
            self._search(
                session,
                sql,
                results,
                clauses,
                conds,
                sort,
                offset,
                limit,
                facets,
                deadline,
                highlight,
            )
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
        sql: _Sql,
        results: Results,
        clauses: list[str],
        conds: list[str],
        sort: str,
        offset: int,
        limit: int,
        facets: bool,
        deadline: float,
        highlight: bool = True,
    ) -> None:
        """Fill ``results``: the every-word part, then the some-word part when it is needed."""
        need = offset + limit
        ranked = sort == "relevance" and bool(clauses)
        pool = max(RANK_POOL, need) if ranked else 0
        any_q = _join(clauses, "||") if clauses else None
        all_q = _join(clauses, "&&") if clauses else None
        kinds: dict[str, int] = {}
        tags: dict[str, int] = {}
        estimates: list[int] = []
        if any_q is not None and all_q is not None and len(clauses) > 1:
            # One plan gives the size of every part: the order in which to read the words
            # (rarest first) and the total when the some-word part is not counted.
            estimates = _estimated_rows(
                session, sql, [_where(_match(q_), *conds) for q_ in (any_q, all_q, *clauses)]
            )
        first = _Scan.run(
            session,
            sql,
            [_match(all_q)] if all_q is not None else ["true"],
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
                estimate = _estimated_rows(session, sql, [_where(*_ors(any_q), *conds)])[0]
                estimates = [estimate, estimate]
            results.complete = max(first.docs, estimates[1])
            results.total = max(results.complete, estimates[0])
        elif len(clauses) > 1 and first.docs < need:
            _check(session, deadline)
            # Rarest words first: ts_rank has no idea how rare a word is, so the documents
            # worth ranking are those with the rare words; the common ones fill what is left.
            order = sorted(range(len(clauses)), key=lambda i: estimates[2 + i])
            seen = [f"post_id <> ALL({sql.param(first.ids)})"] if first.ids else []
            rest = _Scan.run(
                session,
                sql,
                [_match(clauses[i]) for i in order],
                [*conds, *seen],
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
            page = _ordered_page(session, sql, any_q, conds, sort, offset, limit)
        if page:
            _check(session, deadline)
            results.hits = _highlighted(session, sql, page, any_q if highlight else None)

    def highlight(self, session: Session, query_: q.Query, hits: Sequence[Hit]) -> list[Hit]:
        """``hits`` with their snippet and title highlighted for ``query_`` (ts_headline on
        these documents only)."""
        if not hits:
            return []
        sql = _Sql()
        clauses = [sql.node(n) for n in query_.clauses]
        any_q = _join(clauses, "||") if clauses else None
        if any_q is None:
            return list(hits)
        return _highlighted(session, sql, [(h.id, h.relevance) for h in hits], any_q)

    def similar(
        self, session: Session, title: str, limit: int, kinds: Sequence[str] = ("question",)
    ) -> list[Hit]:
        """Posts of ``kinds`` sharing the most content words with ``title`` (not "how do" or
        "what is"), then the best ts_rank among those.

        The pool ranked is the best SIMILAR_POOL matches by title and tags (the small vector
        in the row); only those read their whole document.
        """
        # One word per stem: "deploy deployment" is one content word.
        by_stem = {words.stem(w): w for w in words.content_words(title)}
        content = list(by_stem.values())[: words.MAX_SIMILAR_WORDS]
        if not content:
            return []
        sql = _Sql()
        per_word = [sql.node(q.Word(w)) for w in content]
        any_q = _join(per_word, "||")
        overlap = " + ".join(f"(d.document @@ {w})::int" for w in per_word)
        kind = f"kind = ANY({sql.param(list(kinds))})"
        # The pool: matches by title and tags first (ts_rank of the title vector is above
        # zero exactly for them), read through the title's GIN index; then, only when they
        # are fewer than SIMILAR_POOL, matches elsewhere in the document, newest first (their
        # title rank is zero). A title's common words match most documents: testing ``@@``
        # on each whole document, read out of line, took a second at 100k posts.
        in_title = f"(title_document @@ {any_q})"
        rows = sql.rows(
            session,
            "WITH pool AS MATERIALIZED (SELECT post_id FROM ("
            f"(SELECT post_id FROM search_documents WHERE {in_title} AND {kind}"
            f" ORDER BY ts_rank(title_document, {any_q}) DESC, post_id DESC"
            f" LIMIT {SIMILAR_POOL}) UNION ALL"
            f" (SELECT post_id FROM search_documents WHERE {_match(any_q)} AND NOT {in_title}"
            f" AND {kind} ORDER BY post_id DESC LIMIT {SIMILAR_POOL})) AS matches"
            f" LIMIT {SIMILAR_POOL})"
            f" SELECT {', '.join('d.' + c for c in _STORED_COLUMNS)}, {overlap} AS overlap,"
            f" ts_rank(d.document, {any_q}) AS rank FROM search_documents AS d"
            " JOIN pool ON pool.post_id = d.post_id"
            f" ORDER BY overlap DESC, rank DESC, d.post_id DESC LIMIT {int(limit)}",
        )
        return [_hit(r, "", "", float(r.rank)) for r in rows]

    def stored_hits(self, session: Session, ids: Sequence[int]) -> dict[int, Hit]:
        """Hits for the indexed documents among ``ids``, from their stored columns."""
        if not ids:
            return {}
        sql = _Sql()
        rows = sql.rows(
            session,
            f"SELECT {_STORED} FROM search_documents WHERE post_id = ANY({sql.param(list(ids))})",
        )
        return {int(r.post_id): _hit(r, "", "", 0.0) for r in rows}

    def experts_evidence(self, session: Session, query_: q.Query, limit: int) -> list[Hit]:
        """Answers and articles matching ``query_`` by known (not anonymous) authors."""
        sql = _Sql()
        clauses = [sql.node(n) for n in query_.clauses]
        conds = sql.conditions(query_)
        if not clauses and not conds:
            return []
        rank = "1.0"
        if clauses:
            any_q = _join(clauses, "||")
            conds.append(_match(any_q))
            rank = f"ts_rank(document, {any_q})"
        where = _where(*conds, _EVIDENCE_KINDS, "author_id IS NOT NULL")
        return _ranked(session, sql, rank, where, limit)

    def correct(self, session: Session, words_: Sequence[str]) -> dict[str, str]:
        """Offer for each unknown word the closest, most used word of the index (titles,
        tags, the start of bodies) within ``words.max_edits``; known words are left alone."""
        out: dict[str, str] = {}
        asked = [w for w in dict.fromkeys(w.lower() for w in words_) if words.correctable(w)]
        for word in self._unknown(session, asked):
            candidates = self._close_words(session, word)

            def frequency(found: Sequence[str]) -> dict[str, int]:
                return self._frequencies(session, found)

            best = words.best_correction(word, candidates, frequency)
            if best:
                out[word] = best
        return out

    @staticmethod
    def _unknown(session: Session, words_: Sequence[str]) -> list[str]:
        """Those of ``words_`` that no document has in any form (stop words are known), in
        order; one statement (every search asks)."""
        if not words_:
            return []
        rows = session.execute(
            text(
                "SELECT w FROM unnest(CAST(:words AS text[])) WITH ORDINALITY AS u(w, n)"
                " WHERE numnode(plainto_tsquery('english', w)) > 0 AND NOT EXISTS (SELECT 1"
                " FROM search_documents WHERE document @@ plainto_tsquery('english', w))"
                " ORDER BY n"
            ),
            {"words": list(words_)},
        ).scalars()
        return [str(w) for w in rows]

    def _uses_trigrams(self, session: Session) -> bool:
        """Whether the words table has its pg_trgm index (the migration's choice)."""
        if self._trigram is None:
            found = session.execute(
                text(
                    "SELECT 1 FROM pg_indexes WHERE indexname = 'ix_search_words_trigram'"
                    " AND indexdef LIKE '%gin_trgm_ops%'"
                )
            ).scalar()
            with self._lock:
                self._trigram = bool(found)
        return self._trigram

    def _close_words(self, session: Session, word: str) -> list[str]:
        """Words of the table that may lie within two edits of ``word``: the most similar
        by trigrams (a low threshold: short words share few), else those of its first
        letter and a close length."""
        limit = words.max_edits(word)
        lengths = {"lo": len(word) - limit, "hi": len(word) + limit}
        first = {"first": word[0], "next": chr(ord(word[0]) + 1)}
        if self._uses_trigrams(session):
            session.execute(text("SELECT set_config('pg_trgm.similarity_threshold', '0.15', true)"))
            rows = session.execute(
                text(
                    "SELECT word FROM search_words WHERE word % :w"
                    " AND length(word) BETWEEN :lo AND :hi"
                    " ORDER BY similarity(word, :w) DESC, word LIMIT :n"
                ),
                {"w": word, "n": CORRECTION_CANDIDATES, **lengths},
            ).scalars()
            return [str(w) for w in rows]
        rows = session.execute(
            text(
                "SELECT word FROM search_words WHERE word >= :first AND word < :next"
                " AND length(word) BETWEEN :lo AND :hi"
            ),
            {**first, **lengths},
        ).scalars()
        return [str(w) for w in rows]

    @staticmethod
    def _frequencies(session: Session, found: Sequence[str]) -> dict[str, int]:
        """In how many documents (up to CORRECTION_COUNT) each word, in any form, is found."""
        if not found:
            return {}
        rows = session.execute(
            text(
                "SELECT w, (SELECT count(*) FROM (SELECT 1 FROM search_documents"
                " WHERE document @@ plainto_tsquery('english', w)"
                f" LIMIT {CORRECTION_COUNT}) AS m) FROM unnest(CAST(:words AS text[])) AS w"
            ),
            {"words": list(found)},
        ).all()
        return {str(w): int(n) for w, n in rows}


class _Sql:
    """One search's SQL text and the values of its placeholders.

    Statements are written as text, with every value from the query in a placeholder
    (psycopg's ``%(name)s``) and only numbers computed here written inline: building the
    same statements with SQLAlchemy's expression objects took longer than running them.
    A value used in several places (a query word) is one placeholder used several times.
    """

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def param(self, value: Any) -> str:
        """A new placeholder for ``value``."""
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"%({name})s"

    def rows(self, session: Session, statement: str) -> Sequence[Any]:
        """Run ``statement`` in the session's transaction with every value given so far."""
        return session.connection().exec_driver_sql(statement, self.values).all()

    def node(self, node: q.Node) -> str:
        """A tsquery expression for a word, a phrase, or an OR/AND of them."""
        if isinstance(node, q.Word):
            if node.prefix:
                return f"to_tsquery('{CONFIG}', {self.param(_quote(node.text) + ':*')})"
            return f"plainto_tsquery('{CONFIG}', {self.param(node.text)})"
        if isinstance(node, q.Phrase):
            return f"phraseto_tsquery('{CONFIG}', {self.param(' '.join(node.words))})"
        return _join([self.node(n) for n in node.parts], "||" if isinstance(node, q.Any_) else "&&")

    def _exact(self, kind: str, value: str) -> str:
        return _match(f"CAST({self.param(_quote(_marker(kind, value)))} AS tsquery)")

    def conditions(self, parsed: q.Query) -> list[str]:
        """The filters of ``parsed`` (tags, people, kinds, states, scores, dates, exclusions)."""
        conds = [self._exact("tag", tag) for tag in parsed.tags]
        conds += [f"NOT {self._exact('tag', tag)}" for tag in parsed.excluded_tags]
        conds += [self._exact("user", user) for user in parsed.users]
        kinds = set(parsed.kinds)
        if parsed.article_types:
            conds.append(f"subtype = ANY({self.param(sorted(parsed.article_types))})")
            if not kinds:
                kinds.add("article")
        if not kinds and parsed.statuses & {"answered", "unanswered"}:
            kinds.add("question")
        if kinds:
            conds.append(f"kind = ANY({self.param(sorted(kinds))})")
        if "answered" in parsed.statuses:
            conds.append("answer_count > 0")
        if "unanswered" in parsed.statuses:
            conds.append("answer_count = 0")
        if "accepted" in parsed.statuses:
            conds.append("accepted IS TRUE")
        for r in parsed.score:
            conds.append(f"score {_OPERATORS[r.op]} {self.param(int(r.value))}")  # type: ignore[arg-type]
        for r in parsed.created:
            conds += self._created(r)
        conds += [f"NOT {_match(self.node(node))}" for node in parsed.excluded]
        return conds

    def _created(self, r: q.Range) -> list[str]:
        day = r.value
        assert isinstance(day, dt.date)
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        end = start + dt.timedelta(days=1)
        if r.op == "=":
            return [f"created_at >= {self.param(start)}", f"created_at < {self.param(end)}"]
        bound = {">": (">=", end), ">=": (">=", start), "<": ("<", start)}.get(r.op, ("<", end))
        return [f"created_at {bound[0]} {self.param(bound[1])}"]


_EVIDENCE_KINDS = "kind IN ('answer', 'article')"
_OPERATORS = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "=": "="}


def _join(parts: list[str], operator: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + f" {operator} ".join(parts) + ")"


def _match(tsquery: str) -> str:
    return f"(document @@ {tsquery})"


def _ors(tsquery: str | None) -> list[str]:
    return [] if tsquery is None else [_match(tsquery)]


def _where(*conditions: str) -> str:
    return " AND ".join(conditions) if conditions else "true"


def _show_brackets(text_: str) -> str:
    return text_.replace(LT, "<").replace(GT, ">")


def _merge(into: dict[str, int], counts: dict[str, int]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


class _OutOfTime(Exception):
    """The search's time ran out between two statements."""


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
        sql: _Sql,
        branches: list[str],
        conds: list[str],
        any_q: str | None,
        *,
        cap: int,
        pool: int,
        offset: int,
        limit: int,
        facets: bool,
        keep_ids: int,
    ) -> _Scan:
        """One statement: scan the branches in order, count, facet, rank a pool, page."""
        offset, limit = int(offset), int(limit)
        # Only the title vector, kept in the row, is read for every scanned match.
        pre = f"ts_rank(title_document, {any_q})" if any_q is not None else "0.0"
        # Enough rows to count up to the cap and to reach the requested page.
        scan = max(cap, offset + limit) + 1
        parts = [
            f"SELECT post_id, kind, tags, {pre} AS pre, {i} AS tier FROM search_documents"
            f" WHERE {_where(branch, *conds)} LIMIT {scan}"
            for i, branch in enumerate(branches)
        ]
        if len(parts) == 1:
            ctes = f"scanned AS MATERIALIZED ({parts[0]})"
            docs = "scanned"
        else:
            # Each branch reads its GIN bitmap only when the ones before did not fill the scan.
            union = " UNION ALL ".join(f"({part})" for part in parts)
            ctes = (
                f"scanned AS MATERIALIZED (SELECT * FROM ({union}) AS branches LIMIT {scan}),"
                " docs AS MATERIALIZED (SELECT post_id, kind, tags, max(pre) AS pre,"
                " min(tier) AS tier FROM scanned GROUP BY post_id, kind, tags)"
            )
            docs = "docs"
        columns = [
            "(SELECT count(*) FROM scanned)",
            f"(SELECT count(*) FROM {docs})" if docs != "scanned" else "NULL",
        ]
        if facets:
            counted = f"(SELECT kind, tags FROM {docs} LIMIT {cap + 1}) AS counted"
            columns += [
                "(SELECT json_object_agg(kind, n) FROM (SELECT kind, count(*) AS n"
                f" FROM {counted} GROUP BY kind) AS by_kind)",
                "(SELECT json_object_agg(tag, n) FROM (SELECT tag, count(*) AS n FROM"
                f" (SELECT unnest(string_to_array(tags, ',')) AS tag FROM {counted}"
                " WHERE tags <> '') AS tag_rows GROUP BY tag) AS by_tag)",
            ]
        else:
            columns += ["NULL", "NULL"]
        if pool and limit > 0 and any_q is not None:
            # Among some-word matches, those with a rarer word come first (the tier); within
            # a tier, and among every-word matches (one tier), ts_rank decides.
            columns.append(
                "(SELECT json_agg(json_build_array(post_id, rank)"
                " ORDER BY tier, rank DESC, post_id DESC) FROM"
                f" (SELECT d.post_id, chosen.tier, ts_rank(d.document, {any_q})"
                " * (1.0 + 0.05 * ln(1 + greatest(d.score, 0))) AS rank"
                " FROM search_documents AS d JOIN (SELECT post_id, tier FROM"
                f" {docs} ORDER BY tier, pre DESC, post_id DESC LIMIT {pool}) AS chosen"
                " ON chosen.post_id = d.post_id ORDER BY chosen.tier, rank DESC, d.post_id DESC"
                f" LIMIT {limit} OFFSET {offset}) AS ranked)"
            )
        else:
            columns.append("NULL")
        if keep_ids:
            columns.append(
                f"(SELECT array_agg(post_id) FROM (SELECT post_id FROM {docs}"
                f" LIMIT {keep_ids + 1}) AS first_ids)"
            )
        else:
            columns.append("NULL")
        row = sql.rows(session, f"WITH {ctes} SELECT {', '.join(columns)}")[0]
        rows = int(row[0])
        distinct = rows if row[1] is None else int(row[1])
        return cls(
            docs=min(cap + 1, distinct),
            # A scan that stopped early (or found more than the cap) did not count everything.
            capped=rows >= scan or distinct > cap,
            kinds={str(k): int(n) for k, n in (_json(row[2]) or {}).items()},
            tags={str(k): int(n) for k, n in (_json(row[3]) or {}).items()},
            page=[(int(pid), float(rel or 0)) for pid, rel in (_json(row[4]) or [])],
            ids=[int(i) for i in (row[5] or [])],
        )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


#: What a hit shows (the document itself stays in storage).
_STORED_COLUMNS = (
    "post_id",
    "kind",
    "subtype",
    "slug",
    "title",
    "body",
    "tags",
    "score",
    "answer_count",
    "accepted",
    "question_id",
    "created_at",
    "username",
    "author_id",
)
_STORED = ", ".join(_STORED_COLUMNS)


def _highlighted(
    session: Session, sql: _Sql, page: list[tuple[int, float]], any_q: str | None
) -> list[Hit]:
    """The page's hits with their snippets (ts_headline reads only these documents' text)."""
    if any_q is not None:
        # ts_headline drops anything that looks like an HTML tag: hide the brackets.
        lt, gt = sql.param(LT), sql.param(GT)
        body_hl = (
            f"ts_headline('{CONFIG}', replace(replace(body, '<', {lt}), '>', {gt}), {any_q},"
            f" {sql.param(HEADLINE)})"
        )
        title_hl = (
            f"ts_headline('{CONFIG}', replace(replace(title, '<', {lt}), '>', {gt}), {any_q},"
            f" {sql.param(TITLE_HEADLINE)})"
        )
    else:
        body_hl = title_hl = "''"
    rows = sql.rows(
        session,
        f"SELECT {_STORED}, {body_hl} AS snippet, {title_hl} AS title_html"
        f" FROM search_documents WHERE post_id = ANY({sql.param([pid for pid, _ in page])})",
    )
    by_id = {row.post_id: row for row in rows}
    return [
        _hit(by_id[pid], by_id[pid].snippet, by_id[pid].title_html, rel)
        for pid, rel in page
        if pid in by_id
    ]


def _ordered_page(
    session: Session,
    sql: _Sql,
    any_q: str | None,
    conds: list[str],
    sort: str,
    offset: int,
    limit: int,
) -> list[tuple[int, float]]:
    """A page by date or votes (or, without words, newest first) over every match."""
    order = {
        "newest": "created_at DESC, post_id DESC",
        "votes": "score DESC, created_at DESC",
    }.get(sort, "post_id DESC")
    rows = sql.rows(
        session,
        f"SELECT post_id FROM search_documents WHERE {_where(*_ors(any_q), *conds)}"
        f" ORDER BY {order} OFFSET {int(offset)} LIMIT {int(limit)}",
    )
    return [(int(r[0]), 0.0) for r in rows]


def _ranked(session: Session, sql: _Sql, rank: str, where: str, limit: int) -> list[Hit]:
    """The ``limit`` documents matching ``where`` with the highest ``rank``, without snippets."""
    rows = sql.rows(
        session,
        f"SELECT {_STORED}, {rank} AS rank FROM search_documents WHERE {where}"
        f" ORDER BY rank DESC, post_id DESC LIMIT {int(limit)}",
    )
    return [_hit(r, "", "", float(r.rank)) for r in rows]


def _estimated_rows(session: Session, sql: _Sql, wheres: list[str]) -> list[int]:
    """The planner's estimate of how many documents match each of ``wheres`` (none are read)."""
    parts = [f"SELECT post_id FROM search_documents WHERE {w}" for w in wheres]
    plan = _json(sql.rows(session, "EXPLAIN (FORMAT JSON) " + " UNION ALL ".join(parts))[0][0])
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
