"""The audit log's writer: what moderators do, recorded with who did it and why."""

from __future__ import annotations

from sqlalchemy.orm import Session

from forum.models import AuditLog, User


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: int,
    reason: str = "",
) -> AuditLog:
    """Add one audit row (flushed with the action's other rows); ``actor`` None: the operator
    at the command line."""
    row = AuditLog(
        actor_id=actor.id if actor is not None else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        reason=reason[:4000],
    )
    session.add(row)
    return row


def record_moderation(
    session: Session,
    *,
    actor: User,
    author_id: int | None,
    action: str,
    target_type: str,
    target_id: int,
) -> AuditLog | None:
    """Audit an action on someone else's content taken as a moderator (an author's own
    deletion is theirs, not a moderator action)."""
    if not actor.is_moderator or actor.id == author_id:
        return None
    return record(session, actor=actor, action=action, target_type=target_type, target_id=target_id)


def unattributed(*, action: str, target_type: str, target_id: int, reason: str = "") -> AuditLog:
    """An audit row of something members decided together (no one actor)."""
    return AuditLog(
        actor_id=None, action=action, target_type=target_type, target_id=target_id, reason=reason
    )
