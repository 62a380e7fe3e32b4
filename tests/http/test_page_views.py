"""Only a person opening a question counts a view: an <img> or a prefetch pointing at the page
(same-origin markup in a post, say) neither counts nor records who loaded it."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.models import PostView, Question
from tests.conftest import Browser
from tests.factories import make_question, make_user

IMAGE_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
PAGE_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _views(session: Session, question_id: int) -> tuple[int, int]:
    session.commit()
    count = session.scalar(select(Question.view_count).where(Question.id == question_id))
    rows = session.scalar(
        select(func.count()).select_from(PostView).where(PostView.post_id == question_id)
    )
    return int(count or 0), int(rows or 0)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Dest": "image", "Sec-Fetch-Mode": "no-cors", "Accept": IMAGE_ACCEPT},
        {"Sec-Fetch-Dest": "empty", "Accept": "*/*"},
        {"Sec-Fetch-Dest": "iframe", "Accept": PAGE_ACCEPT},
        {"Sec-Fetch-Dest": "document", "Sec-Purpose": "prefetch", "Accept": PAGE_ACCEPT},
        {"Purpose": "prefetch", "Accept": PAGE_ACCEPT},
        # A browser without Fetch Metadata asks for an image without naming HTML.
        {"Accept": IMAGE_ACCEPT},
        {"Accept": "image/webp,*/*"},
        {"Accept": "*/*"},
        {},
    ],
)
def test_requests_that_are_not_page_loads_count_no_view(
    app: Flask, session: Session, headers: dict[str, str]
) -> None:
    make_user(session, "reader")
    question = make_question(session)
    session.commit()
    reader = Browser(app.test_client())
    reader.login("reader")
    for client in (reader.client, app.test_client()):
        response = client.get(f"/questions/{question.id}", headers=headers)
        assert response.status_code == 200
    assert _views(session, question.id) == (0, 0)


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate", "Accept": PAGE_ACCEPT},
        {"Sec-Fetch-Dest": "document"},
        {"Accept": PAGE_ACCEPT},
    ],
)
def test_opening_the_page_counts_a_view(
    app: Flask, session: Session, headers: dict[str, str]
) -> None:
    question = make_question(session)
    session.commit()
    response = app.test_client().get(f"/questions/{question.id}", headers=headers)
    assert response.status_code == 200
    assert _views(session, question.id) == (1, 1)


#: Pages whose GET writes for a reason no <img> can exploit.
_WRITES_OWN_SETTINGS = {
    # Creates the member's own calendar feed token the first time; nobody else sees it.
    "circles.my_calendar",
    # The same for the member's feed and calendar secrets on their feed settings page.
    "users.feed_secrets",
}


def test_no_page_writes_anything_when_loaded_as_an_image(app: Flask, session: Session) -> None:
    from sqlalchemy import event

    from forum.db import get_engine
    from forum.models import Role
    from tests.factories import make_answer, make_article
    from tests.http.test_web import get_urls, sample_url

    amara = make_user(session, "amara", role=Role.ADMIN)
    question = make_question(session, amara)
    make_answer(session, question, make_user(session))
    make_article(session, amara, title="Amara")
    session.commit()
    member = Browser(app.test_client())
    member.login("amara")
    writes: list[str] = []

    def record(conn: object, cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            writes.append(statement)

    engine = get_engine(app)
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.methods and "GET" in r.methods and r.endpoint != "static"
    ]
    assert len(get_urls(app)) == len(rules) > 30
    event.listen(engine, "before_cursor_execute", record)
    try:
        for rule in rules:
            if rule.endpoint in _WRITES_OWN_SETTINGS:
                continue
            url = sample_url(app, rule)
            for client in (member.client, app.test_client()):
                writes.clear()
                client.get(url, headers={"Sec-Fetch-Dest": "image", "Accept": IMAGE_ACCEPT})
                assert writes == [], (rule.endpoint, writes)
    finally:
        event.remove(engine, "before_cursor_execute", record)
