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


PEOPLE: list[Person] = [
    Person(
        "amara",
        "Amara Okafor",
        "Engineering",
        "Staff Engineer, Platform",
        "Runs the platform team. Ask me about PostgreSQL, deploys and on-call.",
        Role.ADMIN,
    ),
    Person(
        "jonas",
        "Jonas Lindqvist",
        "Engineering",
        "Engineering Manager",
        "Moderates forum and hosts the Thursday learning circle on code review.",
        Role.MODERATOR,
    ),
    Person(
        "priya",
        "Priya Raman",
        "Engineering",
        "Senior Backend Engineer",
        "Python, SQL performance and the billing service. Happy to pair.",
    ),
    Person(
        "diego",
        "Diego Fernández",
        "Engineering",
        "Frontend Engineer",
        "Accessibility, CSS and design systems. I review most UI pull requests.",
    ),
    Person(
        "mei",
        "Mei Chen",
        "Engineering",
        "Data Engineer",
        "Pipelines, dbt and the analytics warehouse.",
    ),
    Person(
        "tom",
        "Tom Becker",
        "Engineering",
        "Junior Developer",
        "Joined this autumn. Learning Kubernetes and our deploy tooling.",
    ),
    Person(
        "sofia",
        "Sofia Rossi",
        "Sales",
        "Account Executive",
        "Mid-market deals in southern Europe; I keep the demo script current.",
    ),
    Person(
        "kwame",
        "Kwame Mensah",
        "Sales",
        "Sales Engineer",
        "Technical demos, proofs of concept and security questionnaires.",
    ),
    Person(
        "hannah",
        "Hannah Schulz",
        "Support",
        "Support Team Lead",
        "Escalations, the support handbook and the on-call rota for customers.",
        Role.MODERATOR,
    ),
    Person(
        "luis",
        "Luis Martins",
        "Support",
        "Customer Support Specialist",
        "Billing questions and the refunds process.",
    ),
    Person(
        "grace",
        "Grace Kim",
        "HR",
        "People Partner",
        "Onboarding, the buddy programme and learning budgets.",
    ),
    Person(
        "olivia",
        "Olivia Brown",
        "HR",
        "Learning & Development Lead",
        "Runs learning paths and the mentoring programme.",
    ),
]
