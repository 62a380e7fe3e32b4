"""Notifications: notify(), preferences, the unread counter, marking read, and their sources."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.models import BadgeAward, Notification, User
from forum.services import answers, badges, comments, notifications, questions
from forum.services import tags as tag_service
from forum.services.errors import NotFound, ValidationError
from tests.factories import make_answer, make_comment, make_question, make_user


def inbox_of(session: Session, user: User, *, with_badges: bool = False) -> list[Notification]:
    """A member's notifications, oldest first; badge ones (awarded after each commit) only
    when asked for."""
    query = select(Notification).where(Notification.recipient_id == user.id)
    if not with_badges:
        query = query.where(Notification.kind != "badge")
    return list(session.scalars(query.order_by(Notification.id)))


def unread_column(session: Session, user: User) -> int:
    session.expire(user, ["unread_notifications"])
    return user.unread_notifications


def test_notify_stores_and_counts(session: Session) -> None:
    alice, bob = make_user(session, "alice"), make_user(session, "bob")
    sent = notifications.notify(
        session,
        recipient=alice,
        kind="mentoring",
        text="Bob asked you to mentor them",
        endpoint="users.profile",
        params={"username": "bob"},
        actor=bob,
    )
    session.commit()
    assert sent is not None
    [stored] = inbox_of(session, alice)
    assert (stored.kind, stored.text, stored.endpoint, stored.params) == (
        "mentoring",
        "Bob asked you to mentor them",
        "users.profile",
        {"username": "bob"},
    )
    assert stored.actor_id == bob.id and stored.read_at is None
    assert unread_column(session, alice) == 1
    assert unread_column(session, bob) == 0


def test_never_notify_yourself(session: Session) -> None:
    alice = make_user(session, "alice")
    sent = notifications.notify(
        session,
        recipient=alice,
        kind="badge",
        text="x",
        endpoint="main.index",
        params={},
        actor=alice,
    )
    assert sent is None
    assert inbox_of(session, alice) == []
    assert unread_column(session, alice) == 0


def test_unknown_kind_is_refused(session: Session) -> None:
    alice = make_user(session, "alice")
    with pytest.raises(ValueError, match="unknown notification kind"):
        notifications.notify(
            session, recipient=alice, kind="gossip", text="x", endpoint="main.index", params={}
        )


def test_preferences_default_inbox_and_off_stores_nothing(session: Session) -> None:
    alice = make_user(session, "alice")
    defaults = notifications.preferences(session, alice)
    # Answers to one's questions and mentions are emailed at once; the rest go to the inbox.
    assert {k for k, v in defaults.items() if v == "instant"} == {"answer", "mention"}
    assert {v for k, v in defaults.items() if k not in ("answer", "mention")} == {"inbox"}
    notifications.set_preferences(session, alice, {"badge": "off", "answer": "daily"})
    session.commit()
    prefs = notifications.preferences(session, alice)
    assert prefs["badge"] == "off" and prefs["answer"] == "daily" and prefs["reply"] == "inbox"
    off = notifications.notify(
        session, recipient=alice, kind="badge", text="x", endpoint="main.index", params={}
    )
    emailed = notifications.notify(
        session, recipient=alice, kind="answer", text="y", endpoint="main.index", params={}
    )
    session.commit()
    assert off is None and emailed is not None
    assert [n.kind for n in inbox_of(session, alice, with_badges=True)] == ["answer"]
    assert unread_column(session, alice) == 1
    # Changing a preference updates the one row.
    notifications.set_preferences(session, alice, {"badge": "inbox"})
    session.commit()
    assert notifications.preferences(session, alice)["badge"] == "inbox"


def test_bad_preferences_are_refused(session: Session) -> None:
    alice = make_user(session, "alice")
    with pytest.raises(ValidationError):
        notifications.set_preferences(session, alice, {"badge": "pigeon"})
    with pytest.raises(ValidationError):
        notifications.set_preferences(session, alice, {"weather": "inbox"})


def _three(session: Session, user: User) -> list[Notification]:
    return [
        n
        for n in (
            notifications.notify(
                session,
                recipient=user,
                kind="badge",
                text=f"n{i}",
                endpoint="main.index",
                params={},
            )
            for i in range(3)
        )
        if n is not None
    ]


def test_mark_read_and_mark_all(session: Session) -> None:
    alice, bob = make_user(session, "alice"), make_user(session, "bob")
    first, _, _ = _three(session, alice)
    session.commit()
    assert unread_column(session, alice) == 3
    notifications.mark_read(session, alice, first.id)
    notifications.mark_read(session, alice, first.id)  # twice changes nothing
    session.commit()
    assert unread_column(session, alice) == 2
    assert first.read_at is not None
    with pytest.raises(NotFound):
        notifications.mark_read(session, bob, first.id)
    assert notifications.mark_all_read(session, alice) == 2
    session.commit()
    assert unread_column(session, alice) == 0
    assert all(n.read_at is not None for n in inbox_of(session, alice))
    assert notifications.mark_all_read(session, alice) == 0


def test_recount_repairs_the_counter(session: Session) -> None:
    alice = make_user(session, "alice")
    _three(session, alice)
    alice.unread_notifications = 42
    session.commit()
    notifications.recount_unread(session, alice)
    session.commit()
    assert unread_column(session, alice) == 3


def test_inbox_pages_newest_first(session: Session) -> None:
    alice = make_user(session, "alice")
    made = _three(session, alice)
    session.commit()
    page = notifications.inbox(session, alice, page=1, per_page=2)
    assert (page.total, page.pages, page.unread) == (3, 2, 3)
    assert [n.id for n in page.items] == [made[2].id, made[1].id]
    last = notifications.inbox(session, alice, page=9, per_page=2)
    assert last.page == 2 and [n.id for n in last.items] == [made[0].id]


# ---------------------------------------------------------------- sources


def test_answer_notifies_the_asker(session: Session) -> None:
    asker, helper = make_user(session, "asker"), make_user(session, "helper", display_name="Hal")
    question = make_question(session, asker, title="How do we rotate the API keys?")
    answer = make_answer(session, question, helper)
    make_answer(session, question, asker)  # answering yourself notifies nobody
    session.commit()
    [note] = inbox_of(session, asker)
    assert note.kind == "answer"
    assert note.text == "Hal answered your question “How do we rotate the API keys?”"
    assert note.endpoint == "questions.detail"
    assert note.params == {"question_id": question.id, "_anchor": f"post-{answer.id}"}
    assert note.actor_id == helper.id


def test_anonymous_question_never_reveals_its_author(session: Session) -> None:
    asker, helper = make_user(session, "samuel", display_name="Secret Sam"), make_user(session)
    follower = make_user(session, "follower")
    tag_service.follow(session, user=follower, tag=tag_service.tags_named(session, ["vpn"])[0])
    session.flush()
    question = make_question(session, asker, tags=("vpn",), anonymous=True)
    answer = make_answer(session, question, helper)
    make_comment(session, answer, asker, body="Thanks, that worked.")
    answers.accept(session, acceptor=asker, answer_id=answer.id)
    session.commit()
    received = inbox_of(session, helper) + inbox_of(session, follower)
    assert sorted(n.kind for n in received) == ["accepted", "comment", "followed_tag"]
    for note in received:
        assert note.actor_id is None
        assert "Secret Sam" not in note.text and asker.username not in note.text


def test_comments_and_replies(session: Session) -> None:
    owner = make_user(session, "owner")
    first = make_user(session, "first", display_name="Fay")
    second = make_user(session, "second", display_name="Sid")
    question = make_question(session, owner)
    top = make_comment(session, question, first, body="Which version?")
    reply = make_comment(session, question, second, body="3.12", parent=top)
    make_comment(session, question, owner, body="My own note")  # own post: nothing
    session.commit()
    owner_kinds = [(n.kind, n.text[:3]) for n in inbox_of(session, owner)]
    assert owner_kinds == [("comment", "Fay"), ("comment", "Sid")]
    [to_first] = inbox_of(session, first)
    assert to_first.kind == "reply" and to_first.text.startswith("Sid replied to your comment")
    assert to_first.params["_anchor"] == f"comment-{reply.id}"
    assert inbox_of(session, second) == []


def test_accepting_notifies_the_answerer_once(session: Session) -> None:
    asker, helper = make_user(session, "asker"), make_user(session, "helper")
    question = make_question(session, asker)
    answer = make_answer(session, question, helper)
    session.commit()
    answers.accept(session, acceptor=asker, answer_id=answer.id)
    answers.accept(session, acceptor=asker, answer_id=answer.id)  # undo: nothing new
    session.commit()
    assert [n.kind for n in inbox_of(session, helper)] == ["accepted"]


def test_new_question_in_followed_tag(session: Session) -> None:
    asker, fan, other = make_user(session), make_user(session, "fan"), make_user(session)
    [python, _] = tag_service.tags_named(session, ["python", "excel"])
    tag_service.follow(session, user=fan, tag=python)
    tag_service.follow(session, user=asker, tag=python)
    session.flush()
    question = make_question(
        session, asker, title="Which Python for new laptops?", tags=("python", "excel")
    )
    session.commit()
    [note] = inbox_of(session, fan)
    assert note.kind == "followed_tag"
    assert note.text == "New question in python: “Which Python for new laptops?”"
    assert note.params == {"question_id": question.id}
    assert inbox_of(session, asker) == [] and inbox_of(session, other) == []


def test_badge_awards_notify_the_member(session: Session) -> None:
    member = make_user(session, "member", bio="Hello", department="IT", job_title="Dev")
    session.commit()  # badges are awarded after the commit
    badges.award(session, [member.id])
    session.commit()
    held = session.scalars(select(BadgeAward).where(BadgeAward.user_id == member.id)).all()
    assert held, "the profile badge should be earned"
    notes = inbox_of(session, member, with_badges=True)
    assert [n.kind for n in notes] == ["badge"] * len(held)
    assert {n.params["key"] for n in notes} == {a.badge_key for a in held}
    assert notes[0].endpoint == "badges.detail"
    assert notes[0].text.startswith("You earned the badge “")
    # Awarding again finds nothing new and notifies nothing.
    assert badges.award(session, [member.id]) == []
    session.commit()
    assert session.scalar(
        select(func.count()).where(Notification.recipient_id == member.id)
    ) == len(held)


def test_question_edit_keeps_working(session: Session) -> None:
    asker = make_user(session)
    question = make_question(session, asker)
    questions.edit(
        session,
        editor=asker,
        question_id=question.id,
        title=question.title,
        body_md="Edited body of the question.",
        tags=["howto"],
    )
    comments.add(session, author=asker, post_id=question.id, body="ok")
    session.commit()
    assert inbox_of(session, asker) == []
