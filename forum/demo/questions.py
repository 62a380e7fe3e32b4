"""Demo Q&A for Northwind Labs: questions people really ask at work, with answers and votes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import Question, Role, User
from forum.services import answers, comments, questions, votes
from forum.services.errors import Forbidden
from forum.services.tags import tags_named


@dataclass(frozen=True)
class DemoAnswer:
    """An answer; ``accepted`` marks the one the asker accepts."""

    author: str
    body: str
    accepted: bool = False
    voters: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoQuestion:
    """A question with its thread."""

    asker: str
    title: str
    body: str
    tags: tuple[str, ...]
    days_ago: int
    answers: tuple[DemoAnswer, ...] = ()
    #: (author, text, index of the answer or None for the question)
    comments: tuple[tuple[str, str, int | None], ...] = ()
    voters: tuple[str, ...] = ()
    anonymous: bool = False
    duplicate_of: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


A = DemoAnswer
Q = DemoQuestion

QUESTIONS: list[DemoQuestion] = [
    Q(
        "tom",
        "How do I get kubectl access to the staging cluster?",
        "I joined the platform rotation this week. `kubectl get pods` says *Unauthorized*. "
        "Is there a form, or do I need to ask someone?",
        ("kubernetes", "onboarding", "access"),
        30,
        (
            A(
                "amara",
                "Request the `staging-dev` group in the access portal, then run "
                "`nw-login k8s staging`. It writes your kubeconfig. Approval is usually same day.",
                True,
                ("tom", "priya", "diego"),
            ),
            A(
                "priya",
                "Also check that your VPN profile is *Engineering*, not *Corporate*; "
                "the API server is only reachable from the first.",
                False,
                ("tom",),
            ),
        ),
        (
            ("tom", "The VPN profile was it, thanks!", 1),
            ("jonas", "Let's add this to the onboarding checklist.", None),
        ),
        ("priya", "mei"),
    ),
    Q(
        "tom",
        "Can't reach the staging cluster from home with kubectl",
        "From home kubectl just times out. In the office it works.",
        ("kubernetes", "access"),
        28,
        (A("diego", "Sounds like the VPN profile issue: see the older question."),),
        duplicate_of="How do I get kubectl access to the staging cluster?",
    ),
    Q(
        "priya",
        "Why is this PostgreSQL query slow only in production?",
        "A `SELECT ... WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20` takes 2 s "
        "in production and 5 ms locally. Same indexes.",
        ("postgresql", "performance"),
        26,
        (
            A(
                "amara",
                "Production has 400x the rows, and the planner picks a backward scan of "
                "`created_at` and filters. A composite index `(customer_id, created_at DESC)` "
                "lets it read exactly 20 rows. Check with `EXPLAIN (ANALYZE, BUFFERS)`.",
                True,
                ("priya", "mei", "tom", "diego"),
            ),
            A(
                "mei",
                "Also run `ANALYZE` after the big import; the statistics were stale when I "
                "looked last month.",
                False,
                ("priya",),
            ),
        ),
        (("priya", "The composite index brought it to 3 ms. Thank you!", 0),),
        ("tom", "diego", "mei"),
    ),
    Q(
        "diego",
        "What is our rule for focus outlines in the design system?",
        "Some components remove `outline` on focus. Is there an agreed style?",
        ("accessibility", "css", "design-system"),
        25,
        (
            A(
                "hannah",
                "Support gets complaints from keyboard users when focus is invisible, so "
                "please keep it.",
                False,
                ("diego",),
            ),
            A(
                "diego",
                "Answering my own question after the guild meeting: use `:focus-visible` "
                "with the 3px amber outline token; never remove outlines without a replacement.",
                True,
                ("amara", "priya", "olivia"),
            ),
        ),
        (),
        ("amara", "tom"),
    ),
    Q(
        "mei",
        "How do I backfill a dbt incremental model for one month?",
        "I changed the logic of `fct_orders` and need to rebuild March only.",
        ("dbt", "data"),
        24,
        (
            A(
                "priya",
                "Run with a var: `dbt run -s fct_orders --vars '{start: 2026-03-01, "
                "end: 2026-04-01}'` and make the incremental filter use those vars when set.",
                True,
                ("mei", "amara"),
            ),
        ),
        (
            (
                "amara",
                "Please announce backfills in #data so dashboards don't surprise people.",
                None,
            ),
        ),
        ("priya",),
    ),
    Q(
        "sofia",
        "Where is the latest version of the demo script?",
        "Customers ask about the new reporting module and my script is from spring.",
        ("sales", "demo"),
        23,
        (
            A(
                "kwame",
                "It's in the Sales Engineering space: *Demo script 2026 Q4*. I updated the "
                "reporting section last week.",
                True,
                ("sofia", "luis"),
            ),
        ),
        (),
        ("kwame",),
    ),
    Q(
        "kwame",
        "How should I answer security questionnaires about data residency?",
        "A prospect asks where backups are stored and for how long.",
        ("security", "sales"),
        22,
        (
            A(
                "amara",
                "Backups stay in the EU region (Frankfurt), encrypted, kept 35 days. Point "
                "them to the Trust page; legal has approved wording there.",
                True,
                ("kwame", "sofia", "hannah"),
            ),
        ),
        (),
        ("sofia",),
    ),
    Q(
        "luis",
        "How do I issue a partial refund in the billing console?",
        "A customer was double-charged for one seat.",
        ("billing", "support"),
        21,
        (
            A(
                "hannah",
                "Open the invoice, choose *Credit note*, select the seat line and set the "
                "quantity to 1. Refunds over 500 EUR need a second approver.",
                True,
                ("luis", "sofia"),
            ),
        ),
        (("luis", "Worked, thanks Hannah.", 0),),
        (),
    ),
    Q(
        "grace",
        "What's the budget for learning and conferences this year?",
        "New joiners keep asking me; I want to give one consistent answer.",
        ("learning", "hr"),
        20,
        (
            A(
                "olivia",
                "1,200 EUR per person per year, plus two learning days. Conferences abroad "
                "need manager approval first.",
                True,
                ("grace", "tom", "mei", "diego"),
            ),
        ),
        (),
        (),
    ),
    Q(
        "tom",
        "Is it okay to ask for help in my first month if everyone seems busy?",
        "I don't want to interrupt people all the time.",
        ("onboarding", "culture"),
        19,
        (
            A(
                "olivia",
                "Yes, please! Asking early saves everyone time. Try: say what you tried, "
                "ask here so the answer helps the next person, and book 15 minutes with your "
                "buddy.",
                True,
                ("grace", "jonas", "priya"),
            ),
            A("jonas", "Most of us remember our first month. Ask away.", False, ("tom",)),
        ),
        (),
        ("grace", "olivia"),
        anonymous=True,
    ),
    Q(
        "priya",
        "How do we version the public API?",
        "Are we doing URL versions (`/v2/`) or headers?",
        ("api", "architecture"),
        18,
        (
            A(
                "amara",
                "URL major versions only, additive changes within a version, and a 12-month "
                "deprecation window announced in the changelog.",
                True,
                ("priya", "diego", "kwame"),
            ),
        ),
        (("kwame", "Customers love the 12-month window; it's a sales argument.", 0),),
        ("mei",),
    ),
    Q(
        "diego",
        "Should we use CSS grid or flexbox for the dashboard layout?",
        "Two-dimensional layout with resizable cards.",
        ("css", "frontend"),
        17,
        (
            A(
                "priya",
                "Grid for the page, flexbox inside cards. Grid's `minmax()` handles the "
                "responsive columns without media queries.",
                True,
                ("diego", "tom"),
            ),
        ),
        (),
        (),
    ),
    Q(
        "mei",
        "Where do I find the data dictionary for the warehouse?",
        "I'm looking for the definition of *active customer*.",
        ("data", "documentation"),
        16,
        (
            A(
                "priya",
                "dbt docs are published at the internal docs site; search for "
                "`dim_customers.is_active`.",
                True,
                ("mei", "sofia"),
            ),
        ),
        (),
        ("sofia",),
    ),
    Q(
        "hannah",
        "How do we escalate a P1 incident outside business hours?",
        "The runbook mentions a pager but not who is on call for support.",
        ("incidents", "support", "on-call"),
        15,
        (
            A(
                "amara",
                "Page *platform-primary* through the incident tool; it escalates to the "
                "secondary after 10 minutes. Support's on-call is in the same schedule.",
                True,
                ("hannah", "luis", "jonas"),
            ),
        ),
        (),
        ("luis",),
    ),
    Q(
        "tom",
        "What does 'LGTM with nits' mean in code review here?",
        "Should I fix the nits before merging or not?",
        ("code-review", "culture"),
        14,
        (
            A(
                "jonas",
                "Approve-with-nits means: merge when you've addressed them or explained "
                "why not. No second review needed.",
                True,
                ("tom", "diego", "priya"),
            ),
        ),
        (("diego", "And feel free to disagree with a nit!", 0),),
        (),
    ),
    Q(
        "sofia",
        "Can we offer a discount for multi-year contracts?",
        "A customer wants three years prepaid.",
        ("sales", "pricing"),
        13,
        (
            A(
                "kwame",
                "Up to 10% for 2 years and 15% for 3 years prepaid; above that needs the "
                "VP's approval in the deal desk.",
                True,
                ("sofia",),
            ),
        ),
        (),
        (),
    ),
    Q(
        "priya",
        "How do I profile memory in a Python worker?",
        "The invoice worker grows to 2 GB overnight.",
        ("python", "performance"),
        12,
        (
            A(
                "amara",
                "`tracemalloc` snapshots every N jobs and compare the top stats; in our "
                "last case it was a module-level cache without a bound.",
                True,
                ("priya", "mei"),
            ),
            A(
                "mei",
                "memray is installed in the debug image too, and its flame graph is great.",
                False,
                ("priya",),
            ),
        ),
        (),
        ("tom",),
    ),
    Q(
        "grace",
        "How does the buddy programme work for remote joiners?",
        "Two new people start remote next month.",
        ("onboarding", "mentoring"),
        11,
        (
            A(
                "olivia",
                "Same as on site: a buddy from another team, a 30-minute call twice a "
                "week for the first month, and the onboarding learning path.",
                True,
                ("grace", "jonas"),
            ),
        ),
        (),
        (),
    ),
    Q(
        "luis",
        "Is there a template for apologising for an outage to customers?",
        "",
        ("support", "incidents"),
        10,
        (
            A(
                "hannah",
                "Yes: *Support handbook → Incident communication*. Be specific about "
                "impact and what we change; avoid blaming vendors.",
                True,
                ("luis", "sofia"),
            ),
        ),
        (),
        (),
    ),
    Q(
        "diego",
        "How do I test keyboard navigation automatically?",
        "Our Playwright tests only click.",
        ("accessibility", "testing"),
        9,
        (
            A(
                "priya",
                "Use `page.keyboard.press('Tab')` and assert `document.activeElement`; "
                "axe-core catches missing labels but not focus order.",
                True,
                ("diego",),
            ),
        ),
        (),
        (),
    ),
    Q(
        "tom",
        "Why does my Docker build take 10 minutes every time?",
        "Even when I change one Python file.",
        ("docker", "ci"),
        8,
        (
            A(
                "amara",
                "Copy `pyproject.toml` and install dependencies *before* copying the "
                "source, so the dependency layer stays cached.",
                True,
                ("tom", "priya", "mei"),
            ),
        ),
        (),
        ("priya",),
    ),
    Q(
        "mei",
        "How do I get read access to the production replica?",
        "For an analysis of churn.",
        ("postgresql", "access", "data"),
        7,
        (
            A(
                "amara",
                "Request `prod-replica-read` in the access portal with the ticket; access "
                "expires after 30 days.",
                True,
                ("mei",),
            ),
        ),
        (),
        (),
    ),
    Q(
        "kwame",
        "What's the difference between SSO and SCIM for customers?",
        "Prospects ask whether we support both.",
        ("security", "sales", "sso"),
        6,
        (
            A(
                "amara",
                "SSO (SAML/OIDC) logs people in; SCIM creates and removes accounts "
                "automatically. We support both on the Enterprise plan.",
                True,
                ("kwame", "sofia"),
            ),
        ),
        (),
        (),
    ),
    Q(
        "jonas",
        "How do we run a blameless post-mortem?",
        "Team leads asked for a format.",
        ("incidents", "culture"),
        6,
        (
            A(
                "hannah",
                "Timeline first, then contributing factors, then actions with owners. "
                "Ask *what* and *how*, never *who*.",
                True,
                ("jonas", "amara", "olivia"),
            ),
        ),
        (),
        (),
    ),
    Q(
        "olivia",
        "Which learning path should a new data engineer start with?",
        "",
        ("learning", "data", "onboarding"),
        5,
        (
            A(
                "mei",
                "*Warehouse basics* then *dbt at Northwind*; pair on a model in week two.",
                True,
                ("olivia",),
            ),
        ),
        (),
        (),
    ),
    Q(
        "tom",
        "I broke the build on main. What should I do?",
        "My merge made the tests fail and people are blocked.",
        ("ci", "culture"),
        5,
        (
            A(
                "priya",
                "Revert first, fix later. Post in #eng that you reverted; nobody minds.",
                True,
                ("tom", "jonas", "diego", "amara"),
            ),
        ),
        (),
        ("jonas",),
        anonymous=True,
    ),
    Q(
        "sofia",
        "Can I share the product roadmap with a prospect?",
        "They want to see what's coming in the next two quarters.",
        ("sales", "product"),
        4,
        (
            A(
                "kwame",
                "Only the public roadmap slides, under NDA, and never with dates.",
                True,
                ("sofia",),
            ),
        ),
        (),
        (),
    ),
    Q(
        "priya",
        "How do we handle database migrations that lock big tables?",
        "Adding a column with a default on `invoices` (80M rows).",
        ("postgresql", "migrations"),
        4,
        (
            A(
                "amara",
                "Add the column nullable, backfill in batches, then set the default and NOT "
                "NULL with `NOT VALID` constraints validated separately.",
                True,
                ("priya", "mei", "tom"),
            ),
        ),
        (),
        ("diego",),
    ),
    Q(
        "diego",
        "How should error messages be written in the UI?",
        "",
        ("ux", "design-system"),
        3,
        (),
        (),
        (),
    ),
    Q(
        "mei",
        "Why do two dashboards show different revenue for October?",
        "Finance and Sales dashboards disagree by 3%.",
        ("data", "metrics"),
        3,
        (
            A(
                "priya",
                "Sales counts bookings, Finance counts recognised revenue. The definitions "
                "page explains both.",
                False,
                ("mei",),
            ),
        ),
        (),
        (),
    ),
    Q(
        "hannah",
        "How do I set up my on-call phone alerts to bypass do-not-disturb?",
        "",
        ("on-call",),
        3,
        (),
        (),
        (),
    ),
    Q(
        "grace",
        "What are the rules for working from another country?",
        "Someone wants to work from Portugal for a month.",
        ("hr", "policy"),
        2,
        (
            A(
                "olivia",
                "Up to 30 days a year within the EU with your manager's OK; longer needs "
                "HR and tax review.",
                True,
                ("grace",),
            ),
        ),
        (),
        (),
    ),
    Q(
        "tom",
        "What does our team expect from a junior developer after six months?",
        "I'd like to know if I'm on track.",
        ("career", "culture"),
        2,
        (
            A(
                "jonas",
                "Owning small features end to end, reviewing others' code and asking early. "
                "Bring this to your next 1:1 too.",
                False,
                ("olivia",),
            ),
        ),
        (),
        (),
        anonymous=True,
    ),
    Q(
        "luis",
        "Can customers change the billing currency mid-contract?",
        "",
        ("billing",),
        2,
        (),
        (),
        (),
    ),
    Q(
        "kwame",
        "Do we have a sandbox account for proofs of concept?",
        "I need one for a two-week POC.",
        ("sales", "demo"),
        2,
        (
            A(
                "sofia",
                "Yes: ask in #sales-eng for a POC tenant; they expire after 30 days.",
                False,
                (),
            ),
        ),
        (),
        (),
    ),
    Q(
        "priya",
        "Is it fine to use `SELECT FOR UPDATE SKIP LOCKED` for our job queue?",
        "Thinking of replacing the Redis queue for billing jobs.",
        ("postgresql", "architecture"),
        1,
        (
            A(
                "amara",
                "Yes, it works well at our volume; keep transactions short and index "
                "the `ready_at` column.",
                False,
                ("priya",),
            ),
        ),
        (),
        ("mei",),
    ),
    Q(
        "diego",
        "How do we pick colours that pass contrast in dark mode?",
        "",
        ("accessibility", "css"),
        1,
        (),
        (),
        (),
    ),
    Q(
        "olivia",
        "How can I find a mentor outside my team?",
        "I want to grow into data analysis.",
        ("mentoring", "career"),
        1,
        (
            A(
                "grace",
                "Use the mentoring programme page to request a match; mention your goal.",
                False,
                ("olivia",),
            ),
        ),
        (),
        (),
        anonymous=True,
    ),
    Q("mei", "How do I test a dbt macro?", "", ("dbt", "testing"), 1, (), (), ()),
    Q(
        "sofia",
        "What's the best way to learn SQL basics for sales reporting?",
        "I'd like to build my own pipeline reports.",
        ("sql", "learning"),
        0,
        (
            A(
                "mei",
                "The *SQL for everyone* path, then pair with me on your first report.",
                False,
                ("sofia",),
            ),
        ),
        (),
        (),
    ),
    Q(
        "hannah",
        "Should support have read access to the admin panel?",
        "Half the escalations are about looking up settings.",
        ("support", "access"),
        0,
        (),
        (),
        (),
    ),
    Q(
        "tom",
        "How do I write a good pull request description?",
        "",
        ("code-review",),
        0,
        (),
        (("diego", "Great question, I'd like to know too.", None),),
        (),
    ),
]


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None, username
    return user


def load_questions(session: Session, *, progress: Callable[[str], None] = lambda _m: None) -> int:
    """Add the demo questions that are not there yet, with their threads; returns how many."""
    existing = set(session.scalars(select(Question.title)))
    moderator = session.scalar(select(User).where(User.role == Role.MODERATOR))
    created: dict[str, Question] = {}
    now = utcnow()
    for item in QUESTIONS:
        if item.title in existing:
            continue
        tags_named(session, list(item.tags))
        session.flush()
        asked_at = now - dt.timedelta(days=item.days_ago, hours=len(created) % 7 + 1)
        question = questions.ask(
            session,
            author=_user(session, item.asker),
            title=item.title,
            body_md=item.body or item.title,
            tags=list(item.tags),
            anonymous=item.anonymous,
        )
        question.created_at = question.last_activity_at = asked_at
        made = []
        for n, spec in enumerate(item.answers):
            answer = answers.answer(
                session,
                author=_user(session, spec.author),
                question_id=question.id,
                body_md=spec.body,
            )
            answer.created_at = asked_at + dt.timedelta(hours=n + 1)
            made.append(answer)
            for voter in spec.voters:
                if voter != spec.author:
                    votes.cast(session, voter=_user(session, voter), post_id=answer.id, value=1)
            if spec.accepted:
                answers.accept(session, acceptor=_user(session, item.asker), answer_id=answer.id)
        for voter in item.voters:
            if voter != item.asker:
                try:
                    votes.cast(session, voter=_user(session, voter), post_id=question.id, value=1)
                except Forbidden:
                    continue
        for author, text, target in item.comments:
            post = question if target is None else made[target]
            comments.add(session, author=_user(session, author), post_id=post.id, body=text)
        if item.duplicate_of and moderator is not None:
            original = created.get(item.duplicate_of) or session.scalar(
                select(Question).where(Question.title == item.duplicate_of)
            )
            if original is not None:
                questions.close(
                    session,
                    moderator=moderator,
                    question_id=question.id,
                    reason="duplicate",
                    note="Same VPN profile issue.",
                    duplicate_of_id=original.id,
                )
        question.last_activity_at = asked_at + dt.timedelta(hours=len(item.answers) + 1)
        created[item.title] = question
    session.flush()
    progress(f"{len(created)} questions")
    return len(created)
