"""Search bookkeeping: the outbox of changed posts, PostgreSQL documents, zero-result queries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from forum.db import Base, CreatedAt, IntPK


class SearchOutbox(Base):
    """A post whose search document must be refreshed; written in the changing transaction."""

    __tablename__ = "search_outbox"
    __table_args__ = (Index("ix_search_outbox_created_at", "created_at"),)

    id: Mapped[IntPK]
    # No foreign key: the row must outlive a hard-deleted post so its document is removed.
    post_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[CreatedAt]


class SearchDocument(Base):
    """One post's weighted search document, used by the PostgreSQL backend only."""

    __tablename__ = "search_documents"
    __table_args__ = (
        Index("ix_search_documents_kind_created_at", "kind", "created_at"),
        # GIN on PostgreSQL (created by the migration); a plain index on the unused SQLite table.
        Index("ix_search_documents_document", "document", postgresql_using="gin"),
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


class ZeroResultQuery(Base):
    """A search that found nothing: the text and the time only, never who searched."""

    __tablename__ = "zero_result_queries"
    __table_args__ = (Index("ix_zero_result_queries_created_at", "created_at"),)

    id: Mapped[IntPK]
    query: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[CreatedAt]
