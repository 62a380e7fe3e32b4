"""All models, importable from one place (Alembic reads ``Base.metadata`` through here)."""

from forum.db import Base
from forum.models.articles import ArticleFeedback, ArticleLink
from forum.models.audit import AuditLog
from forum.models.badges import BadgeAward
from forum.models.imports import ImportRecord, PostAttribution, RelatedPost
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
from forum.models.qa import CommentVote, PostView, TagFollow, TagSynonym
from forum.models.reputation import ReputationEvent
from forum.models.search import SearchDocument, SearchOutbox, ZeroResultQuery
from forum.models.users import Role, User

__all__ = [
    "Answer",
    "AuditLog",
    "Article",
    "ArticleFeedback",
    "ArticleLink",
    "ArticleType",
    "BadgeAward",
    "Base",
    "Comment",
    "CommentVote",
    "ImportRecord",
    "Post",
    "PostAttribution",
    "PostKind",
    "PostView",
    "Question",
    "RelatedPost",
    "ReputationEvent",
    "Revision",
    "Role",
    "SearchDocument",
    "SearchOutbox",
    "Tag",
    "TagFollow",
    "TagSynonym",
    "User",
    "Vote",
    "ZeroResultQuery",
    "post_tags",
]
