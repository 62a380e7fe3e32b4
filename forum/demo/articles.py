"""Northwind Labs' knowledge base: tips and tutorials across departments, linked as a wiki."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import Article, User
from forum.services import articles


@dataclass(frozen=True)
class DemoArticle:
    """One demo article; ``age_days`` places its last edit in the past."""

    title: str
    author: str
    article_type: str
    tags: str
    body: str
    age_days: int = 10
    helpful: tuple[tuple[str, bool, str], ...] = ()


ARTICLES: list[DemoArticle] = [
    DemoArticle(
        "New starter onboarding checklist",
        "grace",
        "tutorial",
        "onboarding hr checklist",
        """Welcome to Northwind Labs! This checklist covers your first two weeks. Your buddy and
your manager have a copy too, so nobody has to remember everything.

## Before day one

- [x] Signed contract returned to People (Grace Kim)
- [x] Laptop ordered: see [[Laptop setup for engineers]] if you write code
- [ ] Read the [[Code of conduct in a nutshell]]

## Week one

1. Meet your buddy (the [[Buddy programme: what to expect]] explains how it works).
2. Book the security training in the learning portal.
3. Set up two-factor authentication on every work account.
4. Join `#general`, `#help-it` and your team's channel.
5. Have lunch with your team: Northwind pays for the first one.

## Week two

- Shadow a customer call. Sales engineers love company: ask Kwame Mensah.
- Read the tutorials tagged `onboarding` on forum.
- Write down three things that confused you and send them to Grace: the checklist improves
  with every new colleague.

## Who to ask

| Topic | Person | Where |
|:------|:-------|:------|
| Contract, payroll, leave | Grace Kim | People team |
| Learning budget | Olivia Brown | L&D |
| Laptop and accounts | IT helpdesk | `#help-it` |
""",
        age_days=40,
        helpful=(("tom", True, "The table of people saved me a day."), ("luis", True, "")),
    ),
    DemoArticle(
        "Buddy programme: what to expect",
        "olivia",
        "tip",
        "onboarding mentoring",
        """Every new colleague gets a **buddy** for their first three months: someone outside
their reporting line who has been here at least a year.

- Meet for 30 minutes every week in month one, then every other week.
- Buddies answer the "silly" questions: where things are, who decides what, how we write.
- Nothing you say to your buddy goes to your manager.

Buddies are volunteers; sign up in the learning portal. After three months, many pairs move on to
the mentoring programme. Start with the [[New starter onboarding checklist]].
""",
        age_days=60,
    ),
    DemoArticle(
        "Code of conduct in a nutshell",
        "jonas",
        "tip",
        "culture onboarding",
        """The full code of conduct is in the handbook. The short version:

1. **Assume good intent**, and ask before you judge.
2. **Critique work, not people.** See [[Code review tips]] for how that sounds in practice.
3. **No question is stupid.** Answer the question that was asked, kindly.
4. **Report problems** to a moderator or to People. You can do it anonymously.

Moderators on forum (Jonas Lindqvist, Hannah Schulz) facilitate; they are not police.
""",
        age_days=120,
    ),
    DemoArticle(
        "Code review tips",
        "jonas",
        "tutorial",
        "code-review engineering",
        """Good reviews make the code better *and* the author more confident. These habits come
from the Thursday learning circle.

## As an author

- Keep pull requests under 400 changed lines; split refactors from behaviour changes.
- Write the description for a reviewer who missed every meeting: what, why, how to test.
- Review your own diff first. You will find the debug print.

## As a reviewer

- Start with the design, then the details. A typo comment on a PR that needs a rethink wastes
  everyone's time.
- Phrase comments as questions or suggestions: "What happens if `items` is empty?"
- Mark nits as nits (`nit:`) so the author can skip them.
- Approve when it is better than before, not when it is perfect.

## Database changes

Migrations need a second look: locking, backfills and rollbacks. Read
[[Reviewing database migrations]] before approving one.

## Response times

| PR size | First response within |
|:--------|----------------------:|
| small (< 50 lines) | 4 working hours |
| medium | 1 working day |
| large | ask the author to split it |
""",
        age_days=25,
        helpful=(
            ("tom", True, "The nit: convention changed how our team reviews."),
            ("diego", True, ""),
            ("priya", False, "Could say more about reviewing tests."),
        ),
    ),
    DemoArticle(
        "Reviewing database migrations",
        "amara",
        "tutorial",
        "postgresql migrations code-review",
        """Schema changes are where small mistakes become outages. Check these before you approve a
migration; background is in [[SQL basics for new engineers]].

## Will it lock a busy table?

Adding a column with a default is fast on PostgreSQL 11+. Adding an index is **not**, unless
it is built concurrently:

```sql
-- Blocks writes to orders for the whole build:
CREATE INDEX ix_orders_customer_id ON orders (customer_id);

-- Lets writes continue (must run outside a transaction):
CREATE INDEX CONCURRENTLY ix_orders_customer_id ON orders (customer_id);
```

## Is there a backfill?

Backfills of more than ~100k rows belong in a batched job, not in the migration:

```python
def backfill(session, batch=5_000):
    while True:
        ids = session.scalars(
            select(Order.id).where(Order.region.is_(None)).limit(batch)
        ).all()
        if not ids:
            break
        session.execute(update(Order).where(Order.id.in_(ids)).values(region="eu"))
        session.commit()
```

## Can it be rolled back?

Every migration needs a working `downgrade()`. Dropping a column loses data: deploy the code that
stops using it first, drop it one release later.

## Checklist

- [ ] No long lock on a hot table
- [ ] Backfill batched, outside the migration
- [ ] Downgrade tested locally
- [ ] Deploy order written in the PR (see [[Deploying on Fridays]])
""",
        age_days=15,
        helpful=(("priya", True, ""), ("mei", True, "CONCURRENTLY saved us last sprint.")),
    ),
    DemoArticle(
        "SQL basics for new engineers",
        "priya",
        "tutorial",
        "sql postgresql onboarding",
        """A hands-on tour of the SQL you will write in your first month, using the billing
schema. Run these against your local copy (see [[Laptop setup for engineers]]).

## Selecting and filtering

```sql
SELECT id, name, country
FROM customers
WHERE country = 'PT'
ORDER BY name
LIMIT 20;
```

## Joining

Every invoice belongs to a customer. An inner join keeps only customers with invoices:

```sql
SELECT c.name, i.number, i.total_cents / 100.0 AS total_eur
FROM customers AS c
JOIN invoices AS i ON i.customer_id = c.id
WHERE i.issued_at >= date_trunc('month', now());
```

A `LEFT JOIN` keeps every customer, with `NULL` where there is no invoice.

## Grouping

```sql
SELECT c.country, count(*) AS invoices, sum(i.total_cents) / 100.0 AS revenue
FROM invoices AS i
JOIN customers AS c ON c.id = i.customer_id
GROUP BY c.country
HAVING count(*) > 10
ORDER BY revenue DESC;
```

## Reading a query plan

Prefix a slow query with `EXPLAIN ANALYZE`. A `Seq Scan` on a large table in a query that
filters on one column usually means a missing index. Ask in `#data` before adding one: indexes
cost writes. Then read [[Reviewing database migrations]].

## Habits

- Never run `UPDATE` or `DELETE` on production without a `WHERE`, and never without a
  transaction you can roll back.
- Money is stored in cents as integers. Never in floats.
""",
        age_days=30,
        helpful=(("tom", True, "Exactly what I needed in week one."), ("sofia", True, "")),
    ),
    DemoArticle(
        "Laptop setup for engineers",
        "amara",
        "tutorial",
        "onboarding engineering tooling",
        """From unboxing to a running local stack in about an hour.

## Accounts first

Follow the [[New starter onboarding checklist]] until two-factor authentication is on.

## Tools

```bash
# Package manager, then the basics
brew install git python@3.12 postgresql@16 redis direnv
git config --global user.name "Your Name"
git config --global user.email "you@northwind.example"
```

## The monorepo

```bash
git clone git@git.northwind.example:platform/monorepo.git
cd monorepo
make bootstrap   # creates the virtualenv and a local database
make test        # should be green before you change anything
```

## When it fails

Ask in `#help-dev` with the exact error. Half of all setup problems are an old `PATH`.
""",
        age_days=220,
    ),
    DemoArticle(
        "Deploying on Fridays",
        "amara",
        "tip",
        "deploy ops on-call",
        """We *do* deploy on Fridays, with three rules:

1. Before 15:00 local time, so the author is around for two hours afterwards.
2. Nothing that needs a migration with a backfill (see [[Reviewing database migrations]]).
3. The on-call engineer knows (see [[On-call handbook]]).

Feature flags make most Friday deploys boring. Boring is the goal.
""",
        age_days=8,
    ),
    DemoArticle(
        "On-call handbook",
        "amara",
        "tutorial",
        "on-call ops incident",
        """Being on call at Northwind means one week, every six weeks, with a paid allowance.

## When the pager goes off

1. Acknowledge within 5 minutes.
2. Open an incident channel: `/incident new <short title>`.
3. Stabilise first, investigate later. Rolling back is always allowed.
4. Update the status page if customers notice (support will ask: see
   [[Support escalation guide]]).

## After the incident

Write a blameless review within five working days. Focus on what made the mistake easy, not on
who made it.

## Handover

| Item | Where |
|:-----|:------|
| Open incidents | incident board |
| Silenced alerts | alerting dashboard, "silences" |
| Anything odd | the handover note in `#on-call` |
""",
        age_days=200,
    ),
    DemoArticle(
        "Support escalation guide",
        "hannah",
        "tutorial",
        "support escalation customers",
        """When to escalate a ticket, to whom, and how to write it so nobody asks twice.

## Severity

| Severity | Example | Escalate to | Response |
|:---------|:--------|:------------|---------:|
| S1 | Customers cannot log in | on-call engineer | 15 min |
| S2 | Invoices wrong for one customer | billing team | 4 h |
| S3 | A report is slow | product backlog | next sprint |

## Writing the escalation

- **What the customer sees**, in their words, with a screenshot.
- **What you tried**, in order.
- **Account id and time** (with time zone).

## Billing questions

Refunds and credit notes follow the [[Refunds in five steps]] tip; escalate only when the
amount is over EUR 2,000.

Engineers on call use the [[On-call handbook]]; if you are unsure whether it is an S1, it is.
""",
        age_days=45,
        helpful=(("luis", True, ""), ("kwame", True, "The severity table is on my wall now.")),
    ),
    DemoArticle(
        "Refunds in five steps",
        "luis",
        "tip",
        "support billing refunds",
        """1. Check the invoice is paid (billing admin, "Payments" tab).
2. Confirm the reason with the customer in writing.
3. Issue a credit note, never edit the invoice.
4. Refund through the payment provider with the credit note number as reference.
5. Tag the ticket `refund` so finance can reconcile at month end.

Over EUR 2,000? Follow the [[Support escalation guide]].
""",
        age_days=300,
    ),
    DemoArticle(
        "Sales demo script",
        "sofia",
        "tutorial",
        "sales demo",
        """The 30-minute demo that wins mid-market deals. Kwame Mensah and I keep it current;
suggest changes by editing this article.

## Before the call (10 minutes)

- Read the CRM notes and the prospect's website: find one concrete pain.
- Log in to the **demo tenant**, never a customer's.
- Close everything else. Notifications during a demo look careless.

## The call

1. **Two minutes of them**: "What made you take this call?"
2. **Show the outcome first**: the monthly report their CFO wants.
3. **Then how they get there**, in three clicks.
4. **One technical deep dive**, chosen by them. Bring Kwame for security questions
   (see [[Answering security questionnaires]]).
5. **Agree the next step** before anyone leaves.

## After

Send the recording and a one-paragraph summary within two hours.
""",
        age_days=20,
        helpful=(("kwame", True, ""), ("hannah", True, "")),
    ),
    DemoArticle(
        "Answering security questionnaires",
        "kwame",
        "tip",
        "sales security",
        """Most questionnaires ask the same 80 questions. Start from the answer library in the
sales drive, then:

- Never promise a certification we do not have; "on the roadmap" needs product's written yes.
- Questions about data residency go to Amara's team.
- Send the finished questionnaire to `security@` for a second pair of eyes.

Use it together with the [[Sales demo script]] when a prospect's IT joins the call.
""",
        age_days=90,
    ),
    DemoArticle(
        "Writing accessible UI copy",
        "diego",
        "tip",
        "accessibility frontend writing",
        """Small wording habits that help everyone, not only screen-reader users:

- Buttons say what happens: **Save changes**, not **OK**.
- Links make sense out of context: "read the [[Code review tips]]", not "click here".
- Error messages say what to do next: "Use at least 10 characters."
- Never rely on colour alone; pair it with text or an icon.

Check with the keyboard only, then with VoiceOver or NVDA, before you ask for review.
""",
        age_days=12,
    ),
    DemoArticle(
        "dbt models: naming and testing",
        "mei",
        "tutorial",
        "dbt data analytics",
        """How we name, document and test models in the analytics warehouse.

## Naming

| Layer | Prefix | Example |
|:------|:-------|:--------|
| staging | `stg_` | `stg_billing__invoices` |
| intermediate | `int_` | `int_invoices_by_month` |
| marts | none | `revenue_monthly` |

## Tests every model needs

```yaml
models:
  - name: revenue_monthly
    columns:
      - name: month
        tests: [not_null, unique]
      - name: revenue_cents
        tests: [not_null]
```

## Performance

Incremental models for anything over a million rows. Check the SQL it generates the way
[[SQL basics for new engineers]] shows for hand-written queries.
""",
        age_days=70,
    ),
    DemoArticle(
        "Using your learning budget",
        "olivia",
        "tip",
        "learning hr",
        """Everyone has EUR 1,000 a year for learning: books, courses, conferences.

- Books and online courses: buy them and expense them, no approval needed.
- Conferences: ask your manager first (travel comes from the team budget).
- Share what you learned: a tip on forum counts as your "learning receipt".

Questions go to Olivia Brown. New here? The budget starts on day one: see the
[[New starter onboarding checklist]].
""",
        age_days=400,
    ),
    DemoArticle(
        "Running a learning circle",
        "jonas",
        "tip",
        "learning mentoring",
        """A learning circle is 4–8 colleagues meeting weekly for six weeks around one topic.

- Pick a facilitator, not a teacher: the circle learns together.
- Fix the slot and keep it to 45 minutes.
- Each session ends with one thing everyone will try before the next one.

Our Thursday circle on reviews produced the [[Code review tips]]. Ask Olivia for a room and
snacks; see [[Using your learning budget]] for books.
""",
        age_days=35,
    ),
]


def load_articles(session: Session, *, progress: Callable[[str], None] = lambda _msg: None) -> int:
    """Stage the demo articles whose titles do not exist yet; returns how many were created."""
    people = {u.username: u for u in session.scalars(select(User))}
    existing = {t.lower() for t in session.scalars(select(Article.title)) if t}
    created = 0
    now = utcnow()
    for item in ARTICLES:
        author = people.get(item.author)
        if author is None or item.title.lower() in existing:
            continue
        article = articles.create_article(
            session,
            author=author,
            data=articles.ArticleData(
                title=item.title,
                body_md=item.body,
                tags_text=item.tags,
                article_type=item.article_type,
            ),
            now=now - dt.timedelta(days=item.age_days, hours=created),
        )
        for username, helpful, comment in item.helpful:
            reader = people.get(username)
            if reader is not None and reader.id != author.id:
                articles.set_feedback(
                    session, article, member=reader, helpful=helpful, comment=comment
                )
        created += 1
    progress(f"{created} articles")
    return created
