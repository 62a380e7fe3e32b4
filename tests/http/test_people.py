"""Who knows about a topic: evidence in matching content and per-tag reputation."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from forum.models import ReputationEvent
from tests.factories import make_user, search_answer, search_question
from tests.unit.test_search_backends import (  # noqa: F401 - fixtures
    _close_search_backends,
    app_config,
    database_url,
    search_setup,
)


def test_per_tag_reputation_outranks_incidental_matches(
    client: FlaskClient, session: Session
) -> None:
    asker = make_user(session, "asker")
    kai = make_user(session, "kai", display_name="Kai Lindqvist")
    lee = make_user(session, "lee", display_name="Lee Parsons")
    # Lee mentions the word often, in a thread about something else.
    bread = search_question(session, asker, "Sourdough starter", "Flat bread.", tags=("baking",))
    session.commit()
    search_answer(
        session, bread, lee, "Kubernetes taught me patience; kubernetes, like kubernetes, waits."
    )
    # Kai answers kubernetes questions, and colleagues' votes there made their reputation.
    rollout = search_question(
        session, asker, "Rollout stuck halfway", "Pods pending.", tags=("kubernetes",)
    )
    session.commit()
    answer = search_answer(session, rollout, kai, "Check the pod disruption budget.")
    session.add_all(
        ReputationEvent(
            user_id=kai.id, delta=10, reason="upvote", account="votes", post_id=answer.id
        )
        for _ in range(6)
    )
    session.commit()

    body = client.get("/people?q=kubernetes").get_data(as_text=True)
    assert "Kai Lindqvist" in body and "Lee Parsons" in body
    assert body.index("Kai Lindqvist") < body.index("Lee Parsons")
    assert "60 reputation in these tags" in body
    card = body.split("Kai Lindqvist", 1)[1].split("</li>", 1)[0]
    assert ">kubernetes</a>" in card  # the top tags shown with the member

    # With the tag named explicitly, the same evidence counts.
    tagged = client.get("/people?q=tag%3Akubernetes").get_data(as_text=True)
    assert "Kai Lindqvist" in tagged and "Lee Parsons" not in tagged


def test_reputation_in_other_tags_does_not_count(client: FlaskClient, session: Session) -> None:
    asker = make_user(session, "asker")
    kai = make_user(session, "kai", display_name="Kai Lindqvist")
    lee = make_user(session, "lee", display_name="Lee Parsons")
    cooking = search_question(session, asker, "Knife care", "Dull.", tags=("cooking",))
    vpn = search_question(session, asker, "Office proxy refuses", "Why?", tags=("network",))
    session.commit()
    famous = search_answer(session, cooking, kai, "Hone it weekly.")
    search_answer(session, vpn, kai, "The proxy wants the network certificate.")
    search_answer(session, vpn, lee, "Proxy settings: the network proxy needs a proxy pass.")
    session.add(
        ReputationEvent(
            user_id=kai.id, delta=500, reason="upvote", account="votes", post_id=famous.id
        )
    )
    session.commit()
    body = client.get("/people?q=proxy").get_data(as_text=True)
    assert "Kai Lindqvist" in body and "Lee Parsons" in body
    assert body.index("Lee Parsons") < body.index("Kai Lindqvist")
    assert "reputation in" not in body
