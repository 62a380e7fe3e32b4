"""Import a Stack Exchange data dump: users, tags, questions, answers, comments, links, history.

The dump's XML files are streamed with defusedxml's ``iterparse`` (each row is cleared once read;
DTDs and entities are refused). Nothing is committed here: the caller runs the whole import in
one transaction, so a malformed file stops it with the file, line and reason and leaves the
database as it was. Every source row imported
is recorded in ``import_records`` under (site, kind, external id); a row recorded before is never
created again, which makes running the same import twice a no-op.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from bs4 import MarkupResemblesLocatorWarning
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from markdownify import markdownify
from sqlalchemy import Engine, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from forum import search
from forum.markdown import MarkdownTooLarge, render_markdown, sanitize_html
from forum.models import (
    Answer,
    Comment,
    ImportRecord,
    Post,
    PostAttribution,
    Question,
    RelatedPost,
    Revision,
    SearchOutbox,
    Tag,
    User,
)
from forum.search import outbox, vectors
from forum.services import reputation
from forum.services import tags as tag_service
from forum.services.names import display_name_problems
from forum.services.tags import TAG_NAME_RE

#: The network every imported post is attributed to.
SOURCE = "Stack Exchange"
#: Rows staged between flushes: bounds memory whatever the dump's size.
BATCH = 500
#: Longest profile text the forum accepts from members.
MAX_BIO = 5000

#: PostHistoryTypeId values that carry a title, a body or tags (initial, edit, rollback).
TITLE_TYPES = frozenset({1, 4, 7})
BODY_TYPES = frozenset({2, 5, 8})
TAGS_TYPES = frozenset({3, 6, 9})
TEXT_TYPES = TITLE_TYPES | BODY_TYPES | TAGS_TYPES
CLOSED, REOPENED = 10, 11

POST_TYPES = {
    3: "orphaned tag wiki",
    6: "moderator nomination",
    7: "wiki placeholder",
    8: "privilege wiki",
}

#: Stack Exchange close reasons (PostHistory comments) -> the forum's reasons and wording.
CLOSE_REASONS = {
    "1": ("duplicate", "a duplicate"),
    "101": ("duplicate", "a duplicate"),
    "2": ("off-topic", "off-topic"),
    "102": ("off-topic", "off-topic"),
    "10": ("off-topic", "general reference"),
    "3": ("needs-detail", "subjective and argumentative"),
    "4": ("needs-detail", "not a real question"),
    "7": ("needs-detail", "too localized"),
    "103": ("needs-detail", "unclear what is being asked"),
    "104": ("needs-detail", "too broad"),
    "105": ("needs-detail", "primarily opinion-based"),
}
#: When a dump does not say why a question was closed (no PostHistory): off-topic is the
#: most common reason on the sites whose history we have.
UNKNOWN_CLOSE_REASON = "off-topic"

#: Stack Exchange relicensed contributions on these dates when a dump names no licence.
LICENSE_CHANGES = (
    (dt.datetime(2011, 4, 8, tzinfo=dt.UTC), "CC BY-SA 2.5"),
    (dt.datetime(2018, 5, 2, tzinfo=dt.UTC), "CC BY-SA 3.0"),
)
LATEST_LICENSE = "CC BY-SA 4.0"

#: The summary's rows, in order.
KINDS = (
    "users",
    "tags",
    "questions",
    "answers",
    "accepted answers",
    "comments",
    "links",
    "duplicates",
    "tag wiki posts",
    "other posts",
    "history rows",
    "revisions",
    "votes",
    "badges",
)

#: Opens a progress display for one file: (label, length in bytes) -> advance(bytes).
Progress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


class DumpError(Exception):
    """A dump file that cannot be read: which file, which line, and why."""

    def __init__(self, file: str, line: int, reason: str) -> None:
        super().__init__(f"{file}, line {line}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


class _BadRow(ValueError):
    """A row that cannot be imported; its message is the summary's reason."""


@dataclass
class KindCount:
    """What happened to one kind of row."""

    read: int = 0
    imported: int = 0
    unchanged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass
class ImportSummary:
    """Counts per kind, skipped rows and why, and what was done after the import."""

    site: str
    kinds: dict[str, KindCount] = field(default_factory=lambda: {k: KindCount() for k in KINDS})
    notes: list[str] = field(default_factory=list)
    #: Local ids of the members and posts this run created (for reputation and search).
    new_user_ids: list[int] = field(default_factory=list)
    new_post_ids: list[int] = field(default_factory=list)
    #: How the search index catches up after the commit: "drain" or "rebuild".
    search_mode: str = "drain"

    def __getitem__(self, kind: str) -> KindCount:
        return self.kinds[kind]

    @property
    def changed(self) -> bool:
        """Whether this run created anything."""
        return any(k.imported for k in self.kinds.values())

    def table(self) -> list[str]:
        """The summary as aligned text lines: one row per kind, then the skipped rows."""
        lines = [f"{'kind':<18}{'read':>8}{'imported':>10}{'unchanged':>11}{'skipped':>9}"]
        for name, count in self.kinds.items():
            if count.read or count.imported or count.unchanged or count.skipped:
                skipped = sum(count.skipped.values())
                lines.append(
                    f"{name:<18}{count.read:>8}{count.imported:>10}"
                    f"{count.unchanged:>11}{skipped:>9}"
                )
        reasons = [
            f"  {name}: {n} {reason}"
            for name, count in self.kinds.items()
            for reason, n in sorted(count.skipped.items(), key=lambda item: -item[1])
        ]
        if reasons:
            lines += ["Skipped:", *reasons]
        return lines


@dataclass(frozen=True)
class Site:
    """The site a dump comes from: its host name and base URL."""

    host: str
    url: str

    @property
    def label(self) -> str:
        """A short name for usernames: the host's first label, letters and digits only."""
        first = re.sub(r"[^a-z0-9]", "", self.host.split(".")[0].lower())
        return first[:20] or "site"


def site_for(directory: Path, site_url: str | None = None) -> Site:
    """The site of a dump folder: ``site_url`` when given, else the folder's name as host."""
    raw = site_url or f"https://{directory.resolve().name}"
    parts = urlsplit(raw if "//" in raw else f"https://{raw}")
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or "." not in host:
        raise ValueError(
            f"Cannot tell the site from {raw!r}: pass --site-url https://<site> "
            "(e.g. https://ai.stackexchange.com)."
        )
    return Site(host=host, url=f"{parts.scheme}://{parts.netloc.lower()}")


@contextlib.contextmanager
def _no_progress(_label: str, _length: int) -> Iterator[Callable[[int], None]]:
    yield lambda _n: None


class _CountingReader:
    """A binary file that reports how many bytes have been read (for progress bars)."""

    def __init__(self, raw: IO[bytes], advance: Callable[[int], None]) -> None:
        self._raw = raw
        self._advance = advance

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._advance(len(data))
        return data


_PARSE_POSITION = re.compile(r": line \d+, column \d+$")
_TAGS_ANGLE = re.compile(r"<([^<>]+)>")


def parse_tag_list(text: str | None) -> list[str]:
    """Tag names from a dump's ``<a><b>`` (or newer ``|a|b|``) notation, lower-cased."""
    if not text:
        return []
    names = _TAGS_ANGLE.findall(text) if "<" in text else text.split("|")
    return list(dict.fromkeys(n.strip().lower() for n in names if n.strip()))


def parse_date(value: str | None) -> dt.datetime | None:
    """A dump timestamp (UTC, without zone) as an aware datetime; None when absent."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _BadRow(f"unreadable date {value[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _required_date(row: dict[str, str], key: str) -> dt.datetime:
    moment = parse_date(row.get(key))
    if moment is None:
        raise _BadRow(f"no {key}")
    return moment


def _int(row: dict[str, str], key: str, default: int = 0) -> int:
    value = row.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise _BadRow(f"{key} is not a number") from None


def html_to_markdown(html: str) -> str:
    """Sanitised HTML as Markdown members can edit."""
    with warnings.catch_warnings():
        # Bodies that are one bare link look like a URL to BeautifulSoup; they are markup.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        text = markdownify(html, heading_style="ATX", bullets="-", code_language="")
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def license_for(row: dict[str, str], created: dt.datetime) -> str:
    """The row's ContentLicense, or the licence Stack Exchange used on its creation date."""
    named = (row.get("ContentLicense") or "").strip()
    if named:
        return named[:32]
    for until, name in LICENSE_CHANGES:
        if created < until:
            return name
    return LATEST_LICENSE


@dataclass(frozen=True)
class _Staged:
    kind: str | None
    external_id: str | None
    obj: Any
    keep: bool


class _Importer:
    """One run over one dump folder, in the caller's transaction."""

    def __init__(
        self, session: Session, directory: Path, site: Site, progress: Progress | None
    ) -> None:
        self.session = session
        self.directory = directory
        self.site = site
        self.progress = progress or _no_progress
        self.summary = ImportSummary(site=site.host)
        self.pending: list[_Staged] = []
        # (kind -> external id -> local id), seeded with what earlier runs recorded.
        self.ids: dict[str, dict[str, int]] = defaultdict(dict)
        for kind, external_id, local_id in session.execute(
            select(ImportRecord.kind, ImportRecord.external_id, ImportRecord.local_id).where(
                ImportRecord.site == site.host
            )
        ):
            self.ids[kind][external_id] = local_id
        self.tags: dict[str, Tag] = {t.name: t for t in session.scalars(select(Tag))}
        self.new_tags: set[str] = set()
        # The tag policy, as everywhere tags are attached: a synonym becomes its tag. New
        # names are created without a privilege check, since an admin runs the import.
        self.synonyms = tag_service.synonym_targets(session)
        self.user_names: dict[str, str] = {}
        self.excerpt_posts: dict[str, str] = {}
        self.wiki_posts: dict[str, str] = {}
        self.history_groups: Counter[str] = Counter()
        self.close_reasons: dict[str, str] = {}
        self.new_questions: dict[str, dt.datetime | None] = {}
        self.new_posts: set[str] = set()
        self.accept_later: list[tuple[str, str]] = []
        self.answer_parent: dict[str, str] = {}
        self.answer_delta: Counter[int] = Counter()
        self.comment_delta: Counter[int] = Counter()
        self.duplicates: dict[str, dict[str, Any]] = {}

    # --- reading ---------------------------------------------------------------------------

    def path(self, name: str) -> Path:
        return self.directory / name

    def rows(self, name: str, label: str | None = None) -> Iterator[dict[str, str]]:
        """The file's ``<row>`` attributes, streamed; DumpError with file and line if malformed."""
        path = self.path(name)
        with path.open("rb") as raw, self.progress(label or name, path.stat().st_size) as advance:
            # Dumps never carry a DTD: refusing DTDs, entities and external references keeps
            # a crafted file from expanding entities ("billion laughs") or reading local files.
            parser = SafeET.DefusedXMLParser(target=ET.TreeBuilder(), forbid_dtd=True)
            events = SafeET.iterparse(
                _CountingReader(raw, advance), events=("start", "end"), parser=parser
            )
            root: ET.Element | None = None
            try:
                for event, element in events:
                    if root is None:
                        root = element
                        expected = name.removesuffix(".xml").lower()
                        if root.tag != expected:
                            raise DumpError(
                                name, 1, f"expected a <{expected}> file, found <{root.tag}>"
                            )
                        continue
                    if event == "end" and element.tag == "row":
                        yield dict(element.attrib)
                        # Drop the row (and its cleared siblings) so memory stays flat.
                        root.clear()
            except ET.ParseError as exc:
                line, _column = exc.position
                reason = _PARSE_POSITION.sub("", str(exc))
                raise DumpError(name, line, f"malformed XML ({reason})") from None
            except DefusedXmlException as exc:
                line = parser.parser.CurrentLineNumber
                raise DumpError(
                    name, line, f"a DTD or entity declaration is not allowed ({type(exc).__name__})"
                ) from None

    def has(self, name: str) -> bool:
        return self.path(name).is_file()

    # --- staging ---------------------------------------------------------------------------

    def stage(
        self, kind: str | None, external_id: str | None, obj: Any, *, keep: bool = False
    ) -> None:
        """Add ``obj``; every BATCH rows, flush, record their ids and let them go."""
        self.session.add(obj)
        self.pending.append(_Staged(kind, external_id, obj, keep))
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Flush staged rows, record them in import_records, and expunge the ones not kept."""
        if not self.pending:
            return
        self.session.flush()
        records = []
        for staged in self.pending:
            obj = staged.obj
            if staged.kind is not None and staged.external_id is not None:
                self.ids[staged.kind][staged.external_id] = obj.id
                records.append(
                    {
                        "site": self.site.host,
                        "kind": staged.kind,
                        "external_id": staged.external_id,
                        "local_id": obj.id,
                    }
                )
            if isinstance(obj, Post):
                self.summary.new_post_ids.append(obj.id)
            elif isinstance(obj, User):
                self.summary.new_user_ids.append(obj.id)
            if not staged.keep:
                self.session.expunge(obj)
        if records:
            self.session.execute(insert(ImportRecord), records)
        self.pending.clear()

    # --- lookups ---------------------------------------------------------------------------

    def user_id(self, external_id: str | None) -> int | None:
        return self.ids["user"].get(external_id) if external_id else None

    def post_id(self, external_id: str | None) -> int | None:
        if not external_id:
            return None
        return self.ids["question"].get(external_id) or self.ids["answer"].get(external_id)

    def known(self, kind: str, external_id: str) -> bool:
        return external_id in self.ids[kind]

    def tag(self, name: str) -> Tag:
        """The tag called ``name`` (or the tag it is a synonym of), created when missing."""
        name = self.synonyms.get(name, name)
        tag = self.tags.get(name)
        if tag is None:
            tag = Tag(name=name)
            self.session.add(tag)
            self.tags[name] = tag
            self.new_tags.add(name)
        return tag

    def attribution(
        self, post: Post, row: dict[str, str], created: dt.datetime, source_url: str
    ) -> PostAttribution:
        owner = row.get("OwnerUserId")
        name = self.user_names.get(owner or "") or row.get("OwnerDisplayName") or None
        return PostAttribution(
            post=post,
            source=SOURCE,
            site=self.site.host,
            source_url=source_url,
            author_name=name[:100] if name else None,
            author_url=f"{self.site.url}/users/{owner}" if owner else None,
            license=license_for(row, created),
            published_at=created,
        )

    # --- the files, in dependency order -----------------------------------------------------

    def run(self) -> ImportSummary:
        for required in ("Users.xml", "Posts.xml"):
            if not self.has(required):
                raise DumpError(required, 0, f"missing from {self.directory}")
        self.import_users()
        if self.has("Tags.xml"):
            self.import_tags()
        if self.has("PostHistory.xml"):
            self.count_history()
        self.import_questions()
        self.import_answers()
        self.flush()
        self.link_accepted_answers()
        if self.has("Comments.xml"):
            self.import_comments()
        if self.has("PostLinks.xml"):
            self.import_links()
        if self.has("PostHistory.xml"):
            self.import_history()
        self.count_only(
            "Votes.xml", "votes", "kept as post scores (the dump does not say who voted)"
        )
        self.count_only("Badges.xml", "badges", "earned again here, not copied")
        self.flush()
        self.apply_counts()
        return self.summary

    def import_users(self) -> None:
        counts = self.summary["users"]
        prefix = self.site.label + "."
        taken = set(
            self.session.scalars(select(User.username).where(User.username.like(prefix + "%")))
        )
        for row in self.rows("Users.xml"):
            counts.read += 1
            external_id = row.get("Id", "")
            name = (row.get("DisplayName") or "").strip()
            if not name or display_name_problems(name[:80]):
                # A dump's names follow another site's rules: none may pass for a label here.
                name = f"user{external_id}"
            self.user_names[external_id] = name
            if self.known("user", external_id):
                counts.unchanged += 1
                continue
            try:
                number = int(external_id)
                created = _required_date(row, "CreationDate")
            except (ValueError, _BadRow) as exc:
                counts.skipped[str(exc) if isinstance(exc, _BadRow) else "no numeric Id"] += 1
                continue
            username = f"{prefix}{'n' if number < 0 else ''}{abs(number)}"
            candidate, n = username, 1
            while candidate in taken:
                n += 1
                candidate = f"{username}-{n}"
            taken.add(candidate)
            about = row.get("AboutMe") or ""
            bio = html_to_markdown(sanitize_html(about)).strip()[:MAX_BIO] if about.strip() else ""
            user = User(
                username=candidate,
                email=None,
                display_name=name[:80],
                # No password: imported accounts cannot log in until claimed or reset.
                password_hash=None,
                bio=bio or None,
                created_at=created,
            )
            self.stage("user", external_id, user)
            counts.imported += 1
        self.flush()

    def import_tags(self) -> None:
        counts = self.summary["tags"]
        for row in self.rows("Tags.xml"):
            counts.read += 1
            external_id = row.get("Id", "")
            name = (row.get("TagName") or "").strip().lower()
            if not TAG_NAME_RE.match(name):
                counts.skipped["name not allowed here"] += 1
                continue
            if self.known("tag", external_id):
                counts.unchanged += 1
                continue
            tag = self.tag(name)
            if name in self.new_tags:
                # Wikis fill only tags this import creates: local descriptions stay as written.
                if row.get("ExcerptPostId"):
                    self.excerpt_posts[row["ExcerptPostId"]] = name
                if row.get("WikiPostId"):
                    self.wiki_posts[row["WikiPostId"]] = name
            self.stage("tag", external_id, tag, keep=True)
            counts.imported += 1
        self.flush()

    def count_history(self) -> None:
        """Count each post's revisions and note close reasons before the posts are created."""
        last: tuple[str, str] | None = None
        for row in self.rows("PostHistory.xml", "PostHistory.xml (edits)"):
            kind, post = row.get("PostHistoryTypeId", ""), row.get("PostId", "")
            number = int(kind) if kind.isdigit() else 0
            if number in TEXT_TYPES:
                key = (post, row.get("RevisionGUID", ""))
                if key != last:
                    self.history_groups[post] += 1
                    last = key
            elif number == CLOSED:
                self.close_reasons[post] = row.get("Comment") or ""
            elif number == REOPENED:
                self.close_reasons.pop(post, None)

    def import_questions(self) -> None:
        """First pass over Posts.xml: questions, and the posts holding tag wikis."""
        questions, wikis, others = (
            self.summary["questions"],
            self.summary["tag wiki posts"],
            self.summary["other posts"],
        )
        for row in self.rows("Posts.xml", "Posts.xml (questions)"):
            kind = row.get("PostTypeId")
            if kind == "1":
                questions.read += 1
                try:
                    self.question(row)
                except _BadRow as exc:
                    questions.skipped[str(exc)] += 1
            elif kind in {"4", "5"}:
                wikis.read += 1
                self.tag_wiki(row)
            elif kind != "2":
                others.read += 1
                number = int(kind) if kind and kind.isdigit() else 0
                label = POST_TYPES.get(number, "unknown kind")
                others.skipped[f"post type {kind} ({label}) has no place here"] += 1

    def question(self, row: dict[str, str]) -> None:
        counts = self.summary["questions"]
        external_id = row.get("Id", "")
        accepted = row.get("AcceptedAnswerId")
        if accepted:
            self.summary["accepted answers"].read += 1
        if self.known("question", external_id):
            counts.unchanged += 1
            if accepted:
                self.summary["accepted answers"].unchanged += 1
            return
        created = _required_date(row, "CreationDate")
        edited = parse_date(row.get("LastEditDate")) or created
        title = (row.get("Title") or "").strip()
        if not title:
            raise _BadRow("question without a title")
        tags = []
        for name in parse_tag_list(row.get("Tags")):
            if TAG_NAME_RE.match(name):
                tags.append(self.tag(name))
            else:
                self.summary["tags"].skipped["name not allowed here"] += 1
        body_html = sanitize_html(row.get("Body") or "")
        body_md = html_to_markdown(body_html)
        author_id = self.user_id(row.get("OwnerUserId"))
        question = Question(
            title=title[:200],
            body_md=body_md,
            body_html=body_html,
            author_id=author_id,
            score=_int(row, "Score"),
            view_count=max(_int(row, "ViewCount"), 0),
            created_at=created,
            updated_at=edited,
            last_activity_at=parse_date(row.get("LastActivityDate")) or edited,
            tags=tags,
        )
        closed = parse_date(row.get("ClosedDate"))
        if closed is not None:
            code = self.close_reasons.get(external_id)
            reason, wording = CLOSE_REASONS.get(code or "", (UNKNOWN_CLOSE_REASON, ""))
            question.closed_reason = reason
            question.closed_at = closed
            question.close_note = (
                f"Closed on {self.site.host} as {wording}."
                if wording
                else f"Closed on {self.site.host}."
            )
        self.finish_post(question, row, external_id, edited, author_id)
        self.attribution(question, row, created, f"{self.site.url}/questions/{external_id}")
        self.stage("question", external_id, question)
        self.new_questions[external_id] = closed
        if accepted:
            self.accept_later.append((external_id, accepted))
        counts.imported += 1

    def finish_post(
        self,
        post: Post,
        row: dict[str, str],
        external_id: str,
        edited: dt.datetime,
        author_id: int | None,
    ) -> None:
        """The revision holding the imported (converted) text, after any from PostHistory."""
        number = self.history_groups[external_id] + 1
        post.revision_count = number
        post.revisions.append(
            Revision(
                number=number,
                title=post.title,
                body_md=post.body_md,
                tags_text=" ".join(t.name for t in post.tags),
                editor_id=self.user_id(row.get("LastEditorUserId")) or author_id,
                summary=f"Imported from {self.site.host} and converted to Markdown",
                created_at=edited,
            )
        )
        self.new_posts.add(external_id)

    def tag_wiki(self, row: dict[str, str]) -> None:
        counts = self.summary["tag wiki posts"]
        external_id = row.get("Id", "")
        body = row.get("Body") or ""
        if external_id in self.excerpt_posts:
            tag = self.tags[self.excerpt_posts[external_id]]
            # Excerpts are plain text in the dumps; markup, if any, is reduced to text.
            text = (
                body.strip() if "<" not in body else html_to_markdown(sanitize_html(body)).strip()
            )
            if text:
                tag.excerpt = text
            counts.imported += 1
        elif external_id in self.wiki_posts:
            tag = self.tags[self.wiki_posts[external_id]]
            if body.strip():
                tag.description_html = sanitize_html(body)
                tag.description_md = html_to_markdown(tag.description_html)
            counts.imported += 1
        else:
            counts.skipped["its tag is not imported by this run"] += 1

    def import_answers(self) -> None:
        """Second pass over Posts.xml: answers, once every question has its local id."""
        self.flush()
        counts = self.summary["answers"]
        for row in self.rows("Posts.xml", "Posts.xml (answers)"):
            if row.get("PostTypeId") != "2":
                continue
            counts.read += 1
            try:
                self.answer(row)
            except _BadRow as exc:
                counts.skipped[str(exc)] += 1

    def answer(self, row: dict[str, str]) -> None:
        counts = self.summary["answers"]
        external_id = row.get("Id", "")
        if self.known("answer", external_id):
            counts.unchanged += 1
            return
        parent = self.ids["question"].get(row.get("ParentId") or "")
        if parent is None:
            raise _BadRow("its question is not in the dump")
        created = _required_date(row, "CreationDate")
        edited = parse_date(row.get("LastEditDate")) or created
        body_html = sanitize_html(row.get("Body") or "")
        author_id = self.user_id(row.get("OwnerUserId"))
        answer = Answer(
            parent_id=parent,
            body_md=html_to_markdown(body_html),
            body_html=body_html,
            author_id=author_id,
            score=_int(row, "Score"),
            created_at=created,
            updated_at=edited,
            last_activity_at=parse_date(row.get("LastActivityDate")) or edited,
        )
        self.finish_post(answer, row, external_id, edited, author_id)
        self.attribution(answer, row, created, f"{self.site.url}/a/{external_id}")
        self.stage("answer", external_id, answer)
        self.answer_parent[external_id] = row.get("ParentId") or ""
        self.answer_delta[parent] += 1
        counts.imported += 1

    def link_accepted_answers(self) -> None:
        counts = self.summary["accepted answers"]
        rows = []
        for question_ext, answer_ext in self.accept_later:
            answer = self.ids["answer"].get(answer_ext)
            if answer is None:
                counts.skipped["the accepted answer is not in the dump"] += 1
            elif self.answer_parent.get(answer_ext, question_ext) != question_ext:
                counts.skipped["the accepted answer belongs to another question"] += 1
            else:
                rows.append({"b_id": self.ids["question"][question_ext], "b_answer": answer})
                counts.imported += 1
        if rows:
            posts = _posts_table()
            self.session.execute(
                update(posts)
                .where(posts.c.id == bindparam("b_id"))
                .values(accepted_answer_id=bindparam("b_answer"), updated_at=posts.c.updated_at),
                rows,
            )

    def import_comments(self) -> None:
        counts = self.summary["comments"]
        for row in self.rows("Comments.xml"):
            counts.read += 1
            external_id = row.get("Id", "")
            if self.known("comment", external_id):
                counts.unchanged += 1
                continue
            post = self.post_id(row.get("PostId"))
            if post is None:
                counts.skipped["its post is not in the dump"] += 1
                continue
            text = (row.get("Text") or "").strip()
            try:
                created = _required_date(row, "CreationDate")
                # Comment text in the dumps is the Markdown people typed.
                body_html = render_markdown(text)
            except _BadRow as exc:
                counts.skipped[str(exc)] += 1
                continue
            except MarkdownTooLarge:
                counts.skipped["text too large"] += 1
                continue
            comment = Comment(
                post_id=post,
                author_id=self.user_id(row.get("UserId")),
                body_md=text,
                body_html=body_html,
                score=_int(row, "Score"),
                created_at=created,
                updated_at=created,
            )
            self.stage("comment", external_id, comment)
            self.comment_delta[post] += 1
            counts.imported += 1
        self.flush()

    def import_links(self) -> None:
        counts, duplicates = self.summary["links"], self.summary["duplicates"]
        pairs: set[tuple[int, int]] = {
            (int(a), int(b))
            for a, b in self.session.execute(
                select(RelatedPost.post_id, RelatedPost.related_post_id)
            )
        }
        closures: list[dict[str, Any]] = []
        for row in self.rows("PostLinks.xml"):
            counts.read += 1
            external_id = row.get("Id", "")
            is_duplicate = row.get("LinkTypeId") == "3"
            if is_duplicate:
                duplicates.read += 1
            if self.known("link", external_id):
                counts.unchanged += 1
                if is_duplicate:
                    duplicates.unchanged += 1
                continue
            if row.get("LinkTypeId") not in {"1", "3"}:
                counts.skipped[f"link type {row.get('LinkTypeId')} is not known"] += 1
                continue
            source, target = self.post_id(row.get("PostId")), self.post_id(row.get("RelatedPostId"))
            if source is None or target is None or source == target:
                counts.skipped["it links a post that is not in the dump"] += 1
                if is_duplicate:
                    duplicates.skipped["the original or the duplicate is not in the dump"] += 1
                continue
            try:
                created = _required_date(row, "CreationDate")
            except _BadRow as exc:
                counts.skipped[str(exc)] += 1
                continue
            if (source, target) in pairs:
                if is_duplicate:
                    # A duplicate link says more than the related link the dump also has.
                    self.flush()
                    self.session.execute(
                        update(RelatedPost)
                        .where(RelatedPost.post_id == source, RelatedPost.related_post_id == target)
                        .values(link_type="duplicate")
                    )
                counts.skipped["the two posts are already linked"] += 1
            else:
                pairs.add((source, target))
                link = RelatedPost(
                    post_id=source,
                    related_post_id=target,
                    link_type="duplicate" if is_duplicate else "related",
                    created_at=created,
                )
                self.stage("link", external_id, link)
                counts.imported += 1
            if is_duplicate:
                self.close_as_duplicate(row, source, target, created, closures)
        self.flush()
        if closures:
            posts = _posts_table()
            self.session.execute(
                update(posts)
                .where(posts.c.id == bindparam("b_id"))
                .values(
                    closed_reason="duplicate",
                    closed_at=func.coalesce(posts.c.closed_at, bindparam("b_closed_at")),
                    close_note=bindparam("b_note"),
                    duplicate_of_id=bindparam("b_original"),
                    updated_at=posts.c.updated_at,
                ),
                closures,
            )

    def close_as_duplicate(
        self,
        row: dict[str, str],
        source: int,
        target: int,
        created: dt.datetime,
        closures: list[dict[str, Any]],
    ) -> None:
        duplicates = self.summary["duplicates"]
        source_ext, target_ext = row.get("PostId", ""), row.get("RelatedPostId", "")
        if source_ext not in self.new_questions:
            duplicates.skipped["the question was imported before"] += 1
        elif target_ext not in self.ids["question"]:
            duplicates.skipped["the original is not a question"] += 1
        elif source_ext in self.duplicates:
            duplicates.skipped["already closed as a duplicate of another question"] += 1
        else:
            closure = {
                "b_id": source,
                "b_original": target,
                "b_closed_at": self.new_questions[source_ext] or created,
                "b_note": f"Closed on {self.site.host} as a duplicate.",
            }
            self.duplicates[source_ext] = closure
            closures.append(closure)
            duplicates.imported += 1

    def import_history(self) -> None:
        """PostHistory: one revision per edit (rows sharing a RevisionGUID), with full text."""
        rows_read = self.summary["history rows"]
        revisions = self.summary["revisions"]
        state: dict[str, list[str | None]] = {}
        numbers: Counter[str] = Counter()
        last: tuple[str, str] | None = None
        group: dict[str, Any] | None = None

        def emit() -> None:
            if group is None:
                return
            post = group["post"]
            title, body, tags = state[post]
            numbers[post] += 1
            revision = Revision(
                post_id=self.post_id(post),
                number=numbers[post],
                title=title,
                body_md=body or "",
                tags_text=" ".join(parse_tag_list(tags))[:400],
                editor_id=self.user_id(group["user"]),
                summary=(group["comment"] or "")[:300],
                created_at=group["date"],
            )
            self.stage(None, None, revision)
            revisions.imported += 1

        for row in self.rows("PostHistory.xml", "PostHistory.xml (revisions)"):
            rows_read.read += 1
            kind, post = row.get("PostHistoryTypeId", ""), row.get("PostId", "")
            number = int(kind) if kind.isdigit() else 0
            if number not in TEXT_TYPES:
                rows_read.skipped["not an edit (closing, locking, voting, ...)"] += 1
                continue
            key = (post, row.get("RevisionGUID", ""))
            if key != last:
                emit()
                last, group = key, None
                if post in self.new_posts:
                    try:
                        moment = parse_date(row.get("CreationDate"))
                    except _BadRow:
                        moment = None
                    group = {
                        "post": post,
                        "user": row.get("UserId"),
                        "comment": row.get("Comment"),
                        # An undated edit keeps its place in the history, dated at import.
                        "date": moment or dt.datetime.now(dt.UTC),
                    }
            if group is None:
                rows_read.skipped[
                    "its post was imported before"
                    if self.post_id(post) is not None
                    else "its post is not in the dump"
                ] += 1
                continue
            rows_read.imported += 1
            current = state.setdefault(post, [None, None, None])
            slot = 0 if number in TITLE_TYPES else 1 if number in BODY_TYPES else 2
            current[slot] = row.get("Text")
            if row.get("Comment") and not group["comment"]:
                group["comment"] = row.get("Comment")
        emit()
        for post in self.new_posts:
            if numbers[post] != self.history_groups[post]:
                # Both passes group the same rows; a mismatch means the file changed meanwhile.
                raise DumpError("PostHistory.xml", 0, "the file changed during the import")
        revisions.imported += len(self.new_posts)

    def count_only(self, name: str, kind: str, reason: str) -> None:
        if not self.has(name):
            return
        counts = self.summary[kind]
        for _row in self.rows(name):
            counts.read += 1
        counts.skipped[reason] += counts.read

    def apply_counts(self) -> None:
        """Add the new answers and comments to their posts' counters (dates left untouched)."""
        targets = set(self.answer_delta) | set(self.comment_delta)
        if not targets:
            return
        posts = _posts_table()
        self.session.execute(
            update(posts)
            .where(posts.c.id == bindparam("b_id"))
            .values(
                answer_count=posts.c.answer_count + bindparam("b_answers"),
                comment_count=posts.c.comment_count + bindparam("b_comments"),
                updated_at=posts.c.updated_at,
            ),
            [
                {
                    "b_id": post,
                    "b_answers": self.answer_delta[post],
                    "b_comments": self.comment_delta[post],
                }
                for post in sorted(targets)
            ],
        )


def _posts_table() -> Table:
    return cast(Table, Post.__table__)


def recompute_recognition(session: Session, summary: ImportSummary) -> None:
    """Recompute the imported members' reputation; badges follow after the commit."""
    if not summary.new_user_ids:
        summary.notes.append("Reputation: nothing to recompute.")
        return
    report = reputation.recalc(session, fix=True, user_ids=summary.new_user_ids)
    summary.notes.append(
        f"Reputation: recomputed for {len(summary.new_user_ids)} imported members "
        f"({len(report.drift)} changed)."
    )
    # The app's sessions award badges after every commit to the members it touched.
    summary.notes.append("Badges: awarded after the commit by the recognition rules.")


def import_dump(
    session: Session,
    directory: Path,
    *,
    site_url: str | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import the dump in ``directory`` into the session's transaction (the caller commits).

    Raises DumpError (file, line, reason) for a malformed or missing file, and ValueError
    when the site cannot be told from the folder's name or ``site_url``.
    """
    site = site_for(directory, site_url)
    summary = _Importer(session, directory, site, progress).run()
    recompute_recognition(session, summary)
    session.flush()
    queue_search(session, summary)
    return summary


#: From this many new posts (and half the forum or more), a fresh index is faster than updates.
REBUILD_AT = 1000


def queue_search(session: Session, summary: ImportSummary) -> None:
    """Leave one search outbox row per new post, or none when a rebuild will index them all.

    Every flush queues the posts it touched, so a thread appears many times over; updating the
    index once per post (or rebuilding it after a large import) is several times faster.
    """
    ids = summary.new_post_ids
    if not ids:
        return
    total = session.scalar(select(func.count()).select_from(Post)) or 0
    summary.search_mode = "rebuild" if len(ids) >= REBUILD_AT and 2 * len(ids) >= total else "drain"
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        session.execute(delete(SearchOutbox).where(SearchOutbox.post_id.in_(chunk)))
    if summary.search_mode == "drain":
        search.index(session, ids)


def sync_search(engine: Engine, config: Mapping[str, Any], mode: str = "drain") -> str:
    """Bring the search index up to date after the import's commit; say what happened.

    ``mode`` is the summary's ``search_mode``: "rebuild" builds a fresh index (the import
    queued nothing for its posts), "drain" applies the queued changes. An interrupted rebuild
    is repaired by ``forum search rebuild``.
    """
    backend = search.get_backend(search.search_config(config))
    started = time.monotonic()
    if mode == "rebuild":
        count = outbox.rebuild(engine, backend)
        return (
            f"Search: index rebuilt with {count} document(s) in {time.monotonic() - started:.1f} s."
            + _embed(engine, config)
        )
    applied = outbox.drain(engine, backend, timeout=60.0, budget=None)
    left, _age = outbox.pending(engine)
    elapsed = time.monotonic() - started
    if left:
        return (
            f"Search: applied {applied} change(s) in {elapsed:.1f} s; {left} still pending "
            "(run `forum search sync`)."
        )
    return f"Search: index up to date ({applied} change(s) applied in {elapsed:.1f} s)." + _embed(
        engine, config
    )


def _embed(engine: Engine, config: Mapping[str, Any]) -> str:
    """Embed the posts whose vectors are missing or stale (semantic ranking on only)."""
    settings = search.search_config(config)
    if vectors.ranking(settings) == "lexical":
        return ""
    settings["embed_threads"] = "2"
    settings["embed_socket"] = ""  # bulk work: the model in this process and two others
    started = time.monotonic()
    count = vectors.sync(engine, settings, processes=2)
    return f" Vectors: {count} embedded in {time.monotonic() - started:.1f} s."
