"""Access settings are read strictly: an unknown registration mode stops the app from starting."""

from __future__ import annotations

from pathlib import Path

import pytest

from forum import create_app
from forum.config import email_domains
from forum.services.access import email_domain_allowed


def test_allowed_domains_are_read_from_a_comma_separated_value() -> None:
    assert email_domains(" Northwind.Example, @corp.example ,,northwind.example") == (
        "northwind.example",
        "corp.example",
    )
    assert email_domains(None) == ()


def test_a_domain_must_match_exactly() -> None:
    domains = ("northwind.example",)
    assert email_domain_allowed("ann@NorthWind.example", domains)
    assert not email_domain_allowed("ann@eu.northwind.example", domains)
    assert not email_domain_allowed("ann@northwind.example.org", domains)
    assert not email_domain_allowed("northwind.example", ())


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"REGISTRATION": "everyone"}, "FORUM_REGISTRATION must be one of"),
        ({"REGISTRATION": "domain"}, "needs FORUM_ALLOWED_EMAIL_DOMAINS"),
    ],
)
def test_bad_access_settings_stop_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(tmp_path / "instance"))
    config = {"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}", **settings}
    with pytest.raises(ValueError, match=message):
        create_app(config)


def test_members_only_and_open_registration_are_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORUM_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}"})
    assert app.config["PUBLIC_READ"] is False
    assert app.config["REGISTRATION"] == "open"
    assert app.config["REQUIRE_EMAIL_VERIFICATION"] is True
