"""Atom feeds: each parsed and checked against RFC 4287's required elements, what each lists
(live posts only, never a member's anonymous posts), and the pages that link them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.services import posts
from tests.factories import make_answer, make_article, make_question, make_user

NS = {"a": "http://www.w3.org/2005/Atom"}
SITE = "https://forum.example.com"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "SITE_URL": SITE, "REPUTATION_THRESHOLDS": {"create_tags": 0}}


def _when(text: str | None) -> dt.datetime:
    assert text and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text), text
    return dt.datetime.fromisoformat(text)


def atom(client: FlaskClient, path: str) -> ET.Element:
    """The feed at ``path``, checked as Atom: required elements, ids, dates, links."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert response.data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    feed = ET.fromstring(response.data)  # well-formed, or this raises
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(f"a:{name}", NS)) == 1, name
    assert feed.findtext("a:id", namespaces=NS) == f"{SITE}{path}"
    [self_link] = feed.findall("a:link[@rel='self']", NS)
    assert self_link.get("href") == f"{SITE}{path}"
    assert feed.findtext("a:author/a:name", namespaces=NS)
    updated = _when(feed.findtext("a:updated", namespaces=NS))
    ids = []
    for entry in feed.findall("a:entry", NS):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"a:{name}", NS)) == 1, name
        ids.append(entry.findtext("a:id", namespaces=NS))
        assert _when(entry.findtext("a:updated", namespaces=NS)) <= updated
        _when(entry.findtext("a:published", namespaces=NS))
        [link] = entry.findall("a:link[@rel='alternate']", NS)
        assert link.get("href", "").startswith(f"{SITE}/")
        assert entry.findtext("a:author/a:name", namespaces=NS)
    assert len(ids) == len(set(ids)), "entry ids are unique"
    return feed


def titles(feed: ET.Element) -> list[str]:
    return [e.findtext("a:title", namespaces=NS) or "" for e in feed.findall("a:entry", NS)]


def test_the_question_feeds(app: Flask, session: Session, client: FlaskClient) -> None:
    asker = make_user(session, "shy", display_name="Shy Person")
    first = make_question(session, title="How do I get VPN access at home?", tags=("vpn",))
    make_question(session, asker, title="Is it fine to ask about pay here?", anonymous=True)
    removed = make_question(session, title="This question was removed by its author", tags=("vpn",))
    removed.deleted_at = utcnow()
    session.commit()

    everything = atom(client, "/feeds/questions.atom")
    assert titles(everything) == [
        "Is it fine to ask about pay here?",
        "How do I get VPN access at home?",
    ]
    authors = [
        e.findtext("a:author/a:name", namespaces=NS) for e in everything.iter(f"{{{NS['a']}}}entry")
    ]
    assert authors[0] == posts.ANONYMOUS_LABEL
    assert b"Shy Person" not in ET.tostring(everything)
    [entry] = [
        e
        for e in everything.findall("a:entry", NS)
        if "VPN" in (e.findtext("a:title", namespaces=NS) or "")
    ]
    assert entry.findtext("a:id", namespaces=NS) == f"{SITE}/questions/{first.id}"
    assert [c.get("term") for c in entry.findall("a:category", NS)] == ["vpn"]
    assert entry.findtext("a:summary", namespaces=NS) == "What is the usual way to do this here?"

    tagged = atom(client, "/feeds/tags/vpn.atom")
    assert titles(tagged) == ["How do I get VPN access at home?"]
    assert tagged.find("a:link[@rel='alternate']", NS).get("href") == f"{SITE}/tags/vpn"  # type: ignore[union-attr]
    assert client.get("/feeds/tags/no-such-tag.atom").status_code == 404


def test_the_article_feed_and_an_empty_feed(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    empty = atom(client, "/feeds/articles.atom")
    assert titles(empty) == []
    author = make_user(session, "writer", display_name="Wendy Writer")
    article = make_article(session, author, title="Deploying on Fridays", body="**Don't.**\n")
    session.commit()
    feed = atom(client, "/feeds/articles.atom")
    [entry] = feed.findall("a:entry", NS)
    assert entry.findtext("a:title", namespaces=NS) == "Deploying on Fridays"
    assert entry.findtext("a:id", namespaces=NS) == f"{SITE}/articles/{article.slug}"
    assert entry.findtext("a:author/a:name", namespaces=NS) == "Wendy Writer"
    assert entry.findtext("a:summary", namespaces=NS) == "Don't."


def test_a_members_feed_never_lists_their_anonymous_posts(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    member = make_user(session, "kim", display_name="Kim Lee")
    public = make_question(session, member, title="Which linter do we use for Go?")
    hidden = make_question(session, member, title="Can I ask for a pay review now?", anonymous=True)
    make_answer(session, hidden, member, body="Answering my own anonymous question.\n")
    other = make_question(session, title="Where are the design files kept?")
    make_answer(session, other, member, body="In the shared drive.\n")
    make_article(session, member, title="Our Go style guide")
    session.commit()
    feed = atom(client, "/feeds/users/kim.atom")
    assert sorted(titles(feed)) == [
        "Answer to: Where are the design files kept?",
        "Article: Our Go style guide",
        "Question: Which linter do we use for Go?",
    ]
    text = ET.tostring(feed).decode()
    assert "pay review" not in text and "Answering my own" not in text
    assert f"{SITE}/questions/{public.id}" in text
    assert client.get("/feeds/users/nobody-here.atom").status_code == 404


def test_pages_link_their_feeds(app: Flask, session: Session, client: FlaskClient) -> None:
    make_user(session, "kim")
    make_question(session, tags=("vpn",))
    session.commit()
    for page, feed in [
        ("/questions", "/feeds/questions.atom"),
        ("/tags/vpn", "/feeds/tags/vpn.atom"),
        ("/articles", "/feeds/articles.atom"),
        ("/users/kim", "/feeds/users/kim.atom"),
    ]:
        html = client.get(page).get_data(as_text=True)
        link = rf'<link rel="alternate" type="application/atom\+xml" title="[^"]+" href="{feed}">'
        assert re.search(link.replace(".", r"\."), html), page
