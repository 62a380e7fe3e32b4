"""Articles as Markdown files with YAML front matter: one article per file, both ways."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from forum.models import Article, ArticleType, User
from forum.services import articles
from forum.services.errors import ServiceError, ValidationError
from forum.services.tags import parse_tags

#: Tag given to imported files that name none (every article needs one).
DEFAULT_TAG = "imported"


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


def parse_markdown_file(text: str, filename: str) -> ParsedFile:
    """Read a file with or without front matter; no title? a leading '# ' line, else the name."""
    post = frontmatter.loads(text)
    meta = post.metadata
    body = post.content
    title = str(meta.get("title") or "").strip()
    if not title:
        lines = body.splitlines()
        if lines and lines[0].startswith("# "):
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
    )


@dataclass
class ImportSummary:
    """What an import did, file by file."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        """The summary in one line."""
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.failed)} failed"
        )


def markdown_files(directory: Path) -> list[Path]:
    """The ``.md`` files under ``directory``, in a stable order."""
    return sorted(p for p in directory.rglob("*.md") if p.is_file())


def _existing(session: Session, parsed: ParsedFile) -> Article | None:
    if parsed.slug:
        found = session.scalar(select(Article).where(Article.slug == parsed.slug))
        if found is not None:
            return found
    return articles.find_by_title(session, parsed.title)


def import_file(
    session: Session, path: Path, *, default_author: User, summary: ImportSummary
) -> None:
    """Create or update the article one file describes; counts the outcome in ``summary``."""
    parsed = parse_markdown_file(path.read_text(encoding="utf-8"), path.name)
    author = default_author
    if parsed.author:
        author = session.scalar(select(User).where(User.username == parsed.author)) or author
    data = articles.ArticleData(
        title=parsed.title,
        body_md=parsed.body_md,
        tags_text=" ".join(parsed.tags),
        article_type=parsed.article_type,
    )
    existing = _existing(session, parsed)
    if existing is None:
        article = articles.create_article(
            session, author=author, data=data, summary="Imported", now=parsed.created
        )
        if parsed.slug and parsed.slug != article.slug:
            taken = session.scalar(select(Article.id).where(Article.slug == parsed.slug))
            if taken is None:
                article.slug = parsed.slug
        summary.created += 1
        return
    result = articles.edit_article(
        session,
        existing,
        editor=author,
        data=data,
        base_revision=existing.revision_count,
        summary="Imported",
    )
    if result.changed:
        summary.updated += 1
    else:
        summary.unchanged += 1


def import_directory(
    session: Session,
    files: list[Path],
    *,
    default_author: User,
    progress: Callable[[Path], None] = lambda _p: None,
) -> ImportSummary:
    """Import each file in a savepoint, so one bad file does not stop the rest."""
    summary = ImportSummary()
    for path in files:
        try:
            with session.begin_nested():
                import_file(session, path, default_author=default_author, summary=summary)
        except ValidationError as exc:
            summary.failed.append((path.name, str(exc)))
        except (ServiceError, UnicodeDecodeError, ValueError) as exc:
            summary.failed.append((path.name, str(exc) or type(exc).__name__))
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
    path.write_text(dump_article(article), encoding="utf-8")
    return path
