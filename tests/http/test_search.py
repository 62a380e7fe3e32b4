"""The search page, similar-question hints, the people finder and the health check."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.models import SearchOutbox, ZeroResultQuery
from tests.conftest import Browser
from tests.factories import make_user, search_answer, search_article, search_question
from tests.unit.test_search_backends import (  # noqa: F401 - fixtures
    _close_search_backends,
    app_config,
    database_url,
    search_setup,
)


def seed(session: Session) -> dict[str, int]:
    """A few posts, committed (and so indexed)."""
    amara = make_user(session, "amara", display_name="Amara Okafor")
    jonas = make_user(session, "jonas", display_name="Jonas Berg")
    q1 = search_question(
        session,
        amara,
        "Restart a kubernetes deployment",
        "Is there a <script>alert('x')</script> safe way to restart pods?",
        tags=("kubernetes",),
    )
    session.commit()
    a1 = search_answer(session, q1, jonas, "kubectl rollout restart does it.", score=3)
    session.commit()
    anon = search_question(
        session, amara, "Kubernetes burnout on call", "Too many pages at night.", anonymous=True
    )
    tip = search_article(
        session, jonas, "Kubernetes aliases", "alias k=kubectl", tags=("kubernetes", "shell")
    )
    session.commit()
    return {"q1": q1.id, "a1": a1.id, "anon": anon.id, "tip": tip.id}


def text_of(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined, no-any-return]


def test_empty_query_shows_tips_not_an_error(client: FlaskClient) -> None:
    response = client.get("/search")
    assert response.status_code == 200
    body = text_of(response)
    assert "How to search" in body and "tag:python" in body
    assert "search.js" in body


def test_results_are_highlighted_escaped_and_linked(client: FlaskClient, session: Session) -> None:
    ids = seed(session)
    body = text_of(client.get("/search?q=restart+safe"))
    assert f'href="/questions/{ids["q1"]}"' in body
    assert "<mark>safe</mark>" in body
    assert "<script>alert" not in body and "&lt;script&gt;" in body
    assert 'value="restart safe"' in body  # the query is echoed in the box
    assert f'href="/questions/{ids["q1"]}#post-{ids["a1"]}"' in body
    # The author's name and the time are separate words.
    assert re.search(r'>amara</a> <time datetime="', body)


def test_facets_link_to_narrower_searches(client: FlaskClient, session: Session) -> None:
    seed(session)
    body = text_of(client.get("/search?q=kubernetes"))
    assert 'href="/search?q=kubernetes+is:article"' in body
    assert 'href="/search?q=kubernetes+tag:shell"' in body
    narrowed = text_of(client.get("/search?q=kubernetes+is%3Aarticle"))
    assert "aliases" in narrowed and "burnout" not in narrowed


def test_pagination_links(client: FlaskClient, session: Session) -> None:
    author = make_user(session)
    for n in range(23):
        search_question(session, author, f"Ocelot note {n}", "Ocelots.")
    session.commit()
    body = text_of(client.get("/search?q=ocelot"))
    assert "23 results" in body and "Page 1 of 2" in body
    assert 'rel="next" href="/search?q=ocelot&amp;page=2"' in body
    second = text_of(client.get("/search?q=ocelot&page=2"))
    assert len(re.findall(r'class="search-result ', second)) == 3
    assert client.get("/search?q=ocelot&page=0").status_code == 400


def test_did_you_mean_and_no_results_advice(client: FlaskClient, session: Session) -> None:
    seed(session)
    body = text_of(client.get("/search?q=kuberentes"))
    assert 'Did you mean <a href="/search?q=kubernetes">kubernetes</a>?' in body
    body = text_of(client.get("/search?q=zyzzyva"))
    assert "No results for" in body and "Check the spelling" in body


def test_zero_result_searches_are_recorded_for_members_once_a_day(
    client: FlaskClient, session: Session
) -> None:
    member = make_user(session, "someone")
    session.commit()
    # A visitor's searches are not recorded at all.
    client.get("/search?q=quantum+toaster")
    assert session.scalars(select(ZeroResultQuery)).all() == []
    session.rollback()
    assert Browser(client).login("someone").status_code == 302
    for text in ("quantum+toaster", "Quantum++Toaster", "quantum+toaster", ""):
        client.get(f"/search?q={text}")
    rows = session.execute(
        select(ZeroResultQuery.query, ZeroResultQuery.normalized, ZeroResultQuery.user_id)
    ).all()
    assert [tuple(r) for r in rows] == [("quantum toaster", "quantum toaster", member.id)]


def test_hostile_queries_get_a_clear_refusal(client: FlaskClient) -> None:
    for query in ["*", "a*", "(" * 1000, "/.*/", "x" * 10_000]:
        response = client.get("/search", query_string={"q": query})
        assert response.status_code == 200
        assert 'role="alert"' in text_of(response)


def test_anonymous_authors_never_show(client: FlaskClient, session: Session) -> None:
    ids = seed(session)
    body = text_of(client.get("/search?q=burnout"))
    assert f'href="/questions/{ids["anon"]}"' in body
    assert "amara" not in body.split("<main", 1)[1]
    assert "burnout" not in text_of(client.get("/search?q=user%3Aamara"))


def test_user_filter_without_a_username_is_refused_not_a_list_of_anonymous_posts(
    client: FlaskClient, session: Session
) -> None:
    ids = seed(session)
    for value in ["user:@", "user:", "user:@@", 'user:""', "user:@ burnout", "user:.", "user:_"]:
        body = text_of(client.get("/search", query_string={"q": value}))
        assert 'role="alert"' in body and "user: needs a username" in body, value
        assert f'href="/questions/{ids["anon"]}"' not in body, value
    named = text_of(client.get("/search", query_string={"q": "user:@Amara kubernetes"}))
    assert f'href="/questions/{ids["q1"]}"' in named
    assert f'href="/questions/{ids["anon"]}"' not in named


def test_similar_questions_as_json_and_html(client: FlaskClient, session: Session) -> None:
    ids = seed(session)
    data = client.get(
        "/search/similar?title=how+to+restart+kubernetes+deployment",
        headers={"Accept": "application/json"},
    ).get_json()
    first = data["results"][0]
    assert first["id"] == ids["q1"] and first["answer_count"] == 1
    assert first["url"] == f"/questions/{ids['q1']}"
    assert len(data["results"]) <= 5
    html = text_of(client.get("/search/similar?title=restart+kubernetes"))
    assert "Restart a kubernetes deployment" in html and "1 answer" in html
    assert client.get("/search/similar?title=").status_code == 200
    # The ask page's box lists articles too, saying so.
    found = client.get("/search/similar?format=json&title=kubernetes+aliases").get_json()
    kinds = {r["id"]: r["kind"] for r in found["results"]}
    assert kinds[ids["tip"]] == "article" and kinds[ids["q1"]] == "question"
    html = text_of(client.get("/search/similar?title=kubernetes+aliases"))
    assert "Kubernetes aliases" in html and "article" in html


def test_people_who_know_about_a_topic(client: FlaskClient, session: Session) -> None:
    seed(session)
    body = text_of(client.get("/people?q=kubernetes"))
    assert "Jonas Berg" in body
    assert "Amara Okafor" not in body  # she asked, she did not answer or teach
    assert "Type a topic" in text_of(client.get("/people"))
    assert 'role="alert"' in text_of(client.get("/people?q=*"))


def test_the_header_box_searches(client: FlaskClient) -> None:
    body = text_of(client.get("/"))
    assert 'action="/search"' in body and 'placeholder="Search know-how…"' in body


def test_health_shows_the_search_backlog(client: FlaskClient, session: Session) -> None:
    session.add(SearchOutbox(post_id=999))
    session.commit()
    search = client.get("/healthz").get_json()["search"]
    assert search["ok"] is True
    assert search["pending"] == session.scalar(select(func.count()).select_from(SearchOutbox))
    assert search["oldest_pending_seconds"] is not None


def test_question_page_shows_related_questions_within_its_query_budget(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    from tests.http.test_query_counts import counted

    ids = seed(session)
    author = make_user(session, "noor")
    twin = search_question(session, author, "Restart kubernetes pods after a deployment", "How?")
    session.commit()
    search_answer(session, twin, author, "Delete them.")
    unrelated = search_question(session, author, "Lunch menu on Friday", "Soup?")
    session.commit()
    with counted(app) as statements:
        body = text_of(client.get(f"/questions/{ids['q1']}"))
    assert len(statements) <= 8
    aside = body.split('id="related-heading"', 1)[1].split("</aside>", 1)[0]
    assert f'href="/questions/{twin.id}"' in aside and "1 answer" in aside
    assert f'href="/questions/{ids["q1"]}"' not in aside  # not itself
    assert f'href="/questions/{unrelated.id}"' not in aside
    assert f'href="/questions/{ids["a1"]}"' not in aside  # questions only
    lonely = text_of(client.get(f"/questions/{unrelated.id}"))
    assert 'id="related-heading"' not in lonely
