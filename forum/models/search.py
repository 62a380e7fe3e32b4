"""Search bookkeeping: the outbox of changed posts, PostgreSQL documents, zero-result queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.dialects.postgresql import base as postgresql_base
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from forum.db import Base, CreatedAt, IntPK


class SearchOutbox(Base):
    """A post whose search document must be refreshed; written in the changing transaction."""

    __tablename__ = "search_outbox"
    __table_args__ = (
        Index("ix_search_outbox_created_at", "created_at"),
        # Ids are never used twice: a drain deletes the rows it applied by id, after the index
        # has them, in a later transaction (see forum.search.outbox).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[IntPK]
    # No foreign key: the row must outlive a hard-deleted post so its document is removed.
    post_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[CreatedAt]
    #: Failed drains of this row; at the limit it is quarantined (set aside until retried).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    quarantined_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))


class SearchDocument(Base):
    """One post's weighted search document, used by the PostgreSQL backend only."""

    __tablename__ = "search_documents"
    __table_args__ = (
        Index("ix_search_documents_kind_created_at", "kind", "created_at"),
        # GIN on PostgreSQL (created by the migration); a plain index on the unused SQLite table.
        Index("ix_search_documents_document", "document", postgresql_using="gin"),
        # Similar questions read the posts sharing a typed title's words through this one.
        Index("ix_search_documents_title_document", "title_document", postgresql_using="gin"),
    )

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    subtype: Mapped[str | None] = mapped_column(String(16))
    slug: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str | None] = mapped_column(String(64))
    author_id: Mapped[int | None] = mapped_column(Integer)
    question_id: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(default=0)
    answer_count: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[str] = mapped_column(String(40))
    document: Mapped[str] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"))
    #: The title and tag words alone: small enough to stay in the row (the document does not).
    title_document: Mapped[str] = mapped_column(
        Text().with_variant(TSVECTOR(), "postgresql"), default=""
    )


class SearchWord(Base):
    """A word of the indexed titles, tags and body starts, unstemmed: what "did you mean" may
    offer (PostgreSQL backend only; Whoosh keeps its own). Words are added as posts are
    indexed and cleared by a rebuild; a word no document has any more is never offered."""

    __tablename__ = "search_words"
    __table_args__ = (
        # A pg_trgm GIN index where the extension could be created (the migration), else a
        # plain index: close words are then looked for among those of the same first letter.
        Index(
            "ix_search_words_trigram",
            "word",
            postgresql_using="gin",
            postgresql_ops={"word": "gin_trgm_ops"},
        ),
    )

    word: Mapped[str] = mapped_column(String(64), primary_key=True)


def _normalized_default(context: Any) -> str:
    query = context.get_current_parameters().get("query") or ""
    return " ".join(str(query).lower().split())[:500]


def _day_default(context: Any) -> dt.date:
    at = context.get_current_parameters().get("created_at")
    return (at if isinstance(at, dt.datetime) else dt.datetime.now(dt.UTC)).date()


class ZeroResultQuery(Base):
    """A member's search that found nothing, once per member, normalised query and day."""

    __tablename__ = "zero_result_queries"
    __table_args__ = (
        Index("ix_zero_result_queries_created_at", "created_at"),
        UniqueConstraint("user_id", "normalized", "day"),
    )

    id: Mapped[IntPK]
    query: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[CreatedAt]
    # Only for counting a member once a day: the gaps page never shows who searched.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: Lower case, words separated by single spaces: what the gaps page groups by.
    normalized: Mapped[str] = mapped_column(
        String(500), default=_normalized_default, server_default=""
    )
    day: Mapped[dt.date | None] = mapped_column(Date, default=_day_default)
    #: The content words stemmed and sorted ("docker deploy" for "Deploying Docker"): what
    #: the gaps page groups by; empty on rows recorded before it existed.
    stems: Mapped[str] = mapped_column(String(500), default="", server_default="")


class PgVector(UserDefinedType[Any]):
    """pgvector's ``vector(384)`` column type (values are written as text by SQL)."""

    cache_ok = True

    def __init__(self, dimensions: int = 384) -> None:
        self.dimensions = dimensions

    def get_col_spec(self, **_kw: Any) -> str:
        """The column's type in DDL."""
        return f"vector({self.dimensions})"


# Reflection (schema comparison) knows the type by its name.
postgresql_base.ischema_names["vector"] = PgVector


class PostVector(Base):
    """One post's sentence embedding for semantic ranking (see forum.search.vectors).

    ``vector`` holds float16 bytes on every database. On PostgreSQL with pgvector,
    ``embedding`` is a ``vector(384)`` column under an HNSW index (cosine), read and written
    with SQL by forum.search.vectors; without the extension the migration makes it a plain
    unused ``bytea`` (as it is on SQLite) and semantic ranking is off.
    """

    __tablename__ = "post_vectors"
    __table_args__ = (
        # HNSW on PostgreSQL with pgvector (created by the migration); a plain index elsewhere.
        Index(
            "ix_post_vectors_embedding",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    #: The model name and version that made the vector: another model means re-embedding.
    model_key: Mapped[str] = mapped_column(String(80))
    #: SHA-1 of the model key and the text embedded.
    content_hash: Mapped[str] = mapped_column(String(40))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    embedding: Mapped[Any] = mapped_column(
        LargeBinary().with_variant(PgVector(), "postgresql"), nullable=True
    )
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
