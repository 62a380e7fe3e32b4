"""Search through both backends: indexing in the transaction, the query language, relevance,
snippets, facets, suggestions, similar questions, experts and the privacy of anonymous posts."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum import search
from forum.config import DEFAULTS
from forum.db import get_engine, utcnow
from forum.models import Post, SearchOutbox, ZeroResultQuery
from forum.search import outbox
from forum.search.query import Any_, Word, parse
from forum.services import experts
from forum.services.errors import ValidationError
from tests.conftest import NO_PG, PG_URL, _truncate_all, base_config
from tests.factories import (
    make_user,
    search_answer,
    search_article,
    search_comment,
    search_question,
)

pg = pytest.mark.skipif(PG_URL is None, reason=NO_PG)
SEARCH_SETUPS = [
    pytest.param(("sqlite", "whoosh"), id="sqlite-whoosh"),
    pytest.param(("postgresql", "whoosh"), id="postgresql-whoosh", marks=pg),
    pytest.param(("postgresql", "postgres"), id="postgresql-postgres", marks=pg),
]
#: For what only the PostgreSQL backend does.
postgres_only = pytest.mark.parametrize("search_setup", [SEARCH_SETUPS[2]], indirect=True)


@pytest.fixture(params=SEARCH_SETUPS)
def search_setup(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(database, search backend): Whoosh on both databases, PostgreSQL search on PostgreSQL."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def database_url(
    search_setup: tuple[str, str], request: pytest.FixtureRequest, tmp_path: Path
) -> str:
    """A migrated, empty database of the setup's kind."""
    if search_setup[0] == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "forum.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_all(url)
    return url


@pytest.fixture
def app_config(tmp_path: Path, database_url: str, search_setup: tuple[str, str]) -> dict[str, Any]:
    """The app's configuration with the setup's search backend."""
    return base_config(tmp_path, database_url, SEARCH_BACKEND=search_setup[1])


@pytest.fixture(autouse=True)
def _close_search_backends() -> Iterator[None]:
    yield
    search.close_backends()


@dataclass
class Corpus:
    """A small, known set of posts."""

    amara: Any
    jonas: Any
    proxy: Any
    proxy_answer: Any
    k8s: Any
    k8s_answer: Any
    anon: Any
    tip: Any
    tutorial: Any
    unanswered: Any


def build_corpus(session: Session) -> Corpus:
    """Posts on a few topics, committed one by one as the app would."""
    amara = make_user(session, "amara", display_name="Amara Okafor")
    jonas = make_user(session, "jonas", display_name="Jonas Berg")
    session.commit()
    proxy = search_question(
        session,
        amara,
        "Laptop cannot reach the office proxy",
        "Since Monday my laptop refuses the office proxy configuration on the VPN.",
        tags=("network", "vpn"),
        score=3,
        created_at=dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
    )
    session.commit()
    proxy_answer = search_answer(
        session,
        proxy,
        jonas,
        "Reset the PAC file in the network settings, then reconnect.",
        score=5,
    )
    session.commit()
    proxy.accepted_answer_id = proxy_answer.id
    session.commit()
    k8s = search_question(
        session,
        jonas,
        "Rolling restart of a kubernetes deployment",
        "How do I restart every pod of a deployment without downtime?",
        tags=("kubernetes",),
        score=1,
        created_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC),
    )
    session.commit()
    k8s_answer = search_answer(
        session, k8s, amara, "Use kubectl rollout restart deployment/web.", score=7
    )
    session.commit()
    anon = search_question(
        session,
        amara,
        "Burnout and deadlines in the platform team",
        "I feel overwhelmed by deadlines; how do others cope?",
        tags=("wellbeing",),
        anonymous=True,
    )
    session.commit()
    tip = search_article(
        session,
        amara,
        "Kubernetes contexts in your shell prompt",
        "Show the current kubernetes context so you never deploy to production by mistake.",
        tags=("kubernetes", "shell"),
        article_type="tip",
        score=2,
    )
    session.commit()
    tutorial = search_article(
        session,
        jonas,
        "Kubernetes from zero: deployments and services",
        "A long walk through kubernetes deployments, services and ingress.",
        tags=("kubernetes",),
        article_type="tutorial",
        score=4,
    )
    session.commit()
    unanswered = search_question(
        session,
        jonas,
        "Printer on the third floor jams",
        "The printer jams on every duplex job.",
        tags=("office",),
    )
    session.commit()
    return Corpus(
        amara, jonas, proxy, proxy_answer, k8s, k8s_answer, anon, tip, tutorial, unanswered
    )


@pytest.fixture
def corpus(session: Session) -> Corpus:
    """The corpus, indexed."""
    return build_corpus(session)


def ids(session: Session, text: str, **kw: Any) -> list[int]:
    """Result post ids for ``text``, in order."""
    page = search.search(session, text, **kw)
    assert page.refused is None, page.refused
    assert not page.results.timed_out
    return [h.id for h in page.results.hits]


# -- consistency -------------------------------------------------------------------------


def test_a_committed_post_is_searchable_at_once_and_the_outbox_is_drained(
    session: Session,
) -> None:
    author = make_user(session)
    question = search_question(session, author, "Heliotrope calibration steps", "Use the knob.")
    session.commit()
    assert ids(session, "heliotrope") == [question.id]
    assert session.scalar(select(func.count()).select_from(SearchOutbox)) == 0


def test_a_rolled_back_post_leaves_no_outbox_row_and_no_document(session: Session) -> None:
    author = make_user(session)
    session.commit()
    search_question(session, author, "Marmalade deployment ritual", "Secret.")
    assert session.scalar(select(func.count()).select_from(SearchOutbox)) == 1
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SearchOutbox)) == 0
    assert ids(session, "marmalade") == []


def test_answers_and_comments_reindex_their_thread(session: Session, corpus: Corpus) -> None:
    search_comment(session, corpus.k8s_answer, corpus.amara, "Mind the zeppelin budget.")
    session.commit()
    # The thread and the answer (which carries its own comments) are found.
    assert sorted(ids(session, "zeppelin")) == [corpus.k8s.id, corpus.k8s_answer.id]
    answer = search_answer(session, corpus.unanswered, corpus.amara, "Descale the fuser unit.")
    session.commit()
    found = ids(session, "fuser")
    assert corpus.unanswered.id in found and answer.id in found
    assert ids(session, "is:unanswered printer") == []


def test_an_edit_replaces_the_old_text(session: Session, corpus: Corpus) -> None:
    corpus.unanswered.title = "Plotter in the basement smears ink"
    session.commit()
    assert ids(session, "plotter") == [corpus.unanswered.id]
    assert ids(session, '"third floor"') == []


def test_deleted_posts_leave_the_index(session: Session, corpus: Corpus) -> None:
    corpus.unanswered.deleted_at = utcnow()
    session.commit()
    assert ids(session, "printer") == []
    session.delete(corpus.tip)
    session.commit()
    assert corpus.tip.id not in ids(session, "prompt")


def test_bulk_updates_such_as_votes_reindex_the_post(session: Session, corpus: Corpus) -> None:
    from sqlalchemy import update

    from forum.models import Post

    session.execute(
        update(Post).where(Post.id == corpus.unanswered.id).values(score=Post.score + 9)
    )
    session.commit()
    assert ids(session, "score:>=9") == [corpus.unanswered.id]
    session.execute(update(Post).where(Post.id == corpus.k8s.id).values(view_count=5))
    assert session.scalar(select(func.count()).select_from(SearchOutbox)) == 0
    session.commit()


def test_a_view_count_change_does_not_touch_the_index(session: Session, corpus: Corpus) -> None:
    corpus.k8s.view_count += 1
    session.flush()
    assert session.scalar(select(func.count()).select_from(SearchOutbox)) == 0
    session.commit()


def test_a_failing_index_never_fails_the_commit(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(outbox, "drain", broken)
    author = make_user(session)
    search_question(session, author, "Quokka onboarding", "Hello.")
    session.commit()  # no exception
    assert session.scalar(select(func.count()).select_from(SearchOutbox)) == 1
    monkeypatch.undo()
    outbox.drain(session.get_bind(), search.session_backend(session), timeout=5)  # type: ignore[arg-type]
    assert len(ids(session, "quokka")) == 1


def test_a_busy_writer_leaves_rows_for_the_next_drain(session: Session) -> None:
    backend = search.session_backend(session)
    engine = session.get_bind()
    holder = Session(engine)
    held = backend.writer(holder, timeout=1.0)
    try:
        author = make_user(session)
        search_question(session, author, "Axolotl feeding rota", "Weekly.")
        started = time.monotonic()
        session.commit()
        assert time.monotonic() - started < 5
        count = session.scalar(select(func.count()).select_from(SearchOutbox))
        session.rollback()
    finally:
        held.cancel()
        holder.close()
    assert count == 1
    assert outbox.drain(engine, backend, timeout=5) == 1  # type: ignore[arg-type]
    assert len(ids(session, "axolotl")) == 1


def test_verify_finds_drift_and_fix_repairs_it(session: Session, corpus: Corpus) -> None:
    backend = search.session_backend(session)
    engine = session.get_bind()
    writer = backend.writer(session, timeout=5)
    writer.delete([corpus.tip.id])
    writer.commit()
    session.commit()
    drift = outbox.verify(engine, backend)  # type: ignore[arg-type]
    assert drift.missing == [corpus.tip.id] and not drift.ok
    assert outbox.verify(engine, backend, fix=True).missing == [corpus.tip.id]  # type: ignore[arg-type]
    assert outbox.verify(engine, backend).ok  # type: ignore[arg-type]


def test_rebuild_recreates_every_document(session: Session, corpus: Corpus) -> None:
    backend = search.session_backend(session)
    engine = session.get_bind()
    before = ids(session, "kubernetes")
    seen: list[int] = []
    count = outbox.rebuild(engine, backend, seen.append)  # type: ignore[arg-type]
    assert count == 8  # 4 questions, 2 answers, 2 articles
    assert seen[-1] == count
    assert sorted(ids(session, "kubernetes")) == sorted(before)
    assert outbox.verify(engine, backend).ok  # type: ignore[arg-type]


# -- the query language ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"office proxy"', ["proxy"]),
        ('"proxy office"', []),
        ("kubernetes -services", ["k8s", "k8s_answer", "tip"]),
        ('kubernetes -"from zero"', ["k8s", "k8s_answer", "tip"]),
        ("printer OR proxy", ["proxy", "unanswered"]),
        ("tag:kubernetes is:question", ["k8s"]),
        ("kubernetes -tag:shell is:article", ["tutorial"]),
        ("user:jonas is:question", ["k8s", "unanswered"]),
        ("is:answer", ["proxy_answer", "k8s_answer"]),
        ("is:article", ["tip", "tutorial"]),
        ("is:tip", ["tip"]),
        ("is:tutorial", ["tutorial"]),
        ("is:answered", ["proxy", "k8s"]),
        ("is:unanswered", ["anon", "unanswered"]),
        ("is:accepted", ["proxy", "proxy_answer"]),
        ("score:>=4", ["proxy_answer", "k8s_answer", "tutorial"]),
        ("score:>4 is:answer", ["proxy_answer", "k8s_answer"]),
        ("created:>2025-01-01 is:question tag:kubernetes", ["k8s"]),
        ("created:<2025-01-01", ["proxy"]),
        ("kuber* is:question", ["k8s"]),
        ("deploy*", ["k8s", "k8s_answer", "tip", "tutorial"]),
    ],
)
def test_operators(session: Session, corpus: Corpus, text: str, expected: list[str]) -> None:
    want = sorted(getattr(corpus, name).id for name in expected)
    assert sorted(ids(session, text)) == want


def test_every_word_matches_rank_first_and_partial_matches_are_kept(
    session: Session, corpus: Corpus
) -> None:
    page = search.search(session, "kubernetes deployment restart")
    found = [h.id for h in page.results.hits]
    complete = page.results.complete
    assert complete >= 1 and page.results.total > complete
    assert corpus.k8s.id in found[:complete]
    assert corpus.tip.id in found[complete:]  # only "kubernetes": kept, ranked later


def test_a_natural_question_finds_the_thread(session: Session, corpus: Corpus) -> None:
    found = ids(session, "why does my laptop keep refusing the office proxy")
    assert found[0] in (corpus.proxy.id, corpus.proxy_answer.id)


def test_title_matches_outrank_body_matches(session: Session) -> None:
    author = make_user(session)
    body_only = search_question(session, author, "Another topic", "It mentions gazebo once.")
    titled = search_question(session, author, "Gazebo assembly", "Screws and panels.")
    session.commit()
    assert ids(session, "gazebo") == [titled.id, body_only.id]


def test_sorting_by_newest_and_votes(session: Session, corpus: Corpus) -> None:
    newest = ids(session, "is:question", sort="newest")
    assert newest == [corpus.unanswered.id, corpus.anon.id, corpus.k8s.id, corpus.proxy.id]
    votes = ids(session, "is:question", sort="votes")
    assert votes[0] == corpus.proxy.id


def test_pagination_splits_results(session: Session) -> None:
    author = make_user(session)
    for n in range(5):
        search_question(session, author, f"Walrus fact {n}", "Walruses are large.")
    session.commit()
    first = ids(session, "walrus", per_page=2, page=1)
    second = ids(session, "walrus", per_page=2, page=2)
    third = ids(session, "walrus", per_page=2, page=3)
    assert len(first) == 2 and len(second) == 2 and len(third) == 1
    assert len(set(first + second + third)) == 5
    assert search.search(session, "walrus", per_page=2).pages == 3


def test_facets_count_kinds_and_tags(session: Session, corpus: Corpus) -> None:
    results = search.search(session, "kubernetes").results
    assert results.kinds == {"question": 1, "answer": 1, "article": 2}
    assert results.tags[0] == ("kubernetes", 4)
    assert ("shell", 1) in results.tags


def test_counts_beyond_the_scan_limit_are_marked_approximate(
    session: Session, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forum.search import postgres_backend

    exact = search.search(session, "kubernetes").results
    assert exact.total == 4 and not exact.approximate
    monkeypatch.setattr(postgres_backend, "COUNT_SCAN", 2)
    capped = search.search(session, "kubernetes").results
    if search.session_backend(session).name == "postgres":
        assert capped.approximate
        assert capped.total >= 2  # an estimate, never below what was counted
        assert 2 <= sum(capped.kinds.values()) <= 3  # facets of the scanned matches only
    else:
        # Whoosh counts every match with whole-array operations: always exact.
        assert not capped.approximate and capped.total == 4
        assert capped.kinds == exact.kinds
    assert [h.id for h in capped.hits] == [h.id for h in exact.hits]  # ranking unchanged


@postgres_only
def test_the_rarest_words_matches_fill_the_page_first(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from forum.search import postgres_backend

    author = make_user(session)
    both = search_question(session, author, "Walnut and quince jam", "Sweet.")
    for n in range(12):
        search_question(session, author, f"Walnut tree {n}", "Pruning the walnut.")
    quince = search_question(session, author, "Orchard notes", "A quince ripens late.")
    session.commit()
    # Few partial matches are read: the one with the rare word must be among them, though it
    # was written last and "walnut" alone would fill the scan.
    monkeypatch.setattr(postgres_backend, "PARTIAL_SCAN", 2)
    monkeypatch.setattr(postgres_backend, "RANK_POOL", 2)
    session.execute(text("ANALYZE search_documents"))
    session.commit()
    page = search.search(session, "walnut quince", per_page=2)
    assert page.results.complete >= 1  # no longer 0: the correction counts as the word
    assert [h.id for h in page.results.hits] == [both.id, quince.id]
    assert page.results.total >= 3


@postgres_only
def test_a_cancelled_statement_gives_timed_out_results(
    session: Session, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from forum.search import postgres_backend

    run = postgres_backend._Scan.run

    def slow(session_: Session, *args: Any, **kwargs: Any) -> Any:
        session_.execute(text("SELECT pg_sleep(2)"))
        return run(session_, *args, **kwargs)

    config = session.info["search"]
    monkeypatch.setitem(session.info, "search", {**config, "time_limit": "0.1"})
    monkeypatch.setattr(postgres_backend._Scan, "run", staticmethod(slow))
    started = time.monotonic()
    results = search.search(session, "kubernetes deployment").results
    assert time.monotonic() - started < 1.5
    assert results.timed_out and results.hits == []
    monkeypatch.undo()
    # The session is usable again and the statement timeout is back to what it was (with
    # the tests' generous limit: the point is the session, not the speed of a busy machine).
    again = search.search(session, "kubernetes deployment").results
    assert not again.timed_out and again.hits
    assert session.scalar(text("SELECT current_setting('statement_timeout')")) == "0"
    assert session.scalar(text("SELECT current_setting('enable_seqscan')")) == "on"


def test_snippets_escape_html_and_mark_matches(session: Session) -> None:
    author = make_user(session)
    search_question(
        session, author, "Sanitiser question", "Why does <script>alert(1)</script> run in the wiki?"
    )
    session.commit()
    hit = search.search(session, "sanitiser wiki").results.hits[0]
    assert "<script>" not in hit.snippet
    assert "&lt;script&gt;" in hit.snippet
    assert "<mark>wiki</mark>" in hit.snippet
    assert hit.title_html == "<mark>Sanitiser</mark> question"


def test_did_you_mean_offers_a_common_close_word(session: Session, corpus: Corpus) -> None:
    page = search.search(session, "kuberentes")
    assert page.suggestion == "kubernetes"
    assert search.suggest(session, "kubernetes") is None


def test_a_mistyped_word_finds_posts_through_its_correction(
    session: Session, corpus: Corpus
) -> None:
    # "kuberentes" is in no post: it is searched as itself or "kubernetes", the suggestion.
    page = search.search(session, "kuberentes restart")
    assert page.suggestion == "kubernetes restart"
    hits = page.results.hits
    assert hits[0].id == corpus.k8s.id  # both words (one through its correction) come first
    assert page.results.complete >= 1  # no longer 0: the correction counts as the word
    assert "<mark>kubernetes</mark>" in hits[0].title_html
    assert {h.id for h in hits} >= {corpus.k8s.id, corpus.tip.id, corpus.tutorial.id}
    # The same under every sort, in an alternative and beside filters.
    newest = search.search(session, "kuberentes is:article", sort="newest").results.hits
    assert {h.id for h in newest} == {corpus.tip.id, corpus.tutorial.id}
    either = search.search(session, "printer OR kuberentes").results.hits
    assert corpus.unanswered.id in {h.id for h in either}
    assert corpus.k8s.id in {h.id for h in either}
    # A known word is never swapped for another, nor a prefix, phrase or excluded word.
    assert search.search(session, "printer").suggestion is None
    assert search.search(session, "kuberentes*").results.total == 0
    assert search.search(session, '"kuberentes restart"').results.total == 0
    excluded = search.search(session, "restart -kuberentes").results.hits
    assert corpus.k8s.id in {h.id for h in excluded}


def test_corrections_apply_to_plain_words_only() -> None:
    parsed = parse('kuberentes OR printr "rolling restrat" kube* -deploymnet tag:ofice')
    assert search.correctable_words(parsed) == ["kuberentes", "printr"]
    fixed = search.with_corrections(parsed, {"kuberentes": "kubernetes", "restrat": "restart"})
    either = Any_((Word("kuberentes"), Word("kubernetes")))
    assert fixed.clauses[0] == Any_((either, Word("printr")))
    assert fixed.clauses[1:] == parsed.clauses[1:]
    assert fixed.excluded == parsed.excluded and fixed.tags == parsed.tags
    assert search.with_corrections(parsed, {}) is parsed
    assert search.corrected("Kuberentes tag:kuberentes", {"kuberentes": "kubernetes"}) == (
        "kubernetes tag:kuberentes"
    )


def test_zero_result_queries_are_recorded_once_per_member_query_and_day(
    session: Session,
) -> None:
    amara, jonas = make_user(session), make_user(session)
    session.commit()
    search.search(session, "nonexistent gizmo")  # a visitor: not recorded
    for member in (amara, amara, jonas):
        search.search(session, "Nonexistent  GIZMO", member_id=member.id)
        session.commit()
    rows = session.scalars(select(ZeroResultQuery).order_by(ZeroResultQuery.id)).all()
    assert [(r.normalized, r.user_id) for r in rows] == [
        ("nonexistent gizmo", amara.id),
        ("nonexistent gizmo", jonas.id),
    ]


def test_similar_lists_questions_with_answer_counts(session: Session, corpus: Corpus) -> None:
    hits = search.similar(session, "restart kubernetes deployment pods")
    assert hits[0].id == corpus.k8s.id
    assert hits[0].answer_count == 1
    assert all(h.kind == "question" for h in hits) and len(hits) <= 5
    assert search.similar(session, "ab") == []


def test_experts_rank_people_by_evidence(session: Session, corpus: Corpus) -> None:
    found = {e.user.username: e for e in experts.find_experts(session, "kubernetes")}
    assert set(found) == {"amara", "jonas"}
    assert (found["amara"].answers, found["amara"].articles) == (1, 1)
    assert (found["jonas"].answers, found["jonas"].articles) == (0, 1)
    assert found["amara"].top_tags[0] == "kubernetes"
    # A well-voted accepted answer outweighs a question asked on the topic.
    search_answer(session, corpus.proxy, corpus.amara, "The PAC file again.", score=0)
    session.commit()
    ranked = [e.user.username for e in experts.find_experts(session, "pac file")]
    assert ranked == ["jonas", "amara"]
    assert experts.find_experts(session, "") == []
    with pytest.raises(ValidationError):
        experts.find_experts(session, "*")


# -- privacy -----------------------------------------------------------------------------


def test_anonymous_posts_are_found_by_content_but_never_by_author(
    session: Session, corpus: Corpus
) -> None:
    page = search.search(session, "burnout deadlines")
    assert [h.id for h in page.results.hits] == [corpus.anon.id]
    assert page.results.hits[0].username is None and page.results.hits[0].author_id is None
    assert corpus.anon.id not in ids(session, "user:amara")
    assert corpus.anon.id not in ids(session, "user:amara burnout")
    assert all(
        e.user.username != "amara" or e.answers for e in experts.find_experts(session, "burnout")
    )


# -- hostile input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "*",
        "a*",
        "*kube",
        "x" * 10_000,
        "(" * 1000 + "a" + ")" * 1000,
        "/ku.*tes/",
        "k[ue]be",
        "a|b",
    ],
)
def test_hostile_queries_are_refused_quickly(session: Session, text: str) -> None:
    started = time.monotonic()
    page = search.search(session, text)
    assert page.refused
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("text", ["the of and", "!!! ???", "a OR OR", "( )", '""'])
def test_stop_words_or_symbols_give_no_results_not_errors(
    session: Session, corpus: Corpus, text: str
) -> None:
    page = search.search(session, text)
    assert page.refused is None
    assert page.results.total == 0


@pytest.mark.parametrize(
    "text",
    [
        "proxy'); DROP TABLE posts; --",
        "office %(p0)s proxy",
        "proxy %s %% %(p1)s",
        "tag:%(p0)s proxy",
        "user:%s' proxy",
        'proxy -"\'; SELECT 1 --"',
    ],
)
def test_sql_and_placeholder_syntax_in_a_query_stay_words(
    session: Session, corpus: Corpus, text: str
) -> None:
    page = search.search(session, text)
    if text.startswith("user:"):
        # No username has quotes or percent signs: refused before any statement is built.
        assert page.refused is not None and "user: needs a username" in page.refused
        return
    assert page.refused is None and not page.results.timed_out
    # The words next to the syntax still match: the syntax was searched for, not run.
    hits = {h.id for h in page.results.hits}
    if text.startswith("tag:"):
        assert hits == set()
    else:
        assert corpus.proxy.id in hits
    assert session.scalar(select(func.count()).select_from(Post)) >= 8


def test_a_heavy_query_stays_under_a_second(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = str(DEFAULTS["SEARCH_TIME_LIMIT"])  # what a deployment has, not the tests' limit
    monkeypatch.setitem(session.info, "search", {**session.info["search"], "time_limit": limit})
    author = make_user(session)
    for n in range(60):
        search_question(session, author, f"Alpha beta gamma {n}", "delta epsilon " * 20)
    session.commit()
    started = time.monotonic()
    search.search(session, " OR ".join(["alpha", "beta", "gamma", "delta", "epsilon"] * 4))
    assert time.monotonic() - started < 1.0


def test_health_reports_the_outbox_backlog(app: Flask, session: Session) -> None:
    session.add(SearchOutbox(post_id=12345))
    session.commit()
    with app.app_context():
        status = search.backend_status(app.config, get_engine(app))
    assert status["ok"] is True
    assert status["pending"] == 1 and status["oldest_pending_seconds"] is not None


# -- word forms, corrections, similar posts ---------------------------------------------------


@dataclass
class Forms:
    """Posts saying "deploy" in three forms, each in another place (title, body, tag)."""

    title: Any
    body: Any
    tag: Any
    apart: Any


@pytest.fixture
def forms(session: Session) -> Forms:
    author = make_user(session)
    title = search_question(session, author, "Deployments of the billing service", "Nightly.")
    body = search_question(session, author, "Friday releases", "We keep deploying on Fridays.")
    tag = search_question(session, author, "Blue and green", "Two stacks.", tags=("deployment",))
    apart = search_question(
        session, author, "Rolling back", "Deploy first, then watch the service for an hour."
    )
    session.commit()
    return Forms(title, body, tag, apart)


@pytest.mark.parametrize("word", ["deploy", "deploying", "deployments", "Deployed"])
def test_word_forms_find_titles_bodies_and_tags(session: Session, forms: Forms, word: str) -> None:
    wanted = {forms.title.id, forms.body.id, forms.tag.id, forms.apart.id}
    assert set(ids(session, word)) == wanted
    # Every-word first holds with stems: both words are forms found in the title post.
    page = search.search(session, f"{word} billing")
    assert page.results.complete >= 1  # no longer 0: the correction counts as the word
    assert page.results.hits[0].id == forms.title.id


def test_quoted_phrases_need_the_words_together_and_in_order(
    session: Session, forms: Forms
) -> None:
    assert ids(session, '"deploy first"') == [forms.apart.id]
    assert ids(session, '"first deploy"') == []
    assert ids(session, '"billing service"') == [forms.title.id]
    assert ids(session, '"deploy service"') == []  # both words are there, not together


def test_a_stemmed_form_is_highlighted(session: Session, forms: Forms) -> None:
    hits = {h.id: h for h in search.search(session, "deployment").results.hits}
    assert "<mark>deploying</mark>" in hits[forms.body.id].snippet
    assert "<mark>Deployments</mark>" in hits[forms.title.id].title_html


def test_did_you_mean_on_a_small_site_and_not_for_known_words(session: Session) -> None:
    author = make_user(session)
    search_question(session, author, "Printer jams", "The heliotrope tray needs cleaning.")
    search_question(session, author, "Parking", "Where do visitors park?")
    search_question(session, author, "Coffee machine", "Descaling every month.")
    session.commit()
    # A typo of a word that only one post has, in its body: still offered.
    page = search.search(session, "heliotorpe tray")
    assert page.suggestion == "heliotrope tray"
    assert search.suggest(session, "coffee mahcine") == "coffee machine"  # a swap: one edit
    assert search.suggest(session, "descalling") is None  # another form of "descaling"
    # Every word known (other forms included): no suggestion.
    assert search.suggest(session, "heliotrope trays") is None
    assert search.search(session, "printer parking").suggestion is None
    # Nothing close: nothing offered.
    assert search.suggest(session, "zyxwvut") is None


def test_similar_posts_share_content_words_not_question_words(session: Session) -> None:
    author = make_user(session)
    password = search_question(session, author, "How do I reset my password?", "Locked out.")
    certs = search_question(
        session, author, "How do I rotate the cluster certificates", "They expire soon."
    )
    guide = search_article(
        session, author, "Certificates for internal services", "Renewing them.", tags=("tls",)
    )
    session.commit()
    found = [h.id for h in search.similar(session, "How do I renew certificates on a cluster?")]
    assert found == [certs.id]  # the password question shares only "how do I"
    assert search.similar(session, "How do I cook pasta?") == []
    assert search.similar(session, "What is the best way to do it?") == []
    asked = search.similar(session, "How can I renew certificates", kinds=search.ASK_KINDS)
    assert {h.id for h in asked} == {certs.id, guide.id}
    assert password.id not in {h.id for h in asked}


def test_similar_ranks_by_shared_content_words(session: Session) -> None:
    author = make_user(session)
    one = search_question(session, author, "Kubernetes quotas", "Limits per namespace.")
    three = search_question(session, author, "Kubernetes ingress timeout", "Nginx ingress.")
    session.commit()
    found = [h.id for h in search.similar(session, "kubernetes ingress timeout after upgrade")]
    assert found == [three.id, one.id]


@postgres_only
def test_similar_reads_titles_first_and_documents_only_when_titles_are_few(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posts sharing the typed title's words in their title come through the title's GIN
    index; the documents of the others are read only when the title matches are fewer than
    the pool (a title's common words match most documents, each read out of line)."""
    from sqlalchemy import event, text

    from forum.search import postgres_backend

    author = make_user(session)
    in_title = search_question(session, author, "Zeppelin mooring masts", "Old airships.")
    in_body = search_question(session, author, "Airship history", "The zeppelin era ended.")
    session.commit()
    found = [h.id for h in search.similar(session, "zeppelin mooring questions")]
    assert found == [in_title.id, in_body.id]
    monkeypatch.setattr(postgres_backend, "SIMILAR_POOL", 1)
    statements: list[tuple[str, Any]] = []

    def seen(_c: Any, _cursor: Any, statement: str, values: Any, *_: Any) -> None:
        statements.append((statement, values))

    conn = session.connection()
    event.listen(conn, "before_cursor_execute", seen)
    try:
        assert [h.id for h in search.similar(session, "zeppelin mooring questions")] == [
            in_title.id
        ]
    finally:
        event.remove(conn, "before_cursor_execute", seen)
    statement, values = next((s, v) for s, v in statements if "WITH pool" in s)
    plan = [
        str(line)
        for line in conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + statement, values)
        .scalars()
        .all()
    ]
    index = conn.execute(
        text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_search_documents_title_document'"
        )
    ).scalar()
    assert index is not None and "gin (title_document)" in index
    # The title match filled the pool of one: the other part's scan never ran.
    assert any("on search_documents" in line and "never executed" in line for line in plan)
    session.rollback()


@postgres_only
def test_corrections_without_trigrams_look_among_words_of_the_first_letter(
    session: Session, corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forum.search import postgres_backend

    assert search.suggest(session, "kuberentes") == "kubernetes"  # with pg_trgm's index
    monkeypatch.setattr(postgres_backend.PostgresBackend, "_uses_trigrams", lambda s, _: False)
    assert search.suggest(session, "kuberentes") == "kubernetes"
    assert search.suggest(session, "prniter") == "printer"
