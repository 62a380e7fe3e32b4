"""The demo's posts: Markdown files under ``content/``, loaded by the Markdown importer.

``content/articles/`` holds the knowledge base (one tip or tutorial per file) and
``content/questions/<thread>/`` one folder per thread: ``question.md`` and an
``answer-<n>-<author>.md`` file per answer. Front matter the importer reads (``kind``, ``title``,
``author``, ``tags``, ``type``, ``anonymous``, ``accepted``, ``comments``) makes the posts; the
demo reads a few fields of its own:

- ``days_ago`` (questions, articles): when the post was written, counted back from today;
- ``hours_after`` (answers): how long after the question the answer came;
- ``voters``: members who voted the post up, over the days after it appeared;
- ``helpful`` (articles): members' "Was this helpful?" answers, with an optional note;
- ``duplicate_of`` and ``close_note`` (questions): a moderator closed it as a duplicate of the
  question with that title.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.demo.activity import Timeline
from forum.interchange import markdown_io
from forum.interchange.markdown_io import ImportedPost, ParsedFile
from forum.models import Answer, Article, Comment, Post, Question, Role, User
from forum.services import questions

#: The demo's Markdown files, inside the package (so an installed wheel has them too).
CONTENT: Traversable = resources.files("forum.demo") / "content"
#: How long after a post its comments come, one after the other.
COMMENT_GAP = dt.timedelta(hours=3)
#: How long after an answer its asker accepts it.
ACCEPT_DELAY = dt.timedelta(hours=2)
#: How long after a duplicate question a moderator closes it.
CLOSE_DELAY = dt.timedelta(hours=3)


def content_files() -> list[Path]:
    """Every demo content file, in a stable order."""
    with resources.as_file(CONTENT) as folder:
        return markdown_io.markdown_files(Path(folder))


@dataclass
class PostsLoaded:
    """What :func:`load_posts` made, for the summary and the steps after it."""

    articles: int = 0
    questions: int = 0
    answers: int = 0
    created: list[Post] = field(default_factory=list)


def _names(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of usernames")
    return list(value)


def _number(parsed: ParsedFile, name: str) -> int:
    value = parsed.extra.get(name, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a whole number of at least 0")
    return value


class _Loader:
    """Dates each file before it is imported, then adds its votes, marks and closing."""

    def __init__(self, session: Session, timeline: Timeline) -> None:
        self.session = session
        self.timeline = timeline
        self.people = {u.username: u for u in session.scalars(select(User))}
        #: When each thread's question was asked, by title and by folder.
        self.asked: dict[str, dt.datetime] = {}
        self.asked_in: dict[Path, dt.datetime] = {}
        self.result = PostsLoaded()
        #: New questions to close as duplicates: (question, the original's title, note).
        self.duplicates: list[tuple[Question, str, str]] = []

    def _member(self, username: str) -> User:
        member = self.people.get(username)
        if member is None:
            raise ValueError(f"unknown demo member {username!r}")
        return member

    # --- before the importer: relative dates become dates ---------------------------------

    def question_times(self, files: list[Path]) -> None:
        """When each question was asked, so its answers can be dated after it."""
        for n, path in enumerate(files):
            try:
                text = markdown_io.read_markdown_file(path)
                parsed = markdown_io.parse_markdown_file(text, path.name)
                days = _number(parsed, "days_ago")
            except ValueError as exc:
                raise ValueError(f"demo content {path.name}: {exc}") from exc
            if parsed.kind == "question":
                # Spread the questions of one day over its hours.
                offset = dt.timedelta(days=days, hours=n % 7 + 1)
                asked = self.timeline.clamp(self.timeline.now - offset)
                self.asked[parsed.title] = self.asked_in[path.parent] = asked

    def prepare(self, path: Path, parsed: ParsedFile) -> ParsedFile:
        """The file with its ``created`` date and its comments' dates filled in."""
        if parsed.kind == "answer":
            asked = self.asked.get(parsed.question or "") or self.asked_in.get(path.parent)
            if asked is None:
                raise ValueError("a demo answer sits next to its question or names its title")
            created = asked + dt.timedelta(hours=max(1, _number(parsed, "hours_after")))
        elif parsed.kind == "question":
            created = self.asked[parsed.title]
        else:
            created = self.timeline.now - dt.timedelta(days=_number(parsed, "days_ago"))
        created = self.timeline.clamp(created)
        dated = tuple(
            dataclasses.replace(c, created=self.timeline.clamp(created + COMMENT_GAP * (i + 1)))
            for i, c in enumerate(parsed.comments)
        )
        return dataclasses.replace(parsed, created=created, comments=dated)

    # --- after the importer: what the members did with the post ---------------------------

    def imported(self, outcome: ImportedPost, parsed: ParsedFile) -> None:
        """Count the post and add its activity, when this load created it."""
        if not outcome.created:
            return
        post = outcome.post
        assert parsed.created is not None
        if parsed.accepted and isinstance(post, Answer):
            self.timeline.happened(parsed.created + ACCEPT_DELAY)
        self.timeline.happened(parsed.created)
        voters = _names(parsed.extra.get("voters"), "voters")
        for voter, moment in zip(
            voters,
            self.timeline.moments(f"votes:{post.id}", parsed.created, len(voters)),
            strict=True,
        ):
            if voter != parsed.author:
                self.timeline.vote(self._member(voter), post, moment)
        if isinstance(post, Article):
            self._helpful(post, parsed)
            self.result.articles += 1
        elif isinstance(post, Question):
            if parsed.extra.get("duplicate_of"):
                note = str(parsed.extra.get("close_note") or "")
                self.duplicates.append((post, str(parsed.extra["duplicate_of"]), note))
            self.result.questions += 1
        else:
            self.result.answers += 1
        self.result.created.append(post)

    def _helpful(self, article: Article, parsed: ParsedFile) -> None:
        marks = parsed.extra.get("helpful") or []
        if not isinstance(marks, list) or not all(
            isinstance(m, dict) and isinstance(m.get("member"), str) for m in marks
        ):
            raise ValueError("helpful must be a list of member/helpful/comment entries")
        assert parsed.created is not None
        moments = self.timeline.moments(f"helpful:{article.id}", parsed.created, len(marks))
        for mark, moment in zip(marks, moments, strict=True):
            self.timeline.feedback(
                self._member(str(mark["member"])),
                article,
                moment,
                helpful=bool(mark.get("helpful", True)),
                comment=str(mark.get("comment") or ""),
            )

    # --- once every file is in ------------------------------------------------------------

    def close_duplicates(self) -> None:
        """A moderator closes the new questions marked as duplicates, hours after they came."""
        moderator = self.session.scalar(
            select(User).where(User.role == Role.MODERATOR).order_by(User.id).limit(1)
        )
        for duplicate, original_title, note in self.duplicates:
            original = self.session.scalar(
                select(Question).where(Question.title == original_title).limit(1)
            )
            if moderator is None or original is None:
                continue
            questions.close(
                self.session,
                moderator=moderator,
                question_id=duplicate.id,
                reason="duplicate",
                note=note,
                duplicate_of_id=original.id,
            )
            closed = self.timeline.clamp(duplicate.created_at + CLOSE_DELAY)
            duplicate.closed_at = closed
            self.timeline.happened(closed)

    def add_views(self) -> int:
        """Members who took part read each new question, and so do a few others."""
        members = sorted(self.people.values(), key=lambda u: u.id)
        total = 0
        for question in [p for p in self.result.created if isinstance(p, Question)]:
            rng = self.timeline.rng(f"readers:{question.id}")
            involved = set(
                self.session.scalars(
                    select(Post.author_id).where(Post.parent_id == question.id)
                ).all()
            ) | set(
                self.session.scalars(
                    select(Comment.author_id).where(Comment.post_id == question.id)
                ).all()
            )
            readers = [m for m in members if m.id in involved or rng.random() < 0.35]
            total += self.timeline.views(question, readers, visitors=rng.randint(2, 12))
        return total


def load_posts(
    session: Session,
    timeline: Timeline,
    *,
    progress: Callable[[str], None] = lambda _m: None,
) -> PostsLoaded:
    """Import the demo's Markdown files that are not there yet and date their activity.

    Raises ValueError naming the files that did not import: the demo's content is part of the
    code, so a bad file is a bug, not something to skip.
    """
    files = content_files()
    loader = _Loader(session, timeline)
    loader.question_times(files)
    admin = session.scalar(select(User).where(User.role == Role.ADMIN).order_by(User.id).limit(1))
    if admin is None:
        raise ValueError("the demo members must be loaded first")
    summary = markdown_io.import_directory(
        session,
        files,
        default_author=admin,
        prepare=loader.prepare,
        imported=loader.imported,
    )
    if summary.failed:
        raise ValueError(
            "demo content did not import: "
            + "; ".join(f"{name}: {message}" for name, message in summary.failed)
        )
    loader.close_duplicates()
    views = loader.add_views()
    session.flush()
    result = loader.result
    progress(
        f"{result.articles} articles, {result.questions} questions, {result.answers} answers, "
        f"{views} views"
    )
    return result
