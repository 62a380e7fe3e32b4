"""All models, importable from one place (Alembic reads ``Base.metadata`` through here)."""

from forum.db import Base
from forum.models.posts import (
    Answer,
    Article,
    ArticleType,
    Comment,
    Post,
    PostKind,
    Question,
    Revision,
    Tag,
    Vote,
    post_tags,
)
from forum.models.users import Role, User

__all__ = [
    "Answer",
    "Article",
    "ArticleType",
    "Base",
    "Comment",
    "Post",
    "PostKind",
    "Question",
    "Revision",
    "Role",
    "Tag",
    "User",
    "Vote",
    "post_tags",
]
