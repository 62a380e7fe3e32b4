"""Posts as Markdown files with YAML front matter, one post per file.

Articles go both ways (import and export). Questions and answers are imported too: a file with
``kind: question`` asks one, a file with ``kind: answer`` answers the question its ``question``
field names by title, or else the question file in the same folder. Posts and comments keep
their authors and dates; ``accepted: true`` marks the answer the asker accepted.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import YAMLHandler
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from forum.files import create_private_file
from forum.models import Answer, Article, ArticleType, Comment, Post, Question, User
from forum.services import answers, articles, comments, questions, wikilinks
from forum.services.errors import ServiceError, ValidationError
from forum.services.tags import parse_tags, tags_named

#: Tag given to imported files that name none (every article needs one).
DEFAULT_TAG = "imported"
#: Front matter holds a few short fields; anything bigger is a mistake or an attack on the parser.
FRONT_MATTER_MAX = 16 * 1024
#: A file's size limit: the article body limit with room for front matter and encoding.
FILE_MAX = 1024 * 1024


class _AliasRefused(ValueError):
    """Front matter used an anchor or an alias."""

    def __init__(self, line: int) -> None:
        super().__init__(f"front matter may not use YAML anchors or aliases (line {line})")


class _NoAliasLoader(yaml.SafeLoader):  # type: ignore[misc]
    """A safe YAML loader that refuses anchors and aliases (no "billion laughs" expansion)."""

    def compose_node(self, parent: Any, index: int) -> Any:
        """Compose as usual after refusing any alias or anchor at this point."""
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _AliasRefused(event.start_mark.line + 1)
        return super().compose_node(parent, index)


class _FrontMatter(YAMLHandler):
    """YAML front matter, size-capped and read without anchors or aliases."""

    def load(self, fm: str, **kwargs: object) -> Any:
        """Parse the front matter, refusing an oversized block before YAML sees it."""
        if len(fm.encode("utf-8")) > FRONT_MATTER_MAX:
            raise ValueError(f"front matter is larger than {FRONT_MATTER_MAX // 1024} KB")
        try:
            return yaml.load(fm, Loader=_NoAliasLoader)
        except _AliasRefused:
            raise
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ValueError(f"front matter is not valid YAML{where}: {problem}") from None


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str) and value.strip():
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def dump_article(article: Article) -> str:
    """The article as Markdown with front matter: title, slug, type, tags, people and dates."""
    metadata: dict[str, Any] = {
        "title": article.title,
        "slug": article.slug,
        "type": article.article_type.value if article.article_type else "tip",
        "tags": [t.name for t in article.tags],
        "author": article.author.username if article.author else None,
        "owner": article.owner.username if article.owner else None,
        "created": _iso(article.created_at),
        "updated": _iso(article.updated_at),
        "review_by": _iso(article.review_by),
    }
    post = frontmatter.Post(article.body_md, **{k: v for k, v in metadata.items() if v})
    return frontmatter.dumps(post, sort_keys=False) + "\n"


#: What a file may hold, by its ``kind`` front matter field (no field: an article).
KINDS = ("article", "question", "answer")
#: Front matter fields the importer reads; any other field is passed on in ``ParsedFile.extra``.
KNOWN_FIELDS = frozenset(
    {"title", "slug", "type", "article_type", "tags", "author", "owner", "created", "updated"}
    | {"review_by", "kind", "question", "accepted", "anonymous", "comments"}
)


@dataclass(frozen=True)
class ParsedComment:
    """A comment listed in a file's ``comments`` field."""

    body: str
    author: str | None = None
    created: dt.datetime | None = None


@dataclass(frozen=True)
class ParsedFile:
    """One Markdown file read for import."""

    title: str
    body_md: str
    tags: list[str]
    article_type: str
    slug: str | None = None
    author: str | None = None
    created: dt.datetime | None = None
    kind: str = "article"
    #: For an answer: the title of the question it answers (None: the question in its folder).
    question: str | None = None
    accepted: bool = False
    anonymous: bool = False
    comments: tuple[ParsedComment, ...] = ()
    #: Front matter fields the importer does not read, for callers that give them a meaning.
    extra: dict[str, Any] = field(default_factory=dict)


def _flag(meta: dict[str, Any], name: str) -> bool:
    value = meta.get(name, False)
    if not isinstance(value, bool):
        raise ValueError(f"front matter field {name!r} must be true or false")
    return value


def _comments(raw: Any) -> tuple[ParsedComment, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
        raise ValueError("front matter field 'comments' must be a list of author/body pairs")
    parsed = []
    for item in raw:
        body = item.get("body")
        if not isinstance(body, str) or not body.strip():
            raise ValueError("every comment in the front matter needs a body")
        author = item.get("author")
        parsed.append(
            ParsedComment(
                body=body.strip(),
                author=str(author).lower() if author else None,
                created=_parse_time(item.get("created")),
            )
        )
    return tuple(parsed)


def parse_markdown_file(text: str, filename: str) -> ParsedFile:
    """Read a file with or without front matter; no title? a leading '# ' line, else the name."""
    handler = _FrontMatter()
    # Only YAML front matter is read: the library would otherwise also pick JSON or TOML parsers.
    if handler.detect(text.strip()):
        post = frontmatter.loads(text, handler=handler)
    else:
        post = frontmatter.Post(text.strip())
    meta = post.metadata
    body = post.content
    post_kind = str(meta.get("kind") or "article")
    if post_kind not in KINDS:
        raise ValueError(f"front matter field 'kind' must be one of {', '.join(KINDS)}")
    title = str(meta.get("title") or "").strip()
    if not title:
        lines = body.splitlines()
        if lines and lines[0].startswith("# ") and post_kind != "answer":
            title = lines[0][2:].strip()
            body = "\n".join(lines[1:]).lstrip("\n")
        else:
            title = Path(filename).stem.replace("-", " ").replace("_", " ").strip().capitalize()
    raw_tags = meta.get("tags")
    if isinstance(raw_tags, list):
        tags = parse_tags(" ".join(str(t) for t in raw_tags))
    else:
        tags = parse_tags(str(raw_tags or ""))
    kind = str(meta.get("type") or meta.get("article_type") or "")
    if kind not in {t.value for t in ArticleType}:
        kind = "tutorial" if body.count("\n## ") >= 2 else "tip"
    return ParsedFile(
        title=title,
        body_md=body.rstrip("\n") + "\n",
        tags=tags or [DEFAULT_TAG],
        article_type=kind,
        slug=str(meta["slug"]) if meta.get("slug") else None,
        author=str(meta["author"]).lower() if meta.get("author") else None,
        created=_parse_time(meta.get("created")),
        kind=post_kind,
        question=str(meta["question"]).strip() if meta.get("question") else None,
        accepted=_flag(meta, "accepted"),
        anonymous=_flag(meta, "anonymous"),
        comments=_comments(meta.get("comments")),
        extra={k: v for k, v in meta.items() if k not in KNOWN_FIELDS},
    )


@dataclass
class ImportSummary:
    """What an import did, file by file."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        """Count one file's outcome: "created", "updated" or "unchanged"."""
        setattr(self, outcome, getattr(self, outcome) + 1)

    def line(self) -> str:
        """The summary in one line."""
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.failed)} failed"
        )


@dataclass
class FileScan:
    """The files an import will read, and what it left out and why."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def scan_markdown_files(directory: Path) -> FileScan:
    """The regular ``.md`` files inside ``directory``; links and anything leading out are skipped.

    A symbolic link (to a file or a folder) could publish any file the server can read, such as
    its secret key, so links are never followed and every path must resolve inside the folder.
    """
    root = directory.resolve()
    scan = FileScan()
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(current)
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                scan.skipped.append((_shown(root, here / name), "a linked folder, not followed"))
        for name in filenames:
            path = here / name
            if not name.endswith(".md"):
                continue
            reason = _unsafe(root, path)
            if reason:
                scan.skipped.append((_shown(root, path), reason))
            else:
                scan.files.append(path)
    scan.files.sort()
    scan.skipped.sort()
    return scan


def markdown_files(directory: Path) -> list[Path]:
    """The ``.md`` files under ``directory`` that are safe to read, in a stable order."""
    return scan_markdown_files(directory).files


def _shown(root: Path, path: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _unsafe(root: Path, path: Path) -> str | None:
    """Why ``path`` must not be read as part of the folder at ``root``; None when it may."""
    if path.is_symlink():
        return "a symbolic link, not followed"
    try:
        info = path.lstat()
    except OSError as exc:
        return exc.strerror or "unreadable"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_nlink > 1:
        # Another name for the same file may live anywhere on the file system.
        return "a file with other hard links, not read"
    if not path.resolve().is_relative_to(root):
        return "outside the folder"
    return None


def read_markdown_file(path: Path) -> str:
    """The text of a regular file, refusing a link swapped in since the scan and huge files."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
            raise ValueError("not a regular file")
        data = handle.read(FILE_MAX + 1)
    if len(data) > FILE_MAX:
        raise ValueError(f"the file is larger than {FILE_MAX // 1024} KB")
    if b"\x00" in data:
        # Not text, and PostgreSQL cannot store it: fail this file, not the whole import.
        raise ValueError("the file holds a NUL character; it is not a text file")
    return data.decode("utf-8")


@dataclass(frozen=True)
class ImportedPost:
    """What importing one file did: the post it created or found, and the outcome."""

    post: Post
    #: "created", "updated" or "unchanged"
    outcome: str

    @property
    def created(self) -> bool:
        """True when the file made a new post."""
        return self.outcome == "created"


def _member(session: Session, username: str | None, default: User) -> User:
    """The member a file names, or ``default`` when it names nobody known."""
    if username:
        found = session.scalar(select(User).where(User.username == username))
        if found is not None:
            return found
    return default


def _existing_article(session: Session, parsed: ParsedFile) -> Article | None:
    if parsed.slug:
        found = session.scalar(select(Article).where(Article.slug == parsed.slug))
        if found is not None:
            return found
    return wikilinks.find_by_title(session, parsed.title)


def _question_titled(session: Session, title: str) -> Question | None:
    return session.scalar(
        select(Question)
        .where(Question.title == title.strip(), Question.deleted_at.is_(None))
        .order_by(Question.id)
        .limit(1)
    )


def _import_article(session: Session, parsed: ParsedFile, author: User) -> ImportedPost:
    data = articles.ArticleData(
        title=parsed.title,
        body_md=parsed.body_md,
        tags_text=" ".join(parsed.tags),
        article_type=parsed.article_type,
    )
    existing = _existing_article(session, parsed)
    if existing is None:
        article = articles.create_article(
            session,
            author=author,
            data=data,
            summary="Imported",
            now=parsed.created,
            allow_new_tags=True,  # an admin runs the import
        )
        if parsed.slug and parsed.slug != article.slug:
            taken = session.scalar(select(Article.id).where(Article.slug == parsed.slug))
            if taken is None:
                article.slug = parsed.slug
        return ImportedPost(article, "created")
    result = articles.edit_article(
        session,
        existing,
        editor=author,
        data=data,
        base_revision=existing.revision_count,
        summary="Imported",
        allow_new_tags=True,
    )
    return ImportedPost(existing, "updated" if result.changed else "unchanged")


def _date(post: Post, when: dt.datetime | None) -> None:
    """Give a new question or answer, and its first revision, the date its file names."""
    if when is None:
        return
    post.created_at = post.updated_at = post.last_activity_at = when
    for revision in post.revisions:
        revision.created_at = when


def _import_question(session: Session, parsed: ParsedFile, author: User) -> ImportedPost:
    existing = _question_titled(session, parsed.title)
    if existing is not None:
        return ImportedPost(existing, "unchanged")
    # An admin runs the import: the file's tags are created like an article's.
    tags_named(session, parsed.tags)
    session.flush()
    question = questions.ask(
        session,
        author=author,
        title=parsed.title,
        body_md=parsed.body_md,
        tags=parsed.tags,
        anonymous=parsed.anonymous,
    )
    _date(question, parsed.created)
    return ImportedPost(question, "created")


def _import_answer(
    session: Session, parsed: ParsedFile, author: User, question: Question | None
) -> ImportedPost:
    if parsed.question:
        question = _question_titled(session, parsed.question)
    if question is None:
        raise ValueError(
            "no question to answer: name its title in 'question' or put the file next to it"
        )
    existing = session.scalar(
        select(Answer)
        .where(
            Answer.parent_id == question.id,
            Answer.author_id == author.id,
            Answer.body_md == parsed.body_md,
            Answer.deleted_at.is_(None),
        )
        .limit(1)
    )
    if existing is not None:
        return ImportedPost(existing, "unchanged")
    answer = answers.answer(session, author=author, question_id=question.id, body_md=parsed.body_md)
    _date(answer, parsed.created)
    if parsed.accepted and question.accepted_answer_id is None and question.author is not None:
        answers.accept(session, acceptor=question.author, answer_id=answer.id)
    return ImportedPost(answer, "created")


def _add_comments(
    session: Session, post: Post, parsed: ParsedFile, default_author: User
) -> list[Comment]:
    """The file's comments on the post it created, dated as listed (or like the post)."""
    made = []
    for item in parsed.comments:
        author = _member(session, item.author, default_author)
        comment = comments.add(session, author=author, post_id=post.id, body=item.body)
        when = item.created or parsed.created
        if when is not None:
            comment.created_at = comment.updated_at = when
        made.append(comment)
    return made


def _settle_last_activity(session: Session, question_id: int) -> None:
    """A question's last activity: the latest of its own, its answers' and comments' dates."""
    session.flush()
    thread = or_(Post.id == question_id, Post.parent_id == question_id)
    posted = session.scalar(select(func.max(Post.created_at)).where(thread))
    commented = session.scalar(
        select(func.max(Comment.created_at)).join(Post, Comment.post_id == Post.id).where(thread)
    )
    moments = [_aware(m) for m in (posted, commented) if m is not None]
    if moments:
        session.execute(
            update(Post)
            .where(Post.id == question_id)
            .values(last_activity_at=max(moments), updated_at=Post.updated_at)
            .execution_options(synchronize_session=False)
        )
        question = session.identity_map.get(session.identity_key(Post, question_id))
        if question is not None:
            session.expire(question, ["last_activity_at"])


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def import_parsed(
    session: Session,
    parsed: ParsedFile,
    *,
    default_author: User,
    question: Question | None = None,
) -> ImportedPost:
    """Create (or, for an article, update) the post a parsed file describes.

    ``question`` is the question an answer belongs to when its file names none. Comments are
    added to new posts only, so importing a folder again adds nothing.
    """
    author = _member(session, parsed.author, default_author)
    if parsed.kind == "question":
        result = _import_question(session, parsed, author)
    elif parsed.kind == "answer":
        result = _import_answer(session, parsed, author, question)
    else:
        result = _import_article(session, parsed, author)
    if result.created and parsed.comments:
        _add_comments(session, result.post, parsed, default_author)
    if result.created and parsed.created is not None and parsed.kind != "article":
        thread = result.post.parent_id if parsed.kind == "answer" else result.post.id
        assert thread is not None
        _settle_last_activity(session, thread)
    return result


def import_directory(
    session: Session,
    files: list[Path],
    *,
    default_author: User,
    progress: Callable[[Path], None] = lambda _p: None,
    prepare: Callable[[Path, ParsedFile], ParsedFile] = lambda _path, parsed: parsed,
    imported: Callable[[ImportedPost, ParsedFile], None] = lambda _post, _parsed: None,
) -> ImportSummary:
    """Import each file in a savepoint, so one bad file does not stop the rest.

    Answers are imported after every question, so a folder's order does not matter.
    ``prepare`` may adjust each parsed file (given with its path) first; ``imported`` runs
    after each file's post is saved, inside its savepoint (what it raises fails that file).
    """
    summary = ImportSummary()
    # Failures name files from the folder they share (a thread's "question.md" needs its folder).
    base = Path(os.path.commonpath([p.parent for p in files])) if files else Path()
    parsed_files: list[tuple[Path, ParsedFile]] = []
    for path in files:
        try:
            parsed_files.append(
                (path, prepare(path, parse_markdown_file(read_markdown_file(path), path.name)))
            )
        except (UnicodeDecodeError, ValueError, OSError) as exc:
            summary.failed.append((_shown(base, path), str(exc) or type(exc).__name__))
            progress(path)
    parsed_files.sort(key=lambda item: item[1].kind == "answer")
    folder_questions: dict[Path, Question] = {}
    for path, parsed in parsed_files:
        try:
            with session.begin_nested():
                result = import_parsed(
                    session,
                    parsed,
                    default_author=default_author,
                    question=folder_questions.get(path.parent),
                )
                imported(result, parsed)
        except ValidationError as exc:
            summary.failed.append((_shown(base, path), str(exc)))
        except (ServiceError, ValueError, OSError) as exc:
            summary.failed.append((_shown(base, path), str(exc) or type(exc).__name__))
        else:
            summary.count(result.outcome)
            if isinstance(result.post, Question):
                folder_questions[path.parent] = result.post
        progress(path)
    return summary


def all_articles(session: Session) -> Iterator[Article]:
    """Every live article, oldest first, with what the export needs loaded."""
    yield from session.scalars(
        select(Article)
        .where(Article.deleted_at.is_(None))
        .order_by(Article.id)
        .options(
            selectinload(Article.tags),
            selectinload(Article.author),
            selectinload(Article.owner),
        )
    )


def export_article(article: Article, out_dir: Path) -> Path:
    """Write one article as ``<slug>.md`` in ``out_dir``."""
    path = out_dir / f"{article.slug}.md"
    # A link planted in the folder must not redirect the write to a file elsewhere.
    with create_private_file(path) as handle:
        handle.write(dump_article(article).encode("utf-8"))
    return path
