"""Fixed-seed benchmark data: members, questions with answers, comments, votes and tags,
articles (tips and long tutorials with code) and followed tags.

Rows are written through the models' tables in large batches (the services would render and
index one post at a time, which takes hours at 100k posts); counters are computed so every
score equals the sum of its votes and every count matches its rows. Run
``forum search rebuild`` afterwards (bench/run_bench.py does).

    python bench/generate.py --database-url sqlite:///bench.db --posts 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from forum.markdown import WikiTarget, render_markdown, wiki_key  # noqa: E402
from forum.models import (  # noqa: E402
    ArticleLink,
    Comment,
    Post,
    Revision,
    Tag,
    TagFollow,
    User,
    Vote,
    post_tags,
)
from forum.services.tags import tag_counts_statement  # noqa: E402

SEED = 20261125
BATCH = 2000
#: The password of every generated member (the load test logs in with it).
PASSWORD = "bench password 2026"
#: Cheaper than production scrypt so 50 simulated members can log in quickly.
HASH_METHOD = "scrypt:16384:8:1"
#: The member run_bench.py logs in as; it follows FOLLOWED_TAGS (the "my tags" list).
BENCH_MEMBER = "member1"
FOLLOWED_TAGS = ("python", "docker", "sqlite")
#: One thread as issue #24 names it: a question with this many answers and comments (the
#: comments spread over the question and its answers).
BIG_THREAD_ANSWERS = 20
BIG_THREAD_COMMENTS = 50
#: The article every wiki link of the tutorials points at.
WIKI_TARGET = "SQL basics"
#: Words of each long tutorial (bench/render_bench.py's generator).
TUTORIAL_WORDS = 2000

TOPICS = [
    "python",
    "postgresql",
    "sqlite",
    "flask",
    "docker",
    "kubernetes",
    "git",
    "linux",
    "vpn",
    "onboarding",
    "security",
    "testing",
    "ci",
    "redis",
    "nginx",
    "gunicorn",
    "sqlalchemy",
    "alembic",
    "jinja",
    "css",
    "javascript",
    "typescript",
    "react",
    "excel",
    "salesforce",
    "jira",
    "confluence",
    "payroll",
    "expenses",
    "travel",
    "hr",
    "benefits",
    "laptops",
    "printing",
    "wifi",
    "sso",
    "okta",
    "aws",
    "azure",
    "gcp",
    "terraform",
    "ansible",
    "monitoring",
    "prometheus",
    "grafana",
    "logging",
    "backups",
    "networking",
    "dns",
    "email",
]
WORDS = (
    "deploy build cache index query schema migration worker timeout retry token session "
    "cookie header proxy certificate password account report invoice budget meeting laptop "
    "printer network release branch merge review ticket incident alert metric dashboard "
    "backup restore replica latency throughput memory disk queue scheduler cron error"
).split()
BODIES = [
    "I tried `{w1}` with the **{w2}** settings but it fails after a {w3}.\n\n"
    "```python\nresult = client.{w1}(retries=3)\nprint(result)\n```\n\n"
    "What am I missing? The docs mention {w4} but not how.",
    "When I open the {w1} page I get an error about {w2}.\n\n"
    "- checked the {w3}\n- restarted the {w4}\n\nAny ideas?",
    "Is there a recommended way to handle {w1} and {w2} together? Our team keeps "
    "asking about the {w3} and I could not find a page on the wiki about {w4}.",
]
ANSWERS = [
    "Set the {w1} explicitly:\n\n```sh\nexport FORUM_{W2}=1\n```\n\nThen the {w3} works.",
    "This is a known issue with {w1}; see the {w2} runbook. In short: clear the {w3} first.",
    "We solved it by moving the {w1} behind the {w2}. It took one {w3} to roll out.",
]


@dataclass
class Summary:
    """Rows written per table and the time taken."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        """One line for the console."""
        parts = ", ".join(f"{n} {t}" for t, n in self.rows.items())
        return f"{parts} in {self.seconds:.1f} s"


def _batched(rows: Iterable[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _fill(text: str, rng: random.Random) -> str:
    w = rng.sample(WORDS, 4)
    return text.format(w1=w[0], w2=w[1], w3=w[2], w4=w[3], W2=w[1].upper())


def _articles(
    rng: random.Random, count: int, first_id: int, members: int, now: dt.datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` article rows from ``first_id`` on, and their wiki links' rows.

    The first is a short tip titled ``WIKI_TARGET``; every third of the others is a long
    tutorial (bench/render_bench.py's ``tutorial()``, about ``TUTORIAL_WORDS`` words with
    Python and SQL code, a table and wiki links to the tip), rendered as the knowledge base
    renders tutorials (``render_markdown`` with a table of contents and the wiki links
    resolved); the rest are tips. Tutorials come from a pool of a few rendered texts.
    """
    from render_bench import tutorial

    def resolve(title: str) -> WikiTarget:
        if wiki_key(title) == wiki_key(WIKI_TARGET):
            return WikiTarget("/articles/sql-basics", True)
        return WikiTarget("/articles/new?title=" + title.replace(" ", "%20"), False)

    tutorials = []
    for seed in range(4):
        text = tutorial(TUTORIAL_WORDS, seed=7 + seed)
        tutorials.append((text, render_markdown(text, wiki_resolver=resolve, toc=True)))
    tips = [
        (text, render_markdown(text)) for text in (_fill(rng.choice(BODIES), rng) for _ in range(8))
    ]
    rows: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for n in range(count):
        aid = first_id + n
        created = now - dt.timedelta(days=count - n, hours=3)
        if n == 0:
            title, kind = WIKI_TARGET, "tip"
            text = "Start with `SELECT` and `JOIN`.\n\n```sql\nSELECT 1;\n```\n"
            html = render_markdown(text)
        elif n % 3 == 1:
            title, kind = f"Working with the billing warehouse, part {n // 3 + 1}", "tutorial"
            text, html = tutorials[(n // 3) % len(tutorials)]
            links.append(
                {"source_id": aid, "target_key": wiki_key(WIKI_TARGET), "target_id": first_id}
            )
        else:
            title = f"Tip: {rng.choice(WORDS)} the {rng.choice(WORDS)} ({rng.choice(TOPICS)}) #{n}"
            kind = "tip"
            text, html = rng.choice(tips)
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        rows.append(
            {
                "id": aid,
                "kind": "article",
                "title": title,
                "slug": slug if n == 0 else f"{slug}-{aid}",
                "article_type": kind,
                "body_md": text,
                "body_html": html,
                "author_id": rng.randint(1, members),
                "owner_id": None,
                "created_at": created,
                "updated_at": created,
                "last_activity_at": created,
                "review_by": created + dt.timedelta(days=365),
                "revision_count": 1,
                "view_count": rng.randint(0, 500),
            }
        )
        rows[-1]["owner_id"] = rows[-1]["author_id"]
    return rows, links


def generate(
    engine: Engine,
    *,
    members: int = 1000,
    posts: int = 100_000,
    seed: int = SEED,
    progress: Any = print,
    now: dt.datetime | None = None,
    articles: int | None = None,
) -> Summary:
    """Fill an empty database: ``members`` members, about ``posts`` posts (a third questions),
    plus ``articles`` articles (default: one per 500 posts, at least 10).

    Dates run back from ``now`` (default: today, midnight UTC), so the "top this week" and
    "top this month" lists have questions. One question (the middle one) has
    ``BIG_THREAD_ANSWERS`` answers and ``BIG_THREAD_COMMENTS`` comments.
    """
    from forum.services.passwords import hash_password

    rng = random.Random(seed)
    started = time.monotonic()
    summary = Summary()
    if now is None:
        now = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    n_articles = max(10, posts // 500) if articles is None else articles
    password_hash = hash_password(PASSWORD, HASH_METHOD)
    questions = max(1, posts // 3)

    with engine.begin() as conn:
        if conn.scalar(select(func.count()).select_from(User)):
            raise SystemExit("The database already has members; generate into an empty one.")

        def write(table: Table, rows: Iterable[dict[str, Any]]) -> int:
            count = 0
            for batch in _batched(rows):
                conn.execute(insert(table), batch)
                count += len(batch)
            summary.rows[table.name] = summary.rows.get(table.name, 0) + count
            return count

        write(
            User.__table__,
            (
                {
                    "id": i,
                    "username": f"member{i}",
                    "email": f"member{i}@bench.example",
                    "display_name": f"Member {i}",
                    "password_hash": password_hash,
                    "auth_token": f"bench-token-{i:08d}",
                    "department": rng.choice(["Engineering", "Sales", "Support", "HR", "Finance"]),
                    "created_at": now - dt.timedelta(days=rng.randint(30, 900)),
                    "reputation": 0,
                }
                for i in range(1, members + 1)
            ),
        )
        progress(f"  {members} members")
        write(Tag.__table__, ({"id": i + 1, "name": t} for i, t in enumerate(TOPICS)))
        tag_id_of = {t: i + 1 for i, t in enumerate(TOPICS)}
        follows = [{"user_id": 1, "tag_id": tag_id_of[t], "created_at": now} for t in FOLLOWED_TAGS]
        for member in range(10, members + 1, 10):
            for tag_id in rng.sample(range(1, len(TOPICS) + 1), rng.randint(1, 5)):
                follows.append({"user_id": member, "tag_id": tag_id, "created_at": now})
        write(TagFollow.__table__, follows)

        # A pool of rendered bodies: rendering each post's Markdown would dominate the run.
        pools = {
            id(templates): [
                (text, render_markdown(text))
                for text in (_fill(rng.choice(templates), rng) for _ in range(40))
            ]
            for templates in (BODIES, ANSWERS)
        }

        def body(templates: list[str]) -> tuple[str, str]:
            return rng.choice(pools[id(templates)])

        post_rows: list[dict[str, Any]] = []
        tag_rows: list[dict[str, Any]] = []
        answers_of: dict[int, list[int]] = {}
        next_id = 1
        answers_left = posts - questions
        big_thread = questions // 2
        big_thread_id = 0
        for q in range(questions):
            qid = next_id
            next_id += 1
            created = now - dt.timedelta(minutes=(questions - q) * 7)
            text, html = body(BODIES)
            author = rng.randint(1, members)
            post_rows.append(
                {
                    "id": qid,
                    "kind": "question",
                    "title": f"How do I {rng.choice(WORDS)} the {rng.choice(WORDS)} "
                    f"for {rng.choice(TOPICS)}? (#{q + 1})",
                    "body_md": text,
                    "body_html": html,
                    "author_id": author,
                    "created_at": created,
                    "updated_at": created,
                    "last_activity_at": created,
                    "revision_count": 1,
                    "view_count": rng.randint(0, 500),
                }
            )
            for tag_id in rng.sample(range(1, len(TOPICS) + 1), rng.randint(1, 4)):
                tag_rows.append({"post_id": qid, "tag_id": tag_id})
            # Answers: 0-4 each, about two on average, until the target number of posts.
            n_answers = min(answers_left, rng.choice([0, 1, 2, 2, 3, 4]))
            if q == big_thread:
                n_answers, big_thread_id = BIG_THREAD_ANSWERS, qid
            answers_left = max(0, answers_left - n_answers)
            answers_of[qid] = []
            for a in range(n_answers):
                aid = next_id
                next_id += 1
                text, html = body(ANSWERS)
                answered = created + dt.timedelta(minutes=5 + a * 11)
                post_rows.append(
                    {
                        "id": aid,
                        "kind": "answer",
                        "title": None,
                        "body_md": text,
                        "body_html": html,
                        "author_id": rng.randint(1, members),
                        "parent_id": qid,
                        "created_at": answered,
                        "updated_at": answered,
                        "last_activity_at": answered,
                        "revision_count": 1,
                        "view_count": 0,
                    }
                )
                answers_of[qid].append(aid)
        article_rows, link_rows = _articles(rng, n_articles, next_id, members, now)
        post_rows += article_rows
        for row in article_rows:
            for tag_id in rng.sample(range(1, len(TOPICS) + 1), rng.randint(1, 3)):
                tag_rows.append({"post_id": row["id"], "tag_id": tag_id})
        by_id = {row["id"]: row for row in post_rows}

        # Votes: distinct (member, post) pairs; nobody votes on their own post.
        vote_rows: list[dict[str, Any]] = []
        for row in post_rows:
            voters = rng.sample(range(1, members + 1), min(members, rng.choice([0, 0, 1, 2, 3, 5])))
            for voter in voters:
                if voter == row["author_id"]:
                    continue
                value = 1 if rng.random() < 0.85 else -1
                vote_rows.append(
                    {"user_id": voter, "post_id": row["id"], "value": value, "created_at": now}
                )
        score: dict[int, int] = {}
        for vote in vote_rows:
            score[vote["post_id"]] = score.get(vote["post_id"], 0) + vote["value"]

        comment_rows: list[dict[str, Any]] = []
        comment_count: dict[int, int] = {}
        comment_html = render_markdown("Thanks, that helped. Did you also check the logs?")
        big = {big_thread_id: BIG_THREAD_COMMENTS - 2 * BIG_THREAD_ANSWERS}
        big.update({aid: 2 for aid in answers_of.get(big_thread_id, [])})
        for row in post_rows:
            for _ in range(big.get(row["id"]) or rng.choice([0, 0, 0, 1, 1, 2])):
                comment_rows.append(
                    {
                        "post_id": row["id"],
                        "author_id": rng.randint(1, members),
                        "body_md": "Thanks, that helped. Did you also check the logs?",
                        "body_html": comment_html,
                        "created_at": row["created_at"] + dt.timedelta(hours=1),
                        "updated_at": row["created_at"] + dt.timedelta(hours=1),
                    }
                )
                comment_count[row["id"]] = comment_count.get(row["id"], 0) + 1

        for qid, answer_ids in answers_of.items():
            question = by_id[qid]
            question["answer_count"] = len(answer_ids)
            if answer_ids and rng.random() < 0.4:
                question["accepted_answer_id"] = rng.choice(answer_ids)
            if answer_ids:
                question["last_activity_at"] = by_id[answer_ids[-1]]["created_at"]
        for row in post_rows:
            row.setdefault("answer_count", 0)
            row.setdefault("accepted_answer_id", None)
            row.setdefault("parent_id", None)
            for key in ("slug", "article_type", "owner_id", "review_by"):
                row.setdefault(key, None)
            row["score"] = score.get(row["id"], 0)
            row["comment_count"] = comment_count.get(row["id"], 0)

        # Questions point at their accepted answer, a later row: insert without, then set.
        accepted = [
            {"pid": r["id"], "aid": r["accepted_answer_id"]}
            for r in post_rows
            if r["accepted_answer_id"]
        ]
        write(Post.__table__, ({**r, "accepted_answer_id": None} for r in post_rows))
        progress(f"  {len(post_rows)} posts")
        from sqlalchemy import bindparam, update

        posts_table = Post.__table__
        for batch in _batched(accepted):
            conn.execute(
                update(posts_table)
                .where(posts_table.c.id == bindparam("pid"))
                .values(accepted_answer_id=bindparam("aid"), updated_at=posts_table.c.updated_at),
                batch,
            )
        write(post_tags, tag_rows)
        # The tags' stored counts, as the app keeps them.
        conn.execute(tag_counts_statement())
        write(
            Revision.__table__,
            (
                {
                    "post_id": r["id"],
                    "number": 1,
                    "title": r["title"],
                    "body_md": r["body_md"],
                    "tags_text": "",
                    "editor_id": r["author_id"],
                    "summary": {"question": "Asked", "answer": "Answered"}.get(
                        r["kind"], "Created"
                    ),
                    "created_at": r["created_at"],
                }
                for r in post_rows
            ),
        )
        write(Vote.__table__, vote_rows)
        progress(f"  {len(vote_rows)} votes")
        write(Comment.__table__, comment_rows)
        write(ArticleLink.__table__, link_rows)
        progress(f"  {len(article_rows)} articles")
        if conn.dialect.name == "postgresql":
            from forum.backup import _reset_sequences

            _reset_sequences(conn, [User.__table__, Tag.__table__, Post.__table__])
    summary.seconds = time.monotonic() - started
    return summary


def main(argv: list[str] | None = None) -> None:
    """Migrate the database and fill it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    import os

    from forum import create_app, migrate
    from forum.db import get_engine

    os.environ["FORUM_DATABASE_URL"] = args.database_url
    app = create_app()
    migrate.upgrade(app)
    summary = generate(get_engine(app), members=args.members, posts=args.posts, seed=args.seed)
    print(f"Generated {summary.line()}.")
    get_engine(app).dispose()


if __name__ == "__main__":
    main()
