"""Exceptions services raise; forum.errors maps them to pages and status codes."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class of every domain error."""


class NotFound(ServiceError):
    """The object does not exist (or is invisible to this member): 404."""


class Forbidden(ServiceError):
    """The member may not do this: 403."""


class Conflict(ServiceError):
    """The action clashes with the current state: 409."""


class ValidationError(ServiceError):
    """Input is wrong; ``errors`` maps form field names to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors

    @property
    def messages(self) -> list[str]:
        """Every message, field after field (for pages that show them in one place)."""
        return [message for messages in self.errors.values() for message in messages]
