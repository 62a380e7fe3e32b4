"""All models, importable from one place (Alembic reads ``Base.metadata`` through here)."""

from forum.db import Base
from forum.models.access import Invitation, PasswordReset
from forum.models.articles import ArticleFeedback, ArticleLink
from forum.models.audit import AuditLog
from forum.models.badges import BadgeAward
from forum.models.bounties import Bounty, BountyStatus
from forum.models.circles import (
    Attendance,
    CalendarToken,
    Circle,
    CircleMember,
    CircleResource,
    CircleSession,
    Rsvp,
    RsvpResponse,
    SessionKind,
    WorkshopRating,
    circle_tags,
)
from forum.models.claims import ClaimLink
from forum.models.departments import Department
from forum.models.drafts import Draft
from forum.models.identities import Identity
from forum.models.imports import ImportRecord, PostAttribution, RelatedPost
from forum.models.mentoring import BuddyPair, CheckIn, MemberSkill, Mentorship, MentorshipGoal
from forum.models.moderation import CloseVote, ConductRevision, Flag, ModerationWarning
from forum.models.notifications import (
    MailDelivery,
    Mention,
    Notification,
    NotificationPreference,
    PostFollow,
)
from forum.models.paths import LearningPath, PathEnrolment, PathStep, StepCompletion
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
from forum.models.requests import (
    RequestStatus,
    TutorialRequest,
    TutorialRequestVote,
    tutorial_request_tags,
)
from forum.models.review import SuggestedEdit
from forum.models.search import (
    PostVector,
    SearchDocument,
    SearchOutbox,
    SearchWord,
    ZeroResultQuery,
)
from forum.models.sessions import LoginSession
from forum.models.tokens import AccessToken, FeedToken
from forum.models.two_factor import RecoveryCode, TotpSecret
from forum.models.uploads import Upload, UploadBlob
from forum.models.users import Role, User
from forum.models.webhooks import Webhook, WebhookAttempt, WebhookDelivery

__all__ = [
    "Bounty",
    "BountyStatus",
    "SuggestedEdit",
    "ClaimLink",
    "AccessToken",
    "FeedToken",
    "RecoveryCode",
    "TotpSecret",
    "Invitation",
    "PasswordReset",
    "Identity",
    "Department",
    "Draft",
    "ModerationWarning",
    "Flag",
    "CloseVote",
    "ConductRevision",
    "BuddyPair",
    "CheckIn",
    "LearningPath",
    "MemberSkill",
    "Mentorship",
    "MentorshipGoal",
    "PathEnrolment",
    "PathStep",
    "StepCompletion",
    "Attendance",
    "CalendarToken",
    "Circle",
    "CircleMember",
    "CircleResource",
    "CircleSession",
    "Rsvp",
    "RsvpResponse",
    "SessionKind",
    "WorkshopRating",
    "circle_tags",
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
    "LoginSession",
    "MailDelivery",
    "Mention",
    "Notification",
    "NotificationPreference",
    "PostFollow",
    "Post",
    "PostAttribution",
    "PostKind",
    "PostView",
    "Question",
    "RelatedPost",
    "ReputationEvent",
    "RequestStatus",
    "Revision",
    "Role",
    "SearchDocument",
    "PostVector",
    "SearchOutbox",
    "SearchWord",
    "Tag",
    "TagFollow",
    "TagSynonym",
    "TutorialRequest",
    "TutorialRequestVote",
    "Upload",
    "UploadBlob",
    "User",
    "Vote",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "ZeroResultQuery",
    "post_tags",
    "tutorial_request_tags",
]
