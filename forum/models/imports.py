"""What imports leave behind: the source-to-local id map, post attribution, related links."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK
from forum.models.posts import Post

#: Creative Commons deeds, by the licence names Stack Exchange dumps use.
LICENSE_URLS = {
    "CC BY-SA 2.5": "https://creativecommons.org/licenses/by-sa/2.5/",
    "CC BY-SA 3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
    "CC BY-SA 4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
}


class ImportRecord(Base):
    """One source row already imported: (site, kind, external id) -> the local row's id.

    The unique key is what makes an import idempotent: a row seen before is never created
    again. ``local_id`` has no foreign key because it points into several tables by ``kind``.
    """

    __tablename__ = "import_records"
    __table_args__ = (UniqueConstraint("site", "kind", "external_id"),)

    id: Mapped[IntPK]
    site: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    local_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[CreatedAt]


class PostAttribution(Base):
    """Where an imported post came from, as its licence requires a page to show."""

    __tablename__ = "post_attributions"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    #: The network the content comes from, e.g. "Stack Exchange".
    source: Mapped[str] = mapped_column(String(40))
    #: The site's host name, e.g. "ai.stackexchange.com".
    site: Mapped[str] = mapped_column(String(100))
    source_url: Mapped[str] = mapped_column(String(300))
    author_name: Mapped[str | None] = mapped_column(String(100))
    author_url: Mapped[str | None] = mapped_column(String(300))
    license: Mapped[str] = mapped_column(String(32))
    #: When the post was first published at the source.
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    post: Mapped[Post] = relationship(
        backref=backref(
            "attribution", uselist=False, cascade="all, delete-orphan", passive_deletes=True
        )
    )

    @property
    def license_url(self) -> str | None:
        """The licence's deed, when it is one we know."""
        return LICENSE_URLS.get(self.license)


class RelatedPost(Base):
    """A link between two posts: ``related``, or ``duplicate`` (post_id duplicates the other)."""

    __tablename__ = "related_posts"
    __table_args__ = (
        UniqueConstraint("post_id", "related_post_id"),
        Index("ix_related_posts_related_post_id", "related_post_id"),
    )

    id: Mapped[IntPK]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    related_post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    link_type: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[CreatedAt]

    post: Mapped[Post] = relationship(foreign_keys=[post_id])
    related_post: Mapped[Post] = relationship(foreign_keys=[related_post_id])
