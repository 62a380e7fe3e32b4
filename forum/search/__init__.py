"""The search interface: index, delete, search, suggest, similar; the backend is configured."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from forum.db import begin_writing, carry, get_engine, session_factory, utcnow
from forum.models import SearchOutbox, ZeroResultQuery
from forum.search import outbox, vectors
from forum.search import words as word_forms
from forum.search.backends import close_backends, get_backend, search_config
from forum.search.base import SORTS, TIME_LIMIT, Backend, Hit, Results
from forum.search.documents import build_documents
from forum.search.query import All, Any_, Node, Query, QueryRefused, Word, parse
from forum.services.visibility import visible_post_ids

__all__ = [
    "ASK_KINDS",
    "SORTS",
    "Hit",
    "Page",
    "QueryRefused",
    "Results",
    "backend_status",
    "close_backends",
    "corrected",
    "correctable_words",
    "delete",
    "evidence",
    "fuse",
    "get_backend",
    "index",
    "init_app",
    "live_hits",
    "ranking",
    "related",
    "search",
    "search_config",
    "similar",
    "suggest",
    "with_corrections",
    "with_leaders",
]


def init_app(app: Flask) -> None:
    """Keep the app's index equal to its database: every session of the app queues the posts
    its flushes change (the outbox) and drains the queue after its commit."""
    carry(app, outbox.CONFIG_KEY, search_config(app.config))
    outbox.follow(session_factory(app))


def session_backend(session: Session) -> Backend:
    """The backend configured on ``session`` (through the app's sessionmaker)."""
    config = session.info.get(outbox.CONFIG_KEY)
    if not config:
        raise RuntimeError("this session was not made by the app: it has no search config")
    return get_backend(config)


def _time_limit(session: Session) -> float:
    """Seconds a search on ``session`` may run (the app's SEARCH_TIME_LIMIT)."""
    config = session.info.get(outbox.CONFIG_KEY) or {}
    return float(config.get("time_limit", TIME_LIMIT))


def index(session: Session, post_ids: Iterable[int]) -> None:
    """Queue posts for (re)indexing in the session's transaction."""
    rows = [{"post_id": int(i)} for i in post_ids]
    if rows:
        session.execute(insert(SearchOutbox), rows)
        session.info[outbox.PENDING_KEY] = True


def delete(session: Session, post_ids: Iterable[int]) -> None:
    """Queue posts for removal: a drain deletes documents whose posts are gone or deleted."""
    index(session, post_ids)


@dataclass
class Page:
    """What the results page shows."""

    text: str
    query: Query | None = None
    results: Results = field(default_factory=Results)
    page: int = 1
    per_page: int = 20
    sort: str = "relevance"
    refused: str | None = None
    suggestion: str | None = None
    #: The ranking used ("hybrid", "lexical" or "semantic"), and why meaning is not used.
    ranking: str = "lexical"
    semantic_off: str | None = None

    @property
    def pages(self) -> int:
        """Number of pages."""
        return max(1, -(-self.results.total // self.per_page))


def search(
    session: Session,
    text: str,
    *,
    sort: str = "relevance",
    page: int = 1,
    per_page: int = 20,
    record_zero: bool = True,
    member_id: int | None = None,
) -> Page:
    """Run the query language ``text``: results, facets, did-you-mean.

    A word no post has is searched as itself or its did-you-mean correction (``word OR
    correction``), by the lexical ranking and, corrected, by the semantic one.

    A member's search that finds nothing is recorded (once per member, query and day), in a
    writing transaction of its own: the session's reading one is committed first. Visitors'
    searches are not recorded.
    """
    text = text.strip()
    result = Page(
        text=text, page=page, per_page=per_page, sort=sort if sort in SORTS else "relevance"
    )
    result.semantic_off = semantic_off(session)
    if result.semantic_off is None:
        result.ranking = vectors.ranking(session.info.get(outbox.CONFIG_KEY) or {})
    if not text:
        return result
    try:
        parsed = parse(text)
    except QueryRefused as exc:
        result.refused = str(exc)
        return result
    result.query = parsed
    backend = session_backend(session)
    mode = result.ranking
    # Unknown words are searched as themselves or their correction (did-you-mean's), by
    # both rankings: "kuberentes ingress" finds what "kubernetes ingress" finds.
    corrections = backend.correct(session, correctable_words(parsed))
    searched = with_corrections(parsed, corrections)
    free = corrected(free_text(text), corrections) if parsed.clauses else ""
    if not parsed.is_empty and mode != "lexical" and free and result.sort == "relevance":
        result.results = _fused_search(
            session, backend, searched, free, mode, offset=(page - 1) * per_page, limit=per_page
        )
        result.results = _without_removed(session, result.results)
    elif not parsed.is_empty:
        result.results = backend.search(
            session,
            searched,
            sort=result.sort,
            offset=(page - 1) * per_page,
            limit=per_page,
            time_limit=_time_limit(session),
        )
        result.results = _without_removed(session, result.results)
    fixed = corrected(text, corrections)
    result.suggestion = fixed if fixed != text else None
    if result.results.total == 0 and record_zero and page == 1 and member_id is not None:
        begin_writing(session)
        record_zero_result(session, member_id, text)
    return result


def normalize_query(text: str) -> str:
    """How zero-result searches are grouped: lower case, single spaces."""
    return " ".join(text.lower().split())[:500]


def query_stems(text: str) -> str:
    """How the gaps page groups zero-result searches: the content words stemmed, without
    repeats, sorted ("docker deploy" for "Deploying Docker deployments"); the normalised
    query when no content word is left."""
    stems = sorted({word_forms.stem(w) for w in word_forms.content_words(text)})
    return " ".join(stems)[:500] or normalize_query(text)


def record_zero_result(session: Session, member_id: int, text: str) -> None:
    """Record a member's search that found nothing: one row per member, query and day, whose
    time is that of the latest such search (one statement, an upsert)."""
    now = utcnow()
    values = {
        "query": text[:500],
        "normalized": normalize_query(text),
        "stems": query_stems(text),
        "user_id": member_id,
        "day": now.date(),
        "created_at": now,
    }
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert_into(ZeroResultQuery)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["user_id", "normalized", "day"], set_={"created_at": now}
        )
    )


def suggest(session: Session, text: str, *, parsed: Query | None = None) -> str | None:
    """ "Did you mean": ``text`` with unknown words replaced by common close ones."""
    try:
        parsed = parsed or parse(text)
    except QueryRefused:
        return None
    words = correctable_words(parsed)
    if not words:
        return None
    corrections = session_backend(session).correct(session, words)
    if not corrections:
        return None
    fixed = corrected(text, corrections)
    return fixed if fixed != text else None


#: A word of the query text that a correction may replace: letters only, not an operator's
#: value (``tag:x``) and not glued to other word characters.
_CORRECTABLE = re.compile(r"(?<![:\w])[^\W\d_]+(?![:\w])")


def corrected(text: str, corrections: Mapping[str, str]) -> str:
    """``text`` with each word that has a correction replaced by it."""
    if not corrections:
        return text

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        return corrections.get(word.lower(), word)

    return _CORRECTABLE.sub(replace, text)


def correctable_words(parsed: Query) -> list[str]:
    """The query's plain words, without repeats, that a correction may stand beside: words
    and alternatives (``a OR b``), not phrases, prefixes (``kube*``) or excluded words."""
    out: dict[str, None] = {}

    def walk(node: Node) -> None:
        if isinstance(node, Word):
            if not node.prefix and word_forms.correctable(node.text):
                out.setdefault(node.text, None)
        elif isinstance(node, (Any_, All)):
            for part in node.parts:
                walk(part)

    for clause in parsed.clauses:
        walk(clause)
    return list(out)


def with_corrections(parsed: Query, corrections: Mapping[str, str]) -> Query:
    """``parsed`` with each corrected word matching itself or its correction (``word OR
    correction``): a document with the correction counts as having the word."""
    if not corrections:
        return parsed

    def rewrite(node: Node) -> Node:
        if isinstance(node, Word):
            fix = None if node.prefix else corrections.get(node.text)
            return Any_((node, Word(fix))) if fix and fix != node.text else node
        if isinstance(node, Any_):
            return Any_(tuple(rewrite(n) for n in node.parts))
        if isinstance(node, All):
            return All(tuple(rewrite(n) for n in node.parts))
        return node

    return dataclasses.replace(parsed, clauses=[rewrite(c) for c in parsed.clauses])


#: What the ask page's similar-posts box lists: questions and articles.
ASK_KINDS = ("question", "article")


def similar(
    session: Session, title: str, limit: int = 5, kinds: Sequence[str] = ("question",)
) -> list[Hit]:
    """Posts of ``kinds`` resembling a title being typed: those sharing the most content
    words with it (question words and stop words such as "how do" do not count)."""
    title = title.strip()[:300]
    if len(title) < 3:
        return []
    backend = session_backend(session)
    mode = ranking(session)
    if mode == "lexical":
        return live_hits(session, backend.similar(session, title, limit, kinds))
    pool = max(limit * 4, 20)
    started = start_semantic(session, title)
    lexical = backend.similar(session, title, pool, kinds) if mode == "hybrid" else []
    meaning = semantic_hits(
        session, title, pool, kinds=kinds, min_similarity=SIMILAR_MIN_SIMILARITY, started=started
    )
    return live_hits(session, _fused_hits(lexical, meaning))[:limit]


def live_hits(session: Session, hits: list[Hit]) -> list[Hit]:
    """``hits`` without posts removed since they were indexed (the index may lag a drain)."""
    live = visible_post_ids(session, None, {hit.id for hit in hits})
    return [hit for hit in hits if hit.id in live]


def _without_removed(session: Session, results: Results) -> Results:
    """One page of results without removed posts, its counts lowered by those dropped."""
    hits = live_hits(session, results.hits)
    dropped = len(results.hits) - len(hits)
    if dropped:
        results.hits = hits
        results.total = max(0, results.total - dropped)
        results.complete = min(results.complete, results.total)
    return results


def related(session: Session, question_id: int, title: str, limit: int = 5) -> list[Hit]:
    """Questions like ``question_id`` (itself left out), for the question page's sidebar.

    Titles and answer counts come from the index's stored fields: no database query on
    Whoosh, one on PostgreSQL.
    """
    hits = similar(session, title, limit=limit + 1)
    return [hit for hit in hits if hit.id != question_id][:limit]


def backend_status(config: dict[str, Any] | Any, engine: Engine | None = None) -> dict[str, Any]:
    """What /healthz reports about search: the backend, its storage, and the outbox backlog."""
    status = _storage_status(config)
    try:
        if engine is None:
            engine = get_engine()
        with Session(engine) as session:
            off = semantic_off(session, search_config(config))
        status["ranking"] = "lexical" if off else vectors.ranking(search_config(config))
        status["semantic"] = "off: " + off if off else "on"
        if not off:
            status["embedder"] = vectors.embedder_status(search_config(config))
        count, age = outbox.pending(engine)
        status["pending"] = count
        status["oldest_pending_seconds"] = None if age is None else round(age, 1)
        status["quarantined"] = outbox.quarantined(engine, limit=0)[0]
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        status["pending_error"] = type(exc).__name__
    return status


def _storage_status(config: dict[str, Any] | Any) -> dict[str, Any]:
    backend = config["SEARCH_BACKEND"]
    if backend == "postgres":
        ok = str(config["DATABASE_URL"]).startswith("postgresql")
        return {
            "backend": backend,
            "ok": ok,
            **({} if ok else {"error": "the postgres backend needs a PostgreSQL database"}),
        }
    index_dir = Path(config["SEARCH_INDEX_DIR"])
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return {"backend": backend, "ok": False, "error": f"index directory: {exc.strerror}"}
    writable = os.access(index_dir, os.W_OK)
    return {
        "backend": backend,
        "ok": writable,
        **({} if writable else {"error": "index directory is not writable"}),
    }


# --- semantic and hybrid ranking ----------------------------------------------------------

#: Reciprocal rank fusion's constant: a hit at rank r of a ranking scores 1 / (RRF_K + r).
RRF_K = 60
#: How many hits of each ranking are fused.
FUSED = 50
#: Each ranking's first LEADERS hits are always among the fused first LEADERS_PAGE (the
#: first page): reciprocal rank fusion alone ranks a post first by words but unseen by
#: meaning (a title's exact words, a name the model does not know) below every post both
#: rankings found in their top 50 or so.
LEADERS = 2
LEADERS_PAGE = 10
#: Nearest vectors read before filters (tags, kinds, ...) are applied.
SEMANTIC_POOL = 200
#: Below this cosine similarity a post is not offered on meaning alone (a query of unknown
#: words, or gibberish, then finds nothing rather than the least unrelated posts).
MIN_SIMILARITY = 0.3
#: The same for the similar-questions box and related questions, which must stay on topic.
SIMILAR_MIN_SIMILARITY = 0.4
_OPERATOR = re.compile(r"^-|^\w+:\S|^[()]+$|^OR$")


def ranking(session: Session) -> str:
    """The ranking searches on ``session`` use: SEARCH_RANKING, or "lexical" when the model
    is not installed (or, on PostgreSQL, pgvector is not)."""
    if semantic_off(session) is not None:
        return "lexical"
    config = session.info.get(outbox.CONFIG_KEY) or {}
    return vectors.ranking(config)


def semantic_off(session: Session | None, config: Mapping[str, Any] | None = None) -> str | None:
    """Why search does not rank by meaning here, in plain words (None: it does)."""
    if config is None:
        assert session is not None
        config = session.info.get(outbox.CONFIG_KEY) or {}
    if config.get("ranking", "hybrid") == "lexical":
        return "SEARCH_RANKING is lexical"
    if vectors.embedder(config) is None:
        return "the embedding model is not installed (the semantic extra)"
    if session is not None and session.get_bind().dialect.name == "postgresql":
        if not vectors.pgvector_ready(session):
            return "the pgvector extension is not installed in the database"
    return None


def free_text(text: str) -> str:
    """The words of a query without its operators (``tag:x``, ``-word``, ``OR``, brackets):
    what the model reads."""
    kept = [t for t in text.replace('"', " ").split() if not _OPERATOR.search(t)]
    return " ".join(t.strip("()") for t in kept).strip()


def fuse(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: ids with their summed 1 / (k + rank), best first (ties keep
    the order of first appearance)."""
    scores: dict[int, float] = {}
    for ranked in rankings:
        for rank, item in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: n for n, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))


def with_leaders(
    fused: Sequence[tuple[int, float]],
    rankings: Sequence[Sequence[int]],
    lead: int = LEADERS,
    page: int = LEADERS_PAGE,
) -> list[tuple[int, float]]:
    """``fused`` with the first ``lead`` of every ranking among its first ``page``: a post
    one ranking puts first but the other never saw keeps a place on the first page, in the
    places of the lowest fused posts that are no ranking's leaders (order otherwise kept)."""
    leaders = list(dict.fromkeys(item for ranked in rankings for item in ranked[:lead]))
    top = list(fused[:page])
    shown = {item for item, _ in top}
    missing = [item for item in leaders if item not in shown]
    if not missing:
        return list(fused)
    chosen = set(leaders)
    replaceable = [pair for pair in top if pair[0] not in chosen]
    dropped = {item for item, _ in replaceable[len(replaceable) - len(missing) :]}
    scores = dict(fused)
    head = [pair for pair in top if pair[0] not in dropped]
    head += [(item, scores[item]) for item in missing][: page - len(head)]
    placed = {item for item, _ in head}
    return head + [pair for pair in fused if pair[0] not in placed]


def _fused_hits(lexical: list[Hit], meaning: list[Hit]) -> list[Hit]:
    """Both lists fused, each one's leaders on the first page; a post found by both keeps
    the lexical hit (its highlighting)."""
    by_id = {h.id: h for h in meaning}
    by_id.update({h.id: h for h in lexical})
    rankings = [[h.id for h in lexical], [h.id for h in meaning]]
    fused = with_leaders(fuse(rankings), rankings)
    out = []
    for item, score in fused:
        hit = by_id[item]
        hit.relevance = score
        out.append(hit)
    return out


#: What waits for the SEMANTIC_POOL posts nearest to a text (see :func:`start_semantic`).
Nearest = Callable[[], list[tuple[int, float]]]


def start_semantic(session: Session, text: str, query: Query | None = None) -> Nearest | None:
    """Start finding the SEMANTIC_POOL posts nearest in meaning to ``text`` on another thread
    (embedding the text, then the vectors searched), so that a lexical search runs at the
    same time; None when semantic ranking is off or there is no text. With ``query``'s tag
    filter only the posts with those tags are candidates (on the matrix file: their rows; on
    PostgreSQL: applied while the index is searched, so the pool holds posts with those tags
    however few of the nearest overall have them)."""
    config = session.info.get(outbox.CONFIG_KEY) or {}
    model = vectors.embedder(config)
    if model is None or not text.strip():
        return None
    within = _tagged(session, query) if query is not None else None
    tags = tuple(query.tags) if query is not None else ()
    return vectors.start_nearest(session, config, model, text, SEMANTIC_POOL, within, tags=tags)


def _tagged(session: Session, query: Query) -> Any:
    """The ids of the indexed posts with every tag ``query`` asks for (None: no tag asked, or
    the backend cannot tell, or the vectors are searched in PostgreSQL)."""
    if not query.tags or session.get_bind().dialect.name == "postgresql":
        return None
    find = getattr(session_backend(session), "tagged_ids", None)
    return None if find is None else find(session, query.tags)


def semantic_hits(
    session: Session,
    text: str,
    limit: int,
    *,
    query: Query | None = None,
    kinds: Sequence[str] | None = None,
    min_similarity: float = MIN_SIMILARITY,
    known_authors: bool = False,
    started: Nearest | None = None,
) -> list[Hit]:
    """Up to ``limit`` posts nearest in meaning to ``text`` that pass ``query``'s filters and
    are of ``kinds``, best first (empty when semantic ranking is off). ``started`` is the
    search :func:`start_semantic` began for ``text``, if it was begun already."""
    started = started or start_semantic(session, text, query)
    if started is None:
        return []
    near = started()
    near = [(i, score) for i, score in near if score >= min_similarity]
    backend = session_backend(session)
    hits: list[Hit] = []
    # Hits come from the index's stored fields a chunk at a time (without filters the first
    # chunk is enough); whole documents only when excluded words must be looked for.
    for start in range(0, len(near), limit):
        chunk = near[start : start + limit]
        found = backend.stored_hits(session, [i for i, _ in chunk])
        bodies: dict[int, str] = {}
        if query is not None and query.excluded:
            docs = build_documents(session, list(found))
            bodies = {i: doc.body for i, doc in docs.items()}
        for item, score in chunk:
            hit = found.get(item)
            if hit is None or (kinds is not None and hit.kind not in kinds):
                continue
            if known_authors and hit.author_id is None:
                continue
            if query is not None and not vectors.accepts(hit, query, bodies.get(item, "")):
                continue
            hit.relevance = score
            hits.append(hit)
            if len(hits) >= limit:
                return hits
    return hits


def _fused_search(
    session: Session,
    backend: Backend,
    parsed: Query,
    free: str,
    mode: str,
    *,
    offset: int,
    limit: int,
) -> Results:
    """One page of results ranked by meaning (``semantic``) or by both rankings fused
    (``hybrid``): the lexical top FUSED and the semantic top FUSED, then the rest of the
    lexical ranking."""
    started = start_semantic(session, free, parsed)
    if mode == "semantic":
        meaning = semantic_hits(session, free, FUSED, query=parsed, started=started)
        results = Results(hits=meaning[offset : offset + limit], total=len(meaning))
        results.complete = results.total
        kinds: dict[str, int] = {}
        tags: dict[str, int] = {}
        for hit in meaning:
            kinds[hit.kind] = kinds.get(hit.kind, 0) + 1
            for tag in hit.tags:
                tags[tag] = tags.get(tag, 0) + 1
        results.kinds = kinds
        results.tags = sorted(tags.items(), key=lambda t: (-t[1], t[0]))[:10]
        return results
    time_limit = _time_limit(session)
    # Fusion needs the lexical ranking only: the hits shown are highlighted afterwards.
    lexical = backend.search(
        session,
        parsed,
        sort="relevance",
        offset=0,
        limit=FUSED,
        time_limit=time_limit,
        highlight=False,
    )
    meaning = semantic_hits(session, free, FUSED, query=parsed, started=started)
    fused = _fused_hits(lexical.hits, meaning)
    lexical_ids = {h.id for h in lexical.hits}
    only_meaning = [h.id for h in meaning if h.id not in lexical_ids]
    rest = max(0, lexical.total - len(lexical.hits))
    results = Results(
        hits=_highlight_lexical(
            session, backend, parsed, fused[offset : offset + limit], lexical_ids
        ),
        total=len(fused) + rest,
        # Fused ranking mixes posts with every word and others: no "with every word" count.
        complete=len(fused) + rest if lexical.complete else 0,
        kinds=dict(lexical.kinds),
        tags=list(lexical.tags),
        timed_out=lexical.timed_out,
        approximate=lexical.approximate,
    )
    for hit in meaning:
        if hit.id in only_meaning:
            results.kinds[hit.kind] = results.kinds.get(hit.kind, 0) + 1
    missing = offset + limit - len(fused)
    if missing > 0 and rest > 0:
        start = len(lexical.hits) + max(0, offset - len(fused))
        more = backend.search(
            session,
            parsed,
            sort="relevance",
            offset=start,
            limit=min(limit, missing),
            facets=False,
            time_limit=time_limit,
        )
        seen = {h.id for h in fused}
        results.hits += [h for h in more.hits if h.id not in seen]
    return results


def _highlight_lexical(
    session: Session, backend: Backend, parsed: Query, hits: list[Hit], lexical_ids: set[int]
) -> list[Hit]:
    """``hits`` with those the lexical ranking found highlighted (in place, order kept)."""
    wanted = [h for h in hits if h.id in lexical_ids]
    marked = {h.id: h for h in backend.highlight(session, parsed, wanted)}
    out = []
    for hit in hits:
        shown = marked.get(hit.id, hit)
        shown.relevance = hit.relevance
        out.append(shown)
    return out


def evidence(session: Session, query: Query, text: str, limit: int) -> list[Hit]:
    """Answers and articles by known (not anonymous) authors about ``query``: the lexical
    evidence, fused with the nearest in meaning when semantic ranking is on."""
    backend = session_backend(session)
    mode = ranking(session)
    free = free_text(text) if query.clauses else ""
    started = start_semantic(session, free, query) if mode != "lexical" and free else None
    lexical = backend.experts_evidence(session, query, limit)
    if mode == "lexical" or not free:
        return live_hits(session, lexical)
    meaning = semantic_hits(
        session,
        free,
        limit,
        query=query,
        kinds=("answer", "article"),
        known_authors=True,
        started=started,
    )
    if mode == "semantic":
        return live_hits(session, meaning)
    return live_hits(session, _fused_hits(lexical, meaning))[:limit]
