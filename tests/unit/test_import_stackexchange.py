"""Importing the complete ai.stackexchange.com dump: counts, content, links, history, no-ops."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, selectinload

from forum import create_app
from forum.db import get_engine, new_session
from forum.importers import stackexchange
from forum.importers.stackexchange import DumpError, ImportSummary
from forum.models import (
    Answer,
    Base,
    Comment,
    ImportRecord,
    Post,
    PostAttribution,
    Question,
    RelatedPost,
    Revision,
    Tag,
    User,
)
from tests.conftest import DATABASES, base_config, create_pg_database, drop_pg_database

DUMPS = Path(__file__).resolve().parents[3] / "shared" / "data" / "stackexchange"
AI = DUMPS / "ai.stackexchange.com"
SITE = "ai.stackexchange.com"


def _rows(path: Path) -> Iterator[dict[str, str]]:
    for _event, element in ET.iterparse(path):
        if element.tag == "row":
            yield dict(element.attrib)
            element.clear()


def _date(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; both databases store UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass
class Dump:
    """What the XML says, computed independently of the importer."""

    posts: dict[str, dict[str, str]] = field(default_factory=dict)
    users: dict[str, dict[str, str]] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    comments: list[dict[str, str]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict[str, str]]:
        return [p for p in self.posts.values() if p["PostTypeId"] == kind]


@pytest.fixture(scope="module")
def dump() -> Dump:
    """The ai.stackexchange.com dump, read straight from the XML."""
    found = Dump()
    found.posts = {r["Id"]: r for r in _rows(AI / "Posts.xml")}
    found.users = {r["Id"]: r for r in _rows(AI / "Users.xml")}
    found.tags = list(_rows(AI / "Tags.xml"))
    found.comments = list(_rows(AI / "Comments.xml"))
    found.links = list(_rows(AI / "PostLinks.xml"))
    found.history = [
        {k: v for k, v in r.items() if k != "Text"} | {"Text": r.get("Text", "")}
        for r in _rows(AI / "PostHistory.xml")
    ]
    return found


@dataclass
class Imported:
    """A database holding the imported dump, and the summary the import returned."""

    app: Flask
    summary: ImportSummary
    url: str


def _import(app: Flask, directory: Path) -> ImportSummary:
    session = new_session(app)
    # Indexing is tested by the search suite; here it would only slow the commit down.
    session.info.pop("search", None)
    try:
        summary = stackexchange.import_dump(session, directory)
        session.commit()
    finally:
        session.close()
    return summary


@pytest.fixture(scope="module", params=DATABASES)
def imported(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Imported]:
    """The dump imported once per database for the whole module."""
    folder = tmp_path_factory.mktemp("import")
    name = f"forum_import_{os.getpid()}"
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, folder / "forum.db")
        url = f"sqlite:///{folder / 'forum.db'}"
    else:
        url = create_pg_database(name)
        from tests.conftest import migrate

        migrate(url, folder)
    app = create_app(base_config(folder, url))
    summary = _import(app, AI)
    yield Imported(app, summary, url)
    get_engine(app).dispose()
    if request.param == "postgresql":
        drop_pg_database(name)


@pytest.fixture
def db(imported: Imported) -> Iterator[Session]:
    """A session on the imported database."""
    session = new_session(imported.app)
    try:
        yield session
    finally:
        session.close()


def _local(session: Session, kind: str, external_id: str) -> int:
    return session.scalars(
        select(ImportRecord.local_id).where(
            ImportRecord.site == SITE,
            ImportRecord.kind == kind,
            ImportRecord.external_id == external_id,
        )
    ).one()


def _count(session: Session, model: type[Base]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# --- counts ------------------------------------------------------------------------------------


def test_counts_equal_the_dump(imported: Imported, db: Session, dump: Dump) -> None:
    questions, answers = dump.of_type("1"), dump.of_type("2")
    accepted = [q for q in questions if q.get("AcceptedAnswerId")]
    # The figures published with the dump, and the same figures computed from the XML.
    assert (len(questions), len(answers), len(accepted)) == (421, 749, 212)
    assert (len(dump.comments), len(dump.tags), len(dump.users)) == (1165, 222, 3157)

    assert _count(db, Question) == len(questions)
    assert _count(db, Answer) == len(answers)
    has_accepted = select(func.count()).where(Question.accepted_answer_id.is_not(None))
    assert db.scalar(has_accepted) == len(accepted)
    assert _count(db, Comment) == len(dump.comments)
    assert _count(db, Tag) == len(dump.tags)
    assert _count(db, User) == len(dump.users)
    assert _count(db, PostAttribution) == len(questions) + len(answers)

    summary = imported.summary
    for kind, expected in [
        ("questions", 421),
        ("answers", 749),
        ("accepted answers", 212),
        ("comments", 1165),
        ("tags", 222),
        ("users", 3157),
    ]:
        assert summary[kind].read == summary[kind].imported == expected, kind
        assert not summary[kind].skipped, kind


def test_summary_table_lists_kinds_and_skipped_reasons(imported: Imported) -> None:
    lines = imported.summary.table()
    assert lines[0].split() == ["kind", "read", "imported", "unchanged", "skipped"]
    assert any(line.split()[:3] == ["questions", "421", "421"] for line in lines)
    assert "Skipped:" in lines
    assert any("post type 7 (wiki placeholder)" in line for line in lines)
    assert any("votes: 5323 kept as post scores" in line for line in lines)


# --- content -----------------------------------------------------------------------------------


def test_sample_questions_match_their_source(db: Session, dump: Dump) -> None:
    questions = sorted(dump.of_type("1"), key=lambda q: int(q["Id"]))
    answers_per_question = Counter(a["ParentId"] for a in dump.of_type("2"))
    comments_per_post = Counter(c["PostId"] for c in dump.comments)
    for source in questions[::20]:
        question = db.get(Question, _local(db, "question", source["Id"]))
        assert question is not None
        assert question.title == source["Title"]
        assert _utc(question.created_at) == _date(source["CreationDate"])
        assert _utc(question.last_activity_at) == _date(source["LastActivityDate"])
        assert question.score == int(source["Score"])
        assert question.view_count == int(source["ViewCount"])
        expected_tags = source["Tags"].strip("<>").split("><")
        assert sorted(t.name for t in question.tags) == sorted(expected_tags)
        assert question.answer_count == answers_per_question[source["Id"]]
        assert question.comment_count == comments_per_post[source["Id"]]
        if source.get("AcceptedAnswerId"):
            assert question.accepted_answer_id == _local(db, "answer", source["AcceptedAnswerId"])
        else:
            assert question.accepted_answer_id is None
        owner = dump.users.get(source.get("OwnerUserId", ""))
        if owner is not None:
            assert question.author is not None
            assert question.author.display_name == owner["DisplayName"][:80]
        assert question.body_html and question.body_md.strip()
        assert "<p>" not in question.body_md  # converted, not HTML


def test_sample_answers_match_their_source(db: Session, dump: Dump) -> None:
    for source in sorted(dump.of_type("2"), key=lambda a: int(a["Id"]))[::25]:
        answer = db.get(Answer, _local(db, "answer", source["Id"]))
        assert answer is not None
        assert answer.parent_id == _local(db, "question", source["ParentId"])
        assert answer.score == int(source["Score"])
        assert _utc(answer.created_at) == _date(source["CreationDate"])
        edited = source.get("LastEditDate") or source["CreationDate"]
        assert _utc(answer.updated_at) == _date(edited)


def test_bodies_are_sanitised_html_and_editable_markdown(db: Session) -> None:
    question = db.get(Question, _local(db, "question", "1"))
    assert question is not None
    # <p>What does "backprop" mean? ...</p> in the dump.
    assert question.body_html.startswith("<p>What does")
    assert question.body_md.startswith('What does "backprop" mean?')
    for html in db.scalars(select(Post.body_html)):
        lowered = html.lower()
        assert "<script" not in lowered and "onerror=" not in lowered and "style=" not in lowered


def test_imported_members_cannot_log_in(db: Session, dump: Dump) -> None:
    users = db.scalars(select(User)).all()
    assert all(u.password_hash is None and u.email is None for u in users)
    user = db.get(User, _local(db, "user", "1"))
    assert user is not None
    assert user.display_name == dump.users["1"]["DisplayName"]
    assert _utc(user.created_at) == _date(dump.users["1"]["CreationDate"])
    assert user.bio and "Developer at Stack Overflow" in user.bio and "<p>" not in user.bio
    assert user.username == "ai.1"
    community = db.get(User, _local(db, "user", "-1"))
    assert community is not None and community.username == "ai.n1"


def test_tags_carry_their_wiki_excerpts(db: Session, dump: Dump) -> None:
    with_excerpt = {
        t["TagName"]: dump.posts[t["ExcerptPostId"]]["Body"].strip()
        for t in dump.tags
        if t.get("ExcerptPostId") in dump.posts and dump.posts[t["ExcerptPostId"]]["Body"].strip()
    }
    tags = {t.name: t for t in db.scalars(select(Tag))}
    assert {name for name, tag in tags.items() if tag.excerpt} == set(with_excerpt)
    for name, excerpt in with_excerpt.items():
        assert tags[name].excerpt == excerpt.strip()


def test_comments_keep_their_text_author_and_date(db: Session, dump: Dump) -> None:
    for source in dump.comments[::50]:
        comment = db.get(Comment, _local(db, "comment", source["Id"]))
        assert comment is not None
        kind = "question" if dump.posts[source["PostId"]]["PostTypeId"] == "1" else "answer"
        assert comment.post_id == _local(db, kind, source["PostId"])
        assert comment.body_md == source["Text"].strip()
        assert comment.score == int(source["Score"])
        assert _utc(comment.created_at) == _date(source["CreationDate"])
        assert comment.author_id == _local(db, "user", source["UserId"])


# --- links -------------------------------------------------------------------------------------


def test_duplicates_are_closed_with_their_original(db: Session, dump: Dump) -> None:
    duplicates = [link for link in dump.links if link["LinkTypeId"] == "3"]
    assert len(duplicates) == 6
    for link in duplicates:
        question = db.get(Question, _local(db, "question", link["PostId"]))
        assert question is not None
        assert question.closed_reason == "duplicate"
        assert question.duplicate_of_id == _local(db, "question", link["RelatedPostId"])
        closed = dump.posts[link["PostId"]].get("ClosedDate")
        assert _utc(question.closed_at) == _date(closed or link["CreationDate"])
        stored = db.scalars(
            select(RelatedPost).where(
                RelatedPost.post_id == question.id,
                RelatedPost.related_post_id == question.duplicate_of_id,
            )
        ).one()
        assert stored.link_type == "duplicate"
    closed_as_duplicate = select(func.count()).where(Question.duplicate_of_id.is_not(None))
    assert db.scalar(closed_as_duplicate) == len(duplicates)


def test_other_closed_questions_keep_a_reason(db: Session, dump: Dump) -> None:
    closed = [q for q in dump.of_type("1") if q.get("ClosedDate")]
    rows = db.scalars(select(Question).where(Question.closed_at.is_not(None))).all()
    assert len(rows) == len(closed) == 50
    assert {q.closed_reason for q in rows} <= {"duplicate", "off-topic", "needs-detail"}
    off_topic = db.scalar(select(func.count()).where(Question.closed_reason == "off-topic"))
    assert off_topic and off_topic > 0
    assert all(q.close_note and SITE in q.close_note for q in rows)


def test_related_links_are_stored(db: Session, dump: Dump) -> None:
    present = {
        (link["PostId"], link["RelatedPostId"])
        for link in dump.links
        if link["PostId"] in dump.posts and link["RelatedPostId"] in dump.posts
    }
    assert _count(db, RelatedPost) == len(present)
    related = next(
        link
        for link in dump.links
        if link["LinkTypeId"] == "1"
        and (link["PostId"], link["RelatedPostId"]) in present
        and not any(
            d["LinkTypeId"] == "3"
            and (d["PostId"], d["RelatedPostId"])
            == (
                link["PostId"],
                link["RelatedPostId"],
            )
            for d in dump.links
        )
    )
    stored = db.scalars(
        select(RelatedPost).where(
            RelatedPost.post_id == _local(db, "question", related["PostId"]),
            RelatedPost.related_post_id == _local(db, "question", related["RelatedPostId"]),
        )
    ).one()
    assert stored.link_type == "related"


# --- history and attribution ---------------------------------------------------------------------


def test_revisions_come_from_post_history(db: Session, dump: Dump) -> None:
    # Post 1 was edited: its title changed from the first revision to the current one.
    groups: list[tuple[str, str]] = []
    for row in dump.history:
        if row["PostId"] == "1" and int(row["PostHistoryTypeId"]) in range(1, 10):
            key = (row["PostId"], row["RevisionGUID"])
            if not groups or groups[-1] != key:
                groups.append(key)
    question = db.get(Question, _local(db, "question", "1"))
    assert question is not None
    revisions = db.scalars(
        select(Revision).where(Revision.post_id == question.id).order_by(Revision.number)
    ).all()
    assert [r.number for r in revisions] == list(range(1, len(groups) + 2))
    assert question.revision_count == len(revisions)
    first = revisions[0]
    assert first.title == 'What is the "backprop"?'
    assert first.body_md.startswith('What "backprop" does it mean?')
    assert first.tags_text == "deep-network"
    assert _utc(first.created_at) == _date("2016-08-02T15:39:14.947")
    assert first.editor_id == _local(db, "user", "8")
    last = revisions[-1]
    assert (last.title, last.body_md) == (question.title, question.body_md)
    assert "Imported from ai.stackexchange.com" in last.summary


def test_every_post_has_a_revision_for_its_imported_text(db: Session) -> None:
    missing = db.scalar(
        select(func.count())
        .select_from(Post)
        .where(~select(Revision.id).where(Revision.post_id == Post.id).exists())
    )
    assert missing == 0
    mismatched = db.scalar(
        select(func.count())
        .select_from(Post)
        .where(
            Post.revision_count
            != select(func.count(Revision.id)).where(Revision.post_id == Post.id).scalar_subquery()
        )
    )
    assert mismatched == 0


def test_attribution_names_site_original_author_and_licence(
    imported: Imported, db: Session
) -> None:
    question = db.scalars(
        select(Question)
        .where(Question.id == _local(db, "question", "1"))
        .options(selectinload(Post.attribution))  # type: ignore[attr-defined]
    ).one()
    source = question.attribution  # type: ignore[attr-defined]
    assert source.source == "Stack Exchange" and source.site == SITE
    assert source.source_url == "https://ai.stackexchange.com/questions/1"
    assert source.author_url == "https://ai.stackexchange.com/users/8"
    # 2016 content without a ContentLicense attribute was published under CC BY-SA 3.0.
    assert source.license == "CC BY-SA 3.0"
    with imported.app.test_request_context():
        html = imported.app.jinja_env.from_string(
            '{% from "macros/attribution.html" import attribution %}{{ attribution(post) }}'
        ).render(post=question)
    assert 'href="https://ai.stackexchange.com/questions/1"' in html
    assert 'href="https://ai.stackexchange.com/users/8"' in html
    assert ">" + source.author_name + "</a>" in html
    assert 'href="https://creativecommons.org/licenses/by-sa/3.0/"' in html
    assert "Stack Exchange" in html
    answer = db.get(Answer, _local(db, "answer", "3"))
    assert answer is not None
    assert answer.attribution.source_url == "https://ai.stackexchange.com/a/3"  # type: ignore[attr-defined]


def test_attribution_renders_nothing_for_local_posts(imported: Imported) -> None:
    with imported.app.test_request_context():
        html = imported.app.jinja_env.from_string(
            '{% from "macros/attribution.html" import attribution %}{{ attribution(post) }}'
        ).render(post=Question(title="Written here"))
    assert html.strip() == ""


def test_search_finds_imported_questions_once_synced(imported: Imported, db: Session) -> None:
    from forum import search

    assert imported.summary.search_mode == "rebuild"  # 1,170 new posts in an empty forum
    note = stackexchange.sync_search(
        get_engine(imported.app), imported.app.config, imported.summary.search_mode
    )
    assert note.startswith("Search: index rebuilt with ")
    page = search.search(db, "backprop is:question", record_zero=False)
    assert _local(db, "question", "1") in [hit.id for hit in page.results.hits]


# --- idempotency and failure ---------------------------------------------------------------------


def _table_counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.execute(text(f'SELECT count(*) FROM "{table.name}"')).scalar_one()
        for table in Base.metadata.sorted_tables
    }


def test_reimport_changes_nothing(imported: Imported, db: Session) -> None:
    before = _table_counts(db)
    latest = db.scalar(select(func.max(Post.updated_at)))
    db.rollback()

    again = _import(imported.app, AI)

    assert not again.changed
    assert again["questions"].unchanged == 421 and again["answers"].unchanged == 749
    assert again["comments"].unchanged == 1165 and again["users"].unchanged == 3157
    assert _table_counts(db) == before
    assert db.scalar(select(func.max(Post.updated_at))) == latest


@pytest.fixture(params=DATABASES)
def empty_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty, migrated database of its own."""
    name = f"forum_import_empty_{os.getpid()}"
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "forum.db")
        url = f"sqlite:///{tmp_path / 'forum.db'}"
    else:
        url = create_pg_database(name)
        from tests.conftest import migrate

        migrate(url, tmp_path)
    app = create_app(base_config(tmp_path, url))
    yield app
    get_engine(app).dispose()
    if request.param == "postgresql":
        drop_pg_database(name)


def test_truncated_file_fails_cleanly_and_imports_nothing(empty_app: Flask, tmp_path: Path) -> None:
    copy = tmp_path / SITE
    copy.mkdir()
    for name in ("Users.xml", "Tags.xml"):
        (copy / name).symlink_to(AI / name)
    # Cut Posts.xml in the middle of a row: users and tags are already flushed by then.
    data = (AI / "Posts.xml").read_bytes()
    (copy / "Posts.xml").write_bytes(data[: len(data) * 2 // 3])
    cut_line = data[: len(data) * 2 // 3].count(b"\n") + 1

    session = new_session(empty_app)
    session.info.pop("search", None)
    try:
        with pytest.raises(DumpError) as caught:
            stackexchange.import_dump(session, copy)
        session.rollback()
        assert caught.value.file == "Posts.xml"
        assert caught.value.line == cut_line
        assert "malformed XML" in caught.value.reason
        assert str(caught.value).startswith(f"Posts.xml, line {cut_line}: malformed XML")
        counts = _table_counts(session)
        assert all(n == 0 for name, n in counts.items() if name != "alembic_version"), counts
    finally:
        session.close()


def test_missing_posts_file_is_reported(empty_app: Flask, tmp_path: Path) -> None:
    copy = tmp_path / SITE
    copy.mkdir()
    (copy / "Users.xml").symlink_to(AI / "Users.xml")
    session = new_session(empty_app)
    try:
        with pytest.raises(DumpError, match=r"^Posts.xml, line 0: missing from"):
            stackexchange.import_dump(session, copy)
    finally:
        session.close()


def test_a_file_of_another_kind_is_refused(empty_app: Flask, tmp_path: Path) -> None:
    copy = tmp_path / SITE
    copy.mkdir()
    (copy / "Users.xml").symlink_to(AI / "Tags.xml")
    (copy / "Posts.xml").symlink_to(AI / "Posts.xml")
    session = new_session(empty_app)
    try:
        with pytest.raises(DumpError, match=r"^Users.xml, line 1: expected a <users> file"):
            stackexchange.import_dump(session, copy)
    finally:
        session.close()


LAUGHS = "".join(
    f'<!ENTITY l{i + 1} "&l{i};&l{i};&l{i};&l{i};&l{i};&l{i};&l{i};&l{i};&l{i};&l{i};">\n'
    for i in range(9)
)


@pytest.mark.parametrize(
    ("doctype", "reference"),
    [
        pytest.param(f'<!DOCTYPE users [\n<!ENTITY l0 "ha">\n{LAUGHS}]>', "&l9;", id="laughs"),
        pytest.param(
            '<!DOCTYPE users [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>', "&x;", id="xxe"
        ),
        pytest.param('<!DOCTYPE users SYSTEM "http://127.0.0.1:9/users.dtd">', "Ann", id="dtd"),
    ],
)
def test_dtds_and_entities_are_refused(
    empty_app: Flask, tmp_path: Path, doctype: str, reference: str
) -> None:
    copy = tmp_path / SITE
    copy.mkdir()
    (copy / "Users.xml").write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n{doctype}\n<users>\n'
        f'  <row Id="7" DisplayName="{reference}" CreationDate="2020-01-01T00:00:00.000" />\n'
        "</users>\n",
        encoding="utf-8",
    )
    (copy / "Posts.xml").write_text("<posts>\n</posts>\n", encoding="utf-8")
    line = doctype.count("\n") + 2
    session = new_session(empty_app)
    try:
        with pytest.raises(DumpError) as caught:
            stackexchange.import_dump(session, copy)
        session.rollback()
        assert caught.value.file == "Users.xml" and 2 <= caught.value.line <= line, str(
            caught.value
        )
        assert "a DTD or entity declaration is not allowed" in caught.value.reason
        assert session.scalar(select(func.count()).select_from(User)) == 0
    finally:
        session.close()


# --- small parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "site_url", "host", "url"),
    [
        ("ai.stackexchange.com", None, "ai.stackexchange.com", "https://ai.stackexchange.com"),
        (
            "dump",
            "https://ai.stackexchange.com/",
            "ai.stackexchange.com",
            "https://ai.stackexchange.com",
        ),
        ("dump", "superuser.com", "superuser.com", "https://superuser.com"),
    ],
)
def test_site_comes_from_the_folder_or_the_option(
    tmp_path: Path, folder: str, site_url: str | None, host: str, url: str
) -> None:
    (tmp_path / folder).mkdir()
    site = stackexchange.site_for(tmp_path / folder, site_url)
    assert (site.host, site.url) == (host, url)


def test_a_folder_without_a_host_name_needs_the_option(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--site-url"):
        stackexchange.site_for(tmp_path)


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("<neural-networks><definitions>", ["neural-networks", "definitions"]),
        ("|python|c#|", ["python", "c#"]),
        ("", []),
    ],
)
def test_tag_lists_in_both_dump_notations(raw: str, names: list[str]) -> None:
    assert stackexchange.parse_tag_list(raw) == names


@pytest.mark.parametrize(
    ("row", "created", "expected"),
    [
        ({"ContentLicense": "CC BY-SA 4.0"}, "2016-01-01T00:00:00", "CC BY-SA 4.0"),
        ({}, "2010-01-01T00:00:00", "CC BY-SA 2.5"),
        ({}, "2016-08-02T15:39:14.947", "CC BY-SA 3.0"),
        ({}, "2019-01-01T00:00:00", "CC BY-SA 4.0"),
    ],
)
def test_licence_from_the_row_or_the_date(row: dict[str, str], created: str, expected: str) -> None:
    assert stackexchange.license_for(row, _date(created)) == expected


def test_imported_names_that_pass_for_labels_or_hide_controls_are_replaced(
    empty_app: Flask, tmp_path: Path
) -> None:
    copy = tmp_path / SITE
    copy.mkdir()
    names = {"7": "Anonymous colleague", "8": "Fоrmer member", "9": "Eve\u202eevil", "10": "Ada"}
    rows = "".join(
        f'<row Id="{n}" DisplayName="{name}" CreationDate="2020-01-01T00:00:00.000" />'
        for n, name in names.items()
    )
    (copy / "Users.xml").write_text(f"<?xml version='1.0'?><users>{rows}</users>", "utf-8")
    (copy / "Posts.xml").write_text("<?xml version='1.0'?><posts></posts>", "utf-8")
    session = new_session(empty_app)
    session.info.pop("search", None)
    try:
        stackexchange.import_dump(session, copy)
        shown = {u.username: u.display_name for u in session.scalars(select(User))}
        assert shown == {"ai.7": "user7", "ai.8": "user8", "ai.9": "user9", "ai.10": "Ada"}
    finally:
        session.close()
