"""The question page's threads are kept per audience; each member still sees their own page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask, template_rendered
from sqlalchemy.orm import Session

from forum import pagecache
from forum.models import Role, User
from forum.services import answers, comments, votes
from tests.conftest import CSRF_META, Browser
from tests.factories import make_answer, make_comment, make_question, make_user
from tests.http.test_query_counts import PAGE_LOAD

THREADS = "questions/_answers.html"
#: Every kind of viewer of the thread below, with a member of the same role and reputation
#: privileges who wrote nothing there (the asker, the answerer and the commenter did).
PEERS = {
    "visitor": "visitor",
    "asker": "newcomer",
    "answerer": "newcomer",
    "commenter": "newcomer",
    "member": "member_two",
    "newcomer": "newcomer_two",
    "moderator": "moderator_two",
}


@contextmanager
def rendered(app: Flask) -> Iterator[list[str]]:
    """The names of the templates rendered meanwhile."""
    names: list[str] = []

    def record(_sender: Any, template: Any, **_extra: Any) -> None:
        names.append(template.name)

    template_rendered.connect(record, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(record, app)


@contextmanager
def cache_off(app: Flask) -> Iterator[None]:
    """The app as with ``PAGE_CACHE = False``, for a while."""
    cache = app.extensions.pop("forum.pagecache")
    try:
        yield
    finally:
        app.extensions["forum.pagecache"] = cache


def _client(app: Flask, username: str | None) -> Any:
    client = app.test_client()
    if username is not None:
        assert Browser(client).login(username).status_code == 302
    return client


def _page(client: Any, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    token = CSRF_META.search(html)
    assert token
    # Each viewer's token, in the <meta> and in every form, is theirs: the rest must match.
    assert html.count(token.group(1)) > 1
    return html.replace(token.group(1), "TOKEN")


@pytest.fixture
def thread(session: Session) -> dict[str, Any]:
    """An anonymous question with answers (one by its hidden asker, one deleted), comments,
    a deleted comment with a reply, and votes by several members."""
    people = {
        "asker": make_user(session, "asker", display_name="Hidden Asker", reputation=5),
        "answerer": make_user(session, "answerer", display_name="Ana Answerer", reputation=50),
        "commenter": make_user(session, "commenter", display_name="Cid Commenter", reputation=50),
        "member": make_user(session, "member", reputation=5000),
        "member_two": make_user(session, "member_two", reputation=5000),
        "newcomer": make_user(session, "newcomer", reputation=1),
        "newcomer_two": make_user(session, "newcomer_two", reputation=1),
        "moderator": make_user(session, "moderator", role=Role.MODERATOR),
        "moderator_two": make_user(session, "moderator_two", role=Role.MODERATOR),
    }
    question = make_question(
        session, people["asker"], title="May I ask about parental leave?", anonymous=True
    )
    kept = make_answer(session, question, people["answerer"], body="Ask HR, they are kind.\n")
    own = make_answer(session, question, people["asker"], body="Update: HR answered me.\n")
    gone = make_answer(session, question, people["answerer"], body="A wrong first try.\n")
    answers.delete(session, actor=people["answerer"], answer_id=gone.id)
    first = make_comment(session, question, people["commenter"], body="Which country?")
    make_comment(session, question, people["asker"], body="Germany.", parent=first)
    doomed = make_comment(session, kept, people["commenter"], body="Thanks for this!")
    make_comment(session, kept, people["answerer"], body="You are welcome.", parent=doomed)
    comments.delete(session, actor=people["commenter"], comment_id=doomed.id)
    liked = make_comment(session, kept, people["asker"], body="This helped me.")
    session.flush()
    votes.cast(session, voter=people["member"], post_id=kept.id, value=1)
    votes.cast(session, voter=people["member"], post_id=question.id, value=1)
    votes.cast(session, voter=people["member_two"], post_id=own.id, value=-1)
    votes.cast_on_comment(session, voter=people["member"], comment_id=first.id)
    votes.cast_on_comment(session, voter=people["newcomer_two"], comment_id=liked.id)
    session.commit()
    return {"people": people, "question": question, "path": f"/questions/{question.id}"}


@pytest.mark.parametrize("viewer", list(PEERS))
def test_a_kept_thread_reads_as_a_fresh_render_for_every_viewer(
    app: Flask, thread: dict[str, Any], viewer: str
) -> None:
    path = thread["path"]
    # (Logging in is a write: everyone logs in before the pages are kept.)
    client = _client(app, None if viewer == "visitor" else viewer)
    peer = _client(app, None if viewer == "visitor" else PEERS[viewer])
    with cache_off(app), rendered(app) as names:
        fresh = _page(client, path)
    assert THREADS in names
    # A peer sees the page first, then the viewer (twice: the second time from kept parts).
    _page(peer, path)
    _page(client, path)
    with rendered(app) as names:
        kept = _page(client, path)
    assert THREADS not in names, "the threads were rendered again"
    assert kept == fresh


def test_members_never_see_each_others_votes(app: Flask, thread: dict[str, Any]) -> None:
    path = thread["path"]
    member, member_two = _client(app, "member"), _client(app, "member_two")
    first = _page(member, path)
    # Their up votes on the question, an answer and a comment.
    assert first.count("is-active") == 3
    with rendered(app) as names:
        second = _page(member_two, path)
    assert THREADS not in names
    # Only their own down vote on the asker's answer.
    assert second.count("is-active") == 1
    assert re.search(r'vote-button--down is-active"\s+aria-pressed="true"', second)


def test_the_hidden_asker_stays_hidden_from_everyone_else(
    app: Flask, thread: dict[str, Any]
) -> None:
    path = thread["path"]
    clients = {name: _client(app, name) for name in ("asker", "member", "newcomer", "answerer")}
    own = _page(clients.pop("asker"), path)
    # The asker's own view has their actions on their own answer and comments...
    assert "you asked anonymously" in own and "/edit" in own
    for client in [*clients.values(), app.test_client()]:
        page = _page(client, path)
        # ...which no one else's shows, nor their name.
        assert "Hidden Asker" not in page and "/users/asker" not in page
        assert "you asked anonymously" not in page


def test_owners_see_their_own_actions_and_others_do_not(app: Flask, thread: dict[str, Any]) -> None:
    path = thread["path"]
    names = ("answerer", "asker", "newcomer", "member", "moderator")
    clients = {name: _client(app, name) for name in names}
    answerer = _page(clients["answerer"], path)
    assert "A wrong first try." in answerer  # their own deleted answer
    assert "Accept</button>" not in answerer
    asker = _page(clients["asker"], path)
    assert "Accept</button>" in asker and "A wrong first try." not in asker
    # Members who may edit others' posts see "Edit" where newcomers see "Suggest edit" (on the
    # question and both live answers), whoever came first.
    for viewer, suggestions in (("member", 0), ("newcomer", 3)):
        page = _page(clients[viewer], path)
        assert "A wrong first try." not in page and "Accept</button>" not in page
        assert "Delete…" not in page
        assert page.count("Suggest edit") == suggestions
    assert "A wrong first try." in _page(clients["moderator"], path)


def test_writes_show_at_once(app: Flask, session: Session, thread: dict[str, Any]) -> None:
    path, people = thread["path"], thread["people"]
    question = thread["question"]
    member = _client(app, "member_two")
    before = _page(member, path)
    assert "A new detail." not in before and before.count("is-active") == 1
    answer_id = next(v for v in re.findall(r'id="post-(\d+)"', before) if int(v) != question.id)
    token = CSRF_META.search(member.get(path).get_data(as_text=True))
    assert token
    voted = member.post(
        f"/posts/{answer_id}/vote", data={"csrf_token": token.group(1), "value": "1"}
    )
    assert voted.status_code in {200, 303}
    after = _page(member, path)
    assert after.count("is-active") == 2
    make_comment(session, question, people["member"], body="A new detail.")
    session.commit()
    assert "A new detail." in _page(_client(app, "member_two"), path)
    accepted = session.get(User, people["asker"].id)
    assert accepted is not None
    answers.accept(session, acceptor=accepted, answer_id=int(answer_id))
    session.commit()
    assert "post--accepted" in _page(_client(app, "newcomer"), path)


def test_member_views_still_count_exactly(app: Flask, thread: dict[str, Any]) -> None:
    path = thread["path"]
    seen = []
    for viewer in ("member", "member_two", "member", "newcomer"):
        response = _client(app, viewer).get(path, headers=PAGE_LOAD)
        seen.append(re.search(r"Viewed (\d+) time", response.get_data(as_text=True)))
    assert [int(m.group(1)) for m in seen if m] == [1, 2, 2, 3]


def test_a_part_read_before_a_write_is_not_kept(app: Flask, thread: dict[str, Any]) -> None:
    calls: list[bool] = []

    def render(marked: bool) -> str:
        calls.append(marked)
        return f"<p>{pagecache.mark('up', 1) if marked else ' is-active'}</p>"

    fill = {"up": lambda _post_id: " is-active"}
    with app.test_request_context("/"):
        stale = b"an older generation"
        for _ in range(2):
            part = pagecache.kept_shared_fragment("part", render, fill, loaded_in=stale)
            assert part == "<p> is-active</p>"
        assert calls == [False, False]
        now = pagecache.current_generation()
        for _ in range(2):
            assert pagecache.kept_shared_fragment("part", render, fill, loaded_in=now) == (
                "<p> is-active</p>"
            )
        assert calls == [False, False, True]
