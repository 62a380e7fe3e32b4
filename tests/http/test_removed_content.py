"""Removed content stays gone: a deleted or moderator-hidden question takes its answers and
their comments with it, on every route that takes an id and in every list that names posts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from forum.models import BadgeAward, Flag, Role
from forum.services import moderation, paths, questions, tutorial_requests, votes
from tests.conftest import Browser
from tests.factories import make_answer, make_article, make_comment, make_question, make_user

#: A word in each removed thread's title, body, answer and comments; never in a response.
SECRETS = {
    "deleted": "quokkadeleted",
    "hidden": "wombathidden",
    "answer": "platypushidden",
    "article": "echidnahidden",
}
TAGS = ("python",)


def _thread(session: Session, people: dict[str, Any], word: str) -> dict[str, Any]:
    question = make_question(
        session,
        people["asker"],
        title=f"How do I configure {word} for the build?",
        body=f"The {word} body says where things live. @mira should know.\n",
        tags=TAGS,
    )
    answer = make_answer(
        session, question, people["answerer"], body=f"Answer about {word} internals.\n"
    )
    on_answer = make_comment(session, answer, people["commenter"], body=f"Comment {word} here.")
    on_question = make_comment(session, question, people["commenter"], body=f"Asked {word}?")
    return {"q": question, "a": answer, "ca": on_answer, "cq": on_question}


def _hide(session: Session, people: dict[str, Any], kind: str, target_id: int) -> None:
    """Hide a post or comment the way moderators do: a member's flag, then the queue action."""
    found = moderation.flag(
        session, reporter=people["other"], target=f"{kind}:{target_id}", reason="spam"
    )
    moderation.act(session, moderator=people["moderator"], flag_id=found.id, action="hide")


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """A deleted thread, a hidden thread, a hidden answer on a live question, a hidden article."""
    people = {
        "asker": make_user(session, "asker"),
        "answerer": make_user(session, "answerer"),
        "commenter": make_user(session, "commenter"),
        "other": make_user(session, "other"),
        "mira": make_user(session, "mira"),
        "moderator": make_user(session, "moddy", role=Role.MODERATOR),
    }
    deleted = _thread(session, people, SECRETS["deleted"])
    hidden = _thread(session, people, SECRETS["hidden"])
    live = make_question(session, people["asker"], title="A live question about tooling", tags=TAGS)
    hidden_answer = make_answer(
        session, live, people["answerer"], body=f"This {SECRETS['answer']} answer is rude.\n"
    )
    hidden_answer_comment = make_comment(
        session, hidden_answer, people["commenter"], body=f"Reply on {SECRETS['answer']}."
    )
    article = make_article(
        session,
        people["answerer"],
        title=f"Working with {SECRETS['article']} daily",
        body=f"All about {SECRETS['article']}.\n",
        tags="python",
    )
    article_comment = make_comment(
        session, article, people["commenter"], body=f"Thanks for {SECRETS['article']}."
    )
    # A tutorial request the article fulfilled: its pages name the article.
    wanted = tutorial_requests.create(
        session,
        requester=people["other"],
        title="Please explain the build tooling",
        details_md="",
        tags=["python"],
    )
    tutorial_requests.fulfil(
        session, actor=people["answerer"], request_id=wanted.id, post_id=article.id
    )
    path = paths.create_path(session, owner=people["other"], title="Onboarding", description_md="")
    for post in (deleted["q"], hidden["q"], article, live):
        paths.add_step(session, path, actor=people["other"], reference=str(post.id))
    paths.enrol(session, path, user=people["commenter"])
    for thread in (deleted, hidden):
        # Reputation history and badges name the post they came from.
        session.commit()
        votes.cast(session, voter=people["other"], post_id=thread["a"].id, value=1)
        session.add(
            BadgeAward(
                user_id=people["answerer"].id,
                badge_key="nice_answer",
                subject=f"post:{thread['a'].id}",
                post_id=thread["a"].id,
            )
        )
    session.commit()

    questions.delete(session, actor=people["asker"], question_id=deleted["q"].id)
    _hide(session, people, "post", hidden["q"].id)
    _hide(session, people, "post", hidden_answer.id)
    _hide(session, people, "post", article.id)
    session.commit()
    ids = {
        "dq": deleted["q"].id,
        "da": deleted["a"].id,
        "dca": deleted["ca"].id,
        "dcq": deleted["cq"].id,
        "hq": hidden["q"].id,
        "ha": hidden["a"].id,
        "hca": hidden["ca"].id,
        "hcq": hidden["cq"].id,
        "xa": hidden_answer.id,
        "xca": hidden_answer_comment.id,
        "live": live.id,
        "art": article.id,
        "artc": article_comment.id,
        "slug": article.slug,
        "path": path.id,
        "request": wanted.id,
    }
    return {"people": people, "ids": ids}


@dataclass(frozen=True)
class Route:
    """A route that takes the id of a removed post or comment (or of one under it)."""

    method: str
    path: str
    data: dict[str, str] = field(default_factory=dict)
    #: Moderators may open it (GET pages show them removed content, marked as such).
    moderator_sees: bool = False
    #: Members who wrote the removed post itself: they keep seeing it (tested apart).
    authors: tuple[str, ...] = ()


#: Every removed thread is walked through the same routes: {q} the question, {a} its answer,
#: {ca} the comment on the answer, {cq} the comment on the question.
THREAD_ROUTES = [
    Route("GET", "/questions/{q}", moderator_sees=True),
    Route("GET", "/questions/{q}/history", moderator_sees=True),
    Route("GET", "/questions/{q}/history?from=1&to=1", moderator_sees=True),
    Route("GET", "/answers/{a}/history", moderator_sees=True),
    Route("GET", "/answers/{a}/history?from=1&to=1", moderator_sees=True),
    Route("GET", "/questions/{q}/edit"),
    Route("GET", "/answers/{a}/edit"),
    Route("POST", "/answers/{a}/edit", {"body": "Rewritten by someone."}),
    Route("GET", "/posts/{q}/suggest-edit"),
    Route("GET", "/posts/{a}/suggest-edit"),
    Route("POST", "/posts/{a}/suggest-edit", {"body": "Suggested text.", "summary": "Clearer"}),
    Route("POST", "/questions/{q}/answer", {"body": "A new answer to a removed question."}),
    Route("POST", "/posts/{q}/vote", {"value": "1"}),
    Route("POST", "/posts/{q}/follow", {"follow": "1"}),
    Route("POST", "/posts/{q}/follow", {"follow": "0"}),
    Route("POST", "/posts/{a}/vote", {"value": "1"}),
    Route("POST", "/posts/{a}/vote", {"value": "-1"}),
    Route("POST", "/comments/{ca}/vote"),
    Route("POST", "/comments/{cq}/vote"),
    Route("POST", "/posts/{a}/comments", {"body": "Still here?"}),
    Route("POST", "/posts/{q}/comments", {"body": "Still here?"}),
    Route("POST", "/posts/{a}/comments", {"body": "A reply.", "parent_id": "{ca}"}),
    Route("POST", "/posts/{a}/comments", {"body": ""}),
    Route("GET", "/comments/{ca}/edit"),
    Route("POST", "/comments/{ca}/edit", {"body": "Changed."}),
    Route("POST", "/comments/{ca}/delete"),
    Route("POST", "/answers/{a}/accept"),
    Route("POST", "/answers/{a}/delete"),
    Route("GET", "/flags/new?target=post:{q}"),
    Route("GET", "/flags/new?target=post:{a}"),
    Route("GET", "/flags/new?target=comment:{ca}"),
    Route("GET", "/flags/new?target=comment:{cq}"),
    Route("POST", "/flags", {"target": "post:{a}", "reason": "spam"}),
    Route("POST", "/flags", {"target": "comment:{ca}", "reason": "spam"}),
    Route("POST", "/flags/new", {"target": "post:{a}", "reason": "spam"}),
    Route("GET", "/questions/{q}/bounty"),
    Route("POST", "/questions/{q}/bounty", {"amount": "50", "reason": "attention"}),
    Route("GET", "/answers/{a}/bounty"),
    Route("POST", "/answers/{a}/bounty"),
]
THREADS = {
    "deleted": {"q": "dq", "a": "da", "ca": "dca", "cq": "dcq"},
    "hidden": {"q": "hq", "a": "ha", "ca": "hca", "cq": "hcq"},
}
#: Routes on the hidden answer of a live question and on the hidden article.
AUTHOR = ("answerer",)
OTHER_ROUTES = [
    Route("GET", "/answers/{xa}/history", moderator_sees=True, authors=AUTHOR),
    Route("GET", "/answers/{xa}/edit", authors=AUTHOR),
    Route("GET", "/posts/{xa}/suggest-edit", authors=AUTHOR),
    Route("POST", "/posts/{xa}/vote", {"value": "1"}, authors=AUTHOR),
    Route("POST", "/posts/{xa}/comments", {"body": "Still here?"}, authors=AUTHOR),
    Route("POST", "/comments/{xca}/vote", authors=AUTHOR),
    Route("GET", "/comments/{xca}/edit", authors=AUTHOR),
    Route("POST", "/comments/{xca}/delete", authors=AUTHOR),
    Route("POST", "/answers/{xa}/accept", authors=AUTHOR),
    Route("GET", "/answers/{xa}/bounty", authors=AUTHOR),
    Route("POST", "/answers/{xa}/bounty", authors=AUTHOR),
    Route("GET", "/flags/new?target=post:{xa}", authors=AUTHOR),
    Route("GET", "/flags/new?target=comment:{xca}", authors=AUTHOR),
    Route("GET", "/articles/{slug}", moderator_sees=True, authors=AUTHOR),
    Route("GET", "/articles/{slug}/history", moderator_sees=True, authors=AUTHOR),
    Route("GET", "/articles/{slug}/diff?from=1&to=1", moderator_sees=True, authors=AUTHOR),
    Route("GET", "/articles/{slug}/markdown", moderator_sees=True, authors=AUTHOR),
    Route("GET", "/articles/{slug}/edit", authors=AUTHOR),
    Route("POST", "/articles/{slug}/helpful", {"helpful": "1"}, authors=AUTHOR),
    Route("POST", "/articles/{slug}/review", authors=AUTHOR),
    Route("GET", "/articles/{slug}/manage", authors=AUTHOR),
    Route("POST", "/articles/{slug}/owner", {"username": "other"}, authors=AUTHOR),
    Route("POST", "/articles/{slug}/review-by", {"review_by": "2099-01-01"}, authors=AUTHOR),
    Route("POST", "/articles/{slug}/unpublish", {"confirm": "y"}, authors=AUTHOR),
    Route("POST", "/articles/{slug}/delete", {"confirm": "y"}, authors=AUTHOR),
    Route("POST", "/articles/{slug}/publish", authors=AUTHOR),
    Route("POST", "/posts/{art}/vote", {"value": "1"}, authors=AUTHOR),
    Route("POST", "/posts/{art}/comments", {"body": "Still here?"}, authors=AUTHOR),
    Route("POST", "/comments/{artc}/vote", authors=AUTHOR),
    Route("GET", "/flags/new?target=post:{art}", authors=AUTHOR),
    Route("GET", "/flags/new?target=comment:{artc}", authors=AUTHOR),
]
CASES = [(thread, route) for thread in THREADS for route in THREAD_ROUTES] + [
    (None, route) for route in OTHER_ROUTES
]
#: Members who are not the removed question's author: the answer's and the comment's authors
#: included (what hangs from a removed question goes with it).
MEMBERS = ("other", "answerer", "commenter", "mira")

#: What must not change when a request is refused.
SNAPSHOT = [
    "SELECT id, title, body_md, score, deleted_at, accepted_answer_id, answer_count,"
    " comment_count, revision_count FROM posts ORDER BY id",
    "SELECT user_id, post_id, value FROM votes ORDER BY id",
    "SELECT id, post_id, body_md, deleted_at, score FROM comments ORDER BY id",
    "SELECT user_id, comment_id FROM comment_votes ORDER BY id",
    "SELECT reporter_id, post_id, comment_id, status FROM flags ORDER BY id",
    "SELECT article_id, user_id, helpful FROM article_feedback ORDER BY id",
]


def snapshot(session: Session) -> list[list[Any]]:
    session.expire_all()
    return [[tuple(row) for row in session.execute(text(sql))] for sql in SNAPSHOT]


def assert_no_secret(
    response: Any, where: str, asked: str = "", allowed: tuple[str, ...] = ()
) -> None:
    """Neither the body nor a redirect's address names removed content (the address asked
    for aside: a login redirect carries it back in ``next``)."""
    shown = (response.get_data(as_text=True) + response.headers.get("Location", "")).lower()
    for echoed in (asked, asked.split("?")[0]) if asked else ():
        shown = shown.replace(quote(echoed, safe="").lower(), "").replace(echoed.lower(), "")
    for name, secret in SECRETS.items():
        if name in allowed:
            continue
        assert secret not in shown, f"{where} shows {secret}"


def _format(value: str, ids: dict[str, Any], thread: str | None) -> str:
    names = dict(ids)
    if thread is not None:
        names.update({k: ids[v] for k, v in THREADS[thread].items()})
    return value.format(**names)


def _browser(app: Flask, username: str | None) -> Browser:
    browser = Browser(app.test_client())
    if username is not None:
        assert browser.login(username).status_code == 302
    return browser


def test_every_route_taking_a_post_or_comment_id_is_walked(app: Flask) -> None:
    walked = {r.path.split("?")[0] for r in THREAD_ROUTES + OTHER_ROUTES}
    walked = {
        p.replace("{xa}", "{a}").replace("{art}", "{a}").replace("{xca}", "{ca}") for p in walked
    }
    walked = {p.replace("{artc}", "{ca}").replace("{cq}", "{ca}") for p in walked}
    # The REST API's routes take tokens, not a browser: test_api_removed.py walks each of them.
    routes = [
        rule
        for rule in app.url_map.iter_rules()
        if {"question_id", "answer_id", "post_id", "comment_id", "slug"} & rule.arguments
        and not rule.endpoint.startswith("api.")
    ]
    # Moderator-only routes (close, reveal, reopen, undelete, unhide, lock, rollback) and the
    # question's own delete are covered in test_authorization and test_moderation.
    moderator_only = {
        "questions.close",
        "questions.reopen",
        "questions.withdraw_close_vote",
        "questions.reveal",
        "questions.undelete",
        "questions.undelete_answer",
        "questions.delete",
        "moderation.unhide_post",
        "moderation.unhide_comment",
        "wiki.lock",
        "wiki.rollback",
    }
    missing = set()
    for rule in routes:
        if rule.endpoint in moderator_only:
            continue
        pattern = (
            rule.rule.replace("<int:question_id>", "{q}")
            .replace("<int:answer_id>", "{a}")
            .replace("<int:post_id>", "{a}")
            .replace("<int:comment_id>", "{ca}")
            .replace("<slug>", "{slug}")
        )
        if pattern.endswith("/{slug}") and pattern.startswith("/questions/"):
            continue  # the slugged question address: the same view as /questions/{q}
        if pattern not in walked and pattern.replace("/posts/{a}", "/posts/{q}") not in walked:
            missing.add(rule.rule)
    assert missing == set()


@pytest.mark.parametrize("actor", [None, *MEMBERS])
def test_removed_content_is_not_found_on_every_route(
    app: Flask, session: Session, world: dict[str, Any], actor: str | None
) -> None:
    """Visitors get the login page for member routes and 404 for the rest; members get 404
    everywhere; nobody sees a removed word or changes anything."""
    ids = world["ids"]
    browser = _browser(app, actor)
    problems = []
    for thread, route in CASES:
        if actor in route.authors:
            continue
        path = _format(route.path, ids, thread)
        data = {k: _format(v, ids, thread) for k, v in route.data.items()}
        where = f"{route.method} {path} {data} for {actor}"
        before = snapshot(session)
        response = browser.get(path) if route.method == "GET" else browser.post(path, data)
        assert_no_secret(response, where, path)
        assert snapshot(session) == before, f"{where} changed something"
        status = response.status_code
        if actor is None and (route.method == "POST" or not route.moderator_sees):
            if status != 302 or "/login" not in response.headers["Location"]:
                problems.append((where, status))
        elif status != 404:
            problems.append((where, status))
    assert problems == []


def test_moderators_see_removed_content_marked(app: Flask, world: dict[str, Any]) -> None:
    browser = _browser(app, "moddy")
    for thread, route in CASES:
        if route.moderator_sees:
            path = _format(route.path, world["ids"], thread)
            assert browser.get(path).status_code == 200, path


def test_the_author_still_sees_their_deleted_question(app: Flask, world: dict[str, Any]) -> None:
    browser = _browser(app, "asker")
    page = browser.get(f"/questions/{world['ids']['dq']}").get_data(as_text=True)
    assert SECRETS["deleted"] in page
    response = browser.get(f"/answers/{world['ids']['da']}/history")
    assert response.status_code == 200
    # Others' hidden posts stay hidden from the author of the thread around them.
    assert browser.get(f"/answers/{world['ids']['xa']}/history").status_code == 404


LIST_PAGES = [
    "/",
    "/questions",
    "/questions?tab=active",
    "/questions?tab=top",
    "/questions?tab=unanswered",
    "/questions?tab=featured",
    "/questions/{live}",
    "/tags",
    "/tags/python",
    "/users/asker",
    "/users/answerer",
    "/users/commenter",
    "/paths",
    "/paths/{path}",
    "/articles",
    "/articles/stale",
    "/badges",
    "/badges/nice_answer",
    "/requests",
    "/requests?status=fulfilled",
    "/requests/{request}",
    "/gaps",
    "/people",
    # Words of the removed posts other than the secrets (a search page repeats its query).
    "/search?q=internals",
    "/search?q=rude",
    "/search?q=daily",
    "/search?q=comment",
    "/search?q=python",
    "/search?q=configure+build",
    "/search/similar?title=How+do+I+configure+for+the+build",
    "/notifications",
]


@pytest.mark.parametrize("actor", [None, *MEMBERS])
def test_lists_and_links_never_name_removed_content(
    app: Flask, world: dict[str, Any], actor: str | None
) -> None:
    browser = _browser(app, actor)
    for page in LIST_PAGES:
        path = page.format(**world["ids"])
        response = browser.get(path)
        if response.status_code in (301, 302, 303):
            continue  # a page for members only; the visitor is sent to log in
        assert response.status_code in (200, 403), (path, response.status_code)
        # The hidden answer and article are the answerer's own: they still see them.
        own = ("answer", "article") if actor == "answerer" else ()
        assert_no_secret(response, f"{path} for {actor}", allowed=own)


def test_a_path_shows_a_removed_step_without_its_title(app: Flask, world: dict[str, Any]) -> None:
    page = _browser(app, "commenter").get(f"/paths/{world['ids']['path']}")
    text_ = page.get_data(as_text=True)
    assert text_.count('<span class="muted">A removed step</span>') == 3
    assert "A live question about tooling" in text_
    moderator_page = _browser(app, "moddy").get(f"/paths/{world['ids']['path']}")
    assert SECRETS["deleted"] in moderator_page.get_data(as_text=True).lower()


def test_search_results_drop_removed_posts_the_index_still_has(
    app: Flask, session: Session
) -> None:
    """A removal the index has not caught up with yet (a busy writer) is filtered at query
    time: answers of a removed question, and the question itself."""
    asker = make_user(session, "asker")
    question = make_question(
        session, asker, title="Where does the slowindex keep kiwilagging?", tags=TAGS
    )
    make_answer(session, question, make_user(session), body="The kiwilagging slowindex.\n")
    session.commit()
    browser = _browser(app, None)
    found = browser.get("/search?q=slowindex").get_data(as_text=True)
    assert found.count("kiwilagging") >= 2
    similar = "/search/similar?title=where+does+the+slowindex+keep"
    assert "kiwilagging" in browser.get(similar).get_data(as_text=True)
    # Straight to the table: no outbox row, so the index still holds both documents.
    session.execute(
        text("UPDATE posts SET deleted_at = created_at WHERE id = :id"), {"id": question.id}
    )
    session.commit()
    for path in ("/search?q=slowindex", similar):
        response = browser.get(path)
        assert response.status_code == 200
        assert "kiwilagging" not in response.get_data(as_text=True).lower(), path


def test_moderators_still_flag_queue_and_unhide(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    """The queue keeps working on hidden content (moderators see everything)."""
    browser = _browser(app, "moddy")
    audit = browser.get("/moderation/audit")
    assert audit.status_code == 200
    hidden_flags = session.scalars(select(Flag).where(Flag.resolution == "hidden")).all()
    assert len(hidden_flags) == 3
    response = browser.post(f"/moderation/posts/{world['ids']['hq']}/unhide", {"note": "ok"})
    assert response.status_code in (302, 303)
    assert _browser(app, "other").get(f"/answers/{world['ids']['ha']}/history").status_code == 200


def test_a_removed_question_leaves_the_related_sidebar_at_once(
    app: Flask, session: Session
) -> None:
    """The sidebar is cached per question for minutes; a removal shows at the next view."""
    asker = make_user(session, "asker")
    shown = make_question(session, asker, title="How do I rotate the staging database password?")
    related = make_question(
        session, asker, title="How do I rotate the staging database password gerbilsecret?"
    )
    session.commit()
    browser = _browser(app, None)
    assert "gerbilsecret" in browser.get(f"/questions/{shown.id}").get_data(as_text=True)
    questions.delete(session, actor=asker, question_id=related.id)
    session.commit()
    assert "gerbilsecret" not in browser.get(f"/questions/{shown.id}").get_data(as_text=True)
