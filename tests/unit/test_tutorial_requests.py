"""Tutorial requests: asking, +1s, fulfilment, its notifications and the Gap Filler badge."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import BadgeAward, RequestStatus, Role, TutorialRequest, User
from forum.models.notifications import Notification
from forum.services import tutorial_requests
from forum.services.errors import Conflict, Forbidden, ValidationError
from forum.services.tags import tags_named
from tests.factories import make_user, search_article, search_question


def _request(
    session: Session, requester: User, title: str = "Profiling slow queries"
) -> TutorialRequest:
    tags_named(session, ["postgresql"])
    return tutorial_requests.create(
        session,
        requester=requester,
        title=title,
        details_md="I know *EXPLAIN* exists.",
        tags=["postgresql"],
    )


@pytest.mark.parametrize(
    ("title", "details", "tags", "fields"),
    [
        ("short", "", ["sql"], {"title"}),
        ("A perfectly fine title", "", [], {"tags"}),
        ("A perfectly fine title", "x" * 10_001, ["sql"], {"details"}),
        ("A perfectly fine title", "", ["Not OK"], {"tags"}),
        ("A perfectly fine title", "", ["sql", "c++"], set()),
    ],
)
def test_validation(title: str, details: str, tags: list[str], fields: set[str]) -> None:
    assert set(tutorial_requests.validate(title, details, tags)) == fields


def test_create_renders_markdown_once(session: Session) -> None:
    member = make_user(session, role=Role.MODERATOR)
    request = _request(session, member)
    assert request.details_html == "<p>I know <em>EXPLAIN</em> exists.</p>\n"
    assert [t.name for t in request.tags] == ["postgresql"]
    assert request.status is RequestStatus.OPEN


def test_new_tags_need_reputation(session: Session) -> None:
    newcomer = make_user(session)
    with pytest.raises(ValidationError) as exc:
        tutorial_requests.create(
            session, requester=newcomer, title="Profiling slow queries", details_md="", tags=["new"]
        )
    assert "tags" in exc.value.errors


def test_plus_ones_once_each_never_ones_own(session: Session) -> None:
    asker = make_user(session, role=Role.MODERATOR)
    fan = make_user(session)
    request = _request(session, asker)
    assert tutorial_requests.plus_one(session, user=fan, request_id=request.id).plus_count == 1
    with pytest.raises(Conflict):
        tutorial_requests.plus_one(session, user=fan, request_id=request.id)
    with pytest.raises(Forbidden):
        tutorial_requests.plus_one(session, user=asker, request_id=request.id)
    assert tutorial_requests.supported_by(session, fan, [request.id]) == {request.id}
    undone = tutorial_requests.undo_plus_one(session, user=fan, request_id=request.id)
    assert undone.plus_count == 0
    with pytest.raises(Conflict):
        tutorial_requests.undo_plus_one(session, user=fan, request_id=request.id)
    # Undone, it can be given again.
    assert tutorial_requests.plus_one(session, user=fan, request_id=request.id).plus_count == 1


def test_list_sorted_by_plus_ones_and_filtered_by_status(session: Session) -> None:
    asker = make_user(session, role=Role.MODERATOR)
    fans = [make_user(session) for _ in range(3)]
    quiet = _request(session, asker, "A request nobody wants")
    popular = _request(session, asker, "A request everybody wants")
    middling = _request(session, asker, "A request some people want")
    for fan in fans:
        tutorial_requests.plus_one(session, user=fan, request_id=popular.id)
    tutorial_requests.plus_one(session, user=fans[0], request_id=middling.id)
    rows, total = tutorial_requests.list_requests(session)
    assert [r.id for r in rows] == [popular.id, middling.id, quiet.id]
    assert total == 3
    assert tutorial_requests.list_requests(session, status=RequestStatus.FULFILLED) == ([], 0)
    assert tutorial_requests.list_requests(session, tag="nope") == ([], 0)
    assert tutorial_requests.list_requests(session, tag="postgresql")[1] == 3
    with pytest.raises(ValidationError):
        tutorial_requests.parse_status("closed")


def _gap_fillers(session: Session) -> list[int]:
    return list(
        session.scalars(select(BadgeAward.user_id).where(BadgeAward.badge_key == "gap_filler"))
    )


def test_confirmed_fulfilment_notifies_supporters_and_awards_gap_filler(session: Session) -> None:
    asker = make_user(session)
    fans = [make_user(session), make_user(session)]
    author = make_user(session)
    request = _request(session, asker)
    for fan in fans:
        tutorial_requests.plus_one(session, user=fan, request_id=request.id)
    article = search_article(session, author, "Profiling with EXPLAIN", article_type="tutorial")
    proposed = tutorial_requests.fulfil(
        session, actor=author, request_id=request.id, post_id=article.id
    )
    # The author only proposes: the request stays open, nobody but the requester hears yet.
    assert not proposed.confirmed and proposed.notified == 1
    assert request.status is RequestStatus.PROPOSED and request.is_open
    assert request.article_id == article.id
    assert _gap_fillers(session) == []
    assert tutorial_requests.fulfilled_requests(session, None) == {}
    assert tutorial_requests.requests_for_article(session, article) == []

    done = tutorial_requests.confirm(session, actor=asker, request_id=request.id)
    assert done.confirmed and done.notified == 2
    assert request.status is RequestStatus.FULFILLED
    assert request.fulfilled_by_id == asker.id and request.fulfilled_at is not None
    sent = session.scalars(
        select(Notification).where(Notification.kind == "request_fulfilled")
    ).all()
    assert sorted(n.recipient_id for n in sent) == sorted([asker.id, fans[0].id, fans[1].id])
    assert {n.endpoint for n in sent} == {"gaps.request_detail"}
    assert {n.params["request_id"] for n in sent} == {request.id}
    assert all("Profiling with EXPLAIN" in n.text for n in sent)
    assert _gap_fillers(session) == [author.id]
    assert tutorial_requests.fulfilled_requests(session, None) == {author.id: 1}
    # Fulfilled stays fulfilled until reopened; +1s stop.
    with pytest.raises(Conflict):
        tutorial_requests.fulfil(session, actor=author, request_id=request.id, post_id=article.id)
    with pytest.raises(Conflict):
        tutorial_requests.confirm(session, actor=asker, request_id=request.id)
    with pytest.raises(Conflict):
        tutorial_requests.plus_one(session, user=author, request_id=request.id)
    assert tutorial_requests.requests_for_article(session, article) == [request]


def test_only_the_requester_or_a_moderator_confirms(session: Session) -> None:
    asker = make_user(session)
    author = make_user(session)
    stranger = make_user(session)
    request = _request(session, asker)
    article = search_article(session, author, "Someone's tutorial", article_type="tutorial")
    tutorial_requests.fulfil(session, actor=author, request_id=request.id, post_id=article.id)
    for actor in (author, stranger):
        with pytest.raises(Forbidden):
            tutorial_requests.confirm(session, actor=actor, request_id=request.id)
    # Another author cannot replace a pending proposal with their own article.
    other = search_article(session, stranger, "Another tutorial", article_type="tutorial")
    with pytest.raises(Conflict):
        tutorial_requests.fulfil(session, actor=stranger, request_id=request.id, post_id=other.id)
    assert request.status is RequestStatus.PROPOSED and request.article_id == article.id
    moderator = make_user(session, role=Role.MODERATOR)
    tutorial_requests.confirm(session, actor=moderator, request_id=request.id)
    assert request.status is RequestStatus.FULFILLED
    assert _gap_fillers(session) == [author.id]


def test_a_moderator_cannot_confirm_their_own_article(session: Session) -> None:
    asker = make_user(session)
    moderator = make_user(session, role=Role.MODERATOR)
    request = _request(session, asker)
    article = search_article(session, moderator, "Moderator's tutorial", article_type="tutorial")
    done = tutorial_requests.fulfil(
        session, actor=moderator, request_id=request.id, post_id=article.id
    )
    assert not done.confirmed and request.status is RequestStatus.PROPOSED
    with pytest.raises(Forbidden):
        tutorial_requests.confirm(session, actor=moderator, request_id=request.id)
    assert _gap_fillers(session) == []
    tutorial_requests.confirm(session, actor=asker, request_id=request.id)
    assert _gap_fillers(session) == [moderator.id]


def test_ones_own_request_earns_no_gap_filler(session: Session) -> None:
    asker = make_user(session)
    request = _request(session, asker)
    article = search_article(session, asker, "My own tutorial", article_type="tutorial")
    done = tutorial_requests.fulfil(session, actor=asker, request_id=request.id, post_id=article.id)
    assert done.confirmed and request.status is RequestStatus.FULFILLED
    assert tutorial_requests.fulfilled_requests(session, None) == {}
    assert _gap_fillers(session) == []


def test_requests_can_be_reopened_and_proposals_declined_or_withdrawn(session: Session) -> None:
    asker = make_user(session)
    author = make_user(session)
    stranger = make_user(session)
    request = _request(session, asker)
    article = search_article(session, author, "A tutorial", article_type="tutorial")
    with pytest.raises(Conflict):
        tutorial_requests.reopen(session, actor=asker, request_id=request.id)
    # The proposer withdraws; the requester declines.
    tutorial_requests.fulfil(session, actor=author, request_id=request.id, post_id=article.id)
    with pytest.raises(Forbidden):
        tutorial_requests.reopen(session, actor=stranger, request_id=request.id)
    tutorial_requests.reopen(session, actor=author, request_id=request.id)
    assert request.status is RequestStatus.OPEN and request.article_id is None
    tutorial_requests.fulfil(session, actor=author, request_id=request.id, post_id=article.id)
    tutorial_requests.reopen(session, actor=asker, request_id=request.id)
    assert request.status is RequestStatus.OPEN and request.fulfilled_by_id is None
    # Once fulfilled, only the requester or a moderator reopens it.
    tutorial_requests.fulfil(session, actor=author, request_id=request.id, post_id=article.id)
    tutorial_requests.confirm(session, actor=asker, request_id=request.id)
    assert tutorial_requests.fulfilled_requests(session, None) == {author.id: 1}
    for actor in (author, stranger):
        with pytest.raises(Forbidden):
            tutorial_requests.reopen(session, actor=actor, request_id=request.id)
    tutorial_requests.reopen(
        session, actor=make_user(session, role=Role.MODERATOR), request_id=request.id
    )
    assert request.status is RequestStatus.OPEN
    assert request.article_id is None and request.fulfilled_at is None
    assert tutorial_requests.fulfilled_requests(session, None) == {}
    assert tutorial_requests.plus_one(session, user=stranger, request_id=request.id).plus_count == 1


def test_the_requester_may_mark_and_is_not_told_of_their_own_action(session: Session) -> None:
    asker = make_user(session, role=Role.MODERATOR)
    request = _request(session, asker)
    article = search_article(session, make_user(session), "Someone's tip")
    done = tutorial_requests.fulfil(session, actor=asker, request_id=request.id, post_id=article.id)
    assert done.notified == 0


def test_fulfilment_needs_a_live_article_and_the_right_person(session: Session) -> None:
    asker = make_user(session, role=Role.MODERATOR)
    author = make_user(session)
    stranger = make_user(session)
    request = _request(session, asker)
    question = search_question(session, author, "A question, not an article")
    with pytest.raises(ValidationError) as exc:
        tutorial_requests.fulfil(session, actor=author, request_id=request.id, post_id=question.id)
    assert "not a tip or tutorial" in exc.value.errors["article"][0]
    article = search_article(session, author, "The real thing")
    with pytest.raises(Forbidden):
        tutorial_requests.fulfil(session, actor=stranger, request_id=request.id, post_id=article.id)
    article.deleted_at = utcnow()
    session.flush()
    with pytest.raises(ValidationError):
        tutorial_requests.fulfil(session, actor=author, request_id=request.id, post_id=article.id)
    assert request.status is RequestStatus.OPEN


def test_references_resolve_addresses_slugs_and_ids(session: Session) -> None:
    author = make_user(session)
    article = search_article(session, author, "Addressable")
    question = search_question(session, author, "Some question here")
    assert (
        tutorial_requests.resolve_reference(
            session, f"http://forum.example/articles/{article.slug}?x=1"
        )
        is article
    )
    assert tutorial_requests.resolve_reference(session, article.slug) is article
    assert tutorial_requests.resolve_reference(session, f"#{article.id}") is article
    assert (
        tutorial_requests.resolve_reference(session, f"/questions/{question.id}/some-question")
        is question
    )
    for bad in ("", "/articles/missing", "nothing-here"):
        with pytest.raises(ValidationError):
            tutorial_requests.resolve_reference(session, bad)
