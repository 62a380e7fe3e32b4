"""The people of Northwind Labs, a 300-person software company, who use forum."""

from __future__ import annotations

from dataclasses import dataclass

from forum.models import Role


@dataclass(frozen=True)
class Person:
    """A demo member."""

    username: str
    display_name: str
    department: str
    job_title: str
    bio: str
    role: Role = Role.MEMBER
    #: How long ago they joined forum ("member since"), before anything they wrote.
    joined_days_ago: int = 365


PEOPLE: list[Person] = [
    Person(
        "amara",
        "Amara Okafor",
        "Engineering",
        "Staff Engineer, Platform",
        "Runs the platform team. Ask me about PostgreSQL, deploys and on-call.",
        Role.ADMIN,
        joined_days_ago=1460,
    ),
    Person(
        "jonas",
        "Jonas Lindqvist",
        "Engineering",
        "Engineering Manager",
        "Moderates forum and hosts the Thursday learning circle on code review.",
        Role.MODERATOR,
        joined_days_ago=1100,
    ),
    Person(
        "priya",
        "Priya Raman",
        "Engineering",
        "Senior Backend Engineer",
        "Python, SQL performance and the billing service. Happy to pair.",
        joined_days_ago=820,
    ),
    Person(
        "diego",
        "Diego Fernández",
        "Engineering",
        "Frontend Engineer",
        "Accessibility, CSS and design systems. I review most UI pull requests.",
        joined_days_ago=540,
    ),
    Person(
        "mei",
        "Mei Chen",
        "Engineering",
        "Data Engineer",
        "Pipelines, dbt and the analytics warehouse.",
        joined_days_ago=610,
    ),
    Person(
        "tom",
        "Tom Becker",
        "Engineering",
        "Junior Developer",
        "Joined this autumn. Learning Kubernetes and our deploy tooling.",
        joined_days_ago=75,
    ),
    Person(
        "sofia",
        "Sofia Rossi",
        "Sales",
        "Account Executive",
        "Mid-market deals in southern Europe; I keep the demo script current.",
        joined_days_ago=700,
    ),
    Person(
        "kwame",
        "Kwame Mensah",
        "Sales",
        "Sales Engineer",
        "Technical demos, proofs of concept and security questionnaires.",
        joined_days_ago=480,
    ),
    Person(
        "hannah",
        "Hannah Schulz",
        "Support",
        "Support Team Lead",
        "Escalations, the support handbook and the on-call rota for customers.",
        Role.MODERATOR,
        joined_days_ago=990,
    ),
    Person(
        "luis",
        "Luis Martins",
        "Support",
        "Customer Support Specialist",
        "Billing questions and the refunds process.",
        joined_days_ago=430,
    ),
    Person(
        "grace",
        "Grace Kim",
        "HR",
        "People Partner",
        "Onboarding, the buddy programme and learning budgets.",
        joined_days_ago=760,
    ),
    Person(
        "olivia",
        "Olivia Brown",
        "HR",
        "Learning & Development Lead",
        "Runs learning paths and the mentoring programme.",
        joined_days_ago=890,
    ),
]
