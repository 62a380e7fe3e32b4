"""The audit log: who did what sensitive thing to which object, when and why."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK
from forum.models.users import User


class AuditLog(Base):
    """One audited action (e.g. revealing an anonymous author); rows are never changed."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)

    id: Mapped[IntPK]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int]
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[CreatedAt]

    actor: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditLog {self.action} {self.target_type}:{self.target_id}>"
