"""Uploaded images and attachments, and the bytes of those kept in the database."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from forum.db import Base, CreatedAt, IntPK


class Upload(Base):
    """One uploaded file: its unguessable name, who sent it, what it is and where it is kept."""

    __tablename__ = "uploads"

    id: Mapped[IntPK]
    #: Random, URL-safe, with the extension of the stored type (the last part of its address).
    name: Mapped[str] = mapped_column(String(64), unique=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    #: The sender's file name, cleaned: the alt text of an image, the download name of a file.
    original_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    #: The backend holding the bytes: "folder" or "database".
    storage: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[CreatedAt]


class UploadBlob(Base):
    """The bytes of an upload kept by the database backend (every app host sees them)."""

    __tablename__ = "upload_blobs"

    # No foreign key: `forum uploads verify` reports bytes whose upload row is gone.
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
