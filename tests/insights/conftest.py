"""Fixtures for insights and overlap: a test `AudienceSource` that defines audiences by a
contact filter (so these tests do not depend on how segments are stored), and a generator
of varied, deterministic people and events with the matching Python-side facts."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from audiences.db import Database
from audiences.segments.resolve import ResolvedAudience, register_audience_source
from audiences.tenancy import TenantScope
from tests.conftest import AS_OF

Contact = dict[str, Any]
Event = dict[str, Any]


@dataclass(repr=False)
class FixtureAudiences:
    """Audiences known only to the tests: `(org, id) -> (contact filter, Python predicate)`.
    The predicate is the same rule written independently, for checking answers."""

    audiences: dict[tuple[str, str], ResolvedAudience] = field(default_factory=dict)
    predicates: dict[tuple[str, str], Callable[[Contact], bool]] = field(default_factory=dict)
    resolved_at: list[dt.datetime] = field(default_factory=list)

    def define(
        self,
        audience_id: str,
        contact_filter: dict[str, Any],
        predicate: Callable[[Contact], bool],
        *,
        org: str = "acme",
        kind: str = "dynamic",
    ) -> str:
        self.audiences[(org, audience_id)] = ResolvedAudience(
            id=audience_id,
            name=f"Test audience {audience_id}",
            kind=kind,
            contact_filter=contact_filter,
            definition={"filter": contact_filter},
        )
        self.predicates[(org, audience_id)] = predicate
        return audience_id

    def members(self, audience_id: str, contacts: list[Contact], *, org: str = "acme") -> set[str]:
        keep = self.predicates[(org, audience_id)]
        return {c["id"] for c in contacts if keep(c)}

    async def resolve(
        self, *, db: Database, scope: TenantScope, audience_id: str, as_of: dt.datetime, timeout_ms: int
    ) -> ResolvedAudience | None:
        found = self.audiences.get((scope.org_id, audience_id))
        if found is not None:
            self.resolved_at.append(as_of)
        return found

    def clear(self) -> None:
        self.audiences.clear()
        self.predicates.clear()
        self.resolved_at.clear()


FIXTURE_SOURCE = FixtureAudiences()
register_audience_source(FIXTURE_SOURCE)


@pytest.fixture
def audiences() -> Iterator[FixtureAudiences]:
    yield FIXTURE_SOURCE
    FIXTURE_SOURCE.clear()


CITIES = [f"City {chr(ord('A') + i)}" for i in range(14)]
COUNTRIES = ["DE", "FR", "US", "GB"]
EVENT_NAMES = [f"event_{i:02d}" for i in range(12)]


def _instant(days_ago: float) -> str:
    return (AS_OF - dt.timedelta(days=days_ago)).isoformat()


def make_people(n: int, *, seed: int = 1, prefix: str = "p") -> list[Contact]:
    """`n` contacts with every insights field present, missing or null in varied mixes."""
    rnd = random.Random(seed)
    people: list[Contact] = []
    for i in range(n):
        person: Contact = {"id": f"{prefix}{i:04d}", "tier": rnd.choice(["free", "pro", "enterprise"])}
        if rnd.random() < 0.85:
            person["country"] = rnd.choice(COUNTRIES)
        if rnd.random() < 0.9:
            # Skewed so that the top 10 of 14 cities is well defined most of the time.
            person["city"] = CITIES[min(int(rnd.expovariate(0.25)), len(CITIES) - 1)]
        if rnd.random() < 0.8:
            person["gender"] = rnd.choice(["female", "male", "Female", "non-binary"])
        lang = rnd.random()
        if lang < 0.5:
            person["language"] = rnd.choice(["en", "de", "EN-gb", "fr_FR"])
        elif lang < 0.7:
            person["locale"] = rnd.choice(["pt-BR", "de_AT", "es"])
        if rnd.random() < 0.85:
            born = AS_OF.date() - dt.timedelta(days=rnd.randint(10 * 365, 85 * 365))
            person["birthDate"] = born.isoformat()
        opened = rnd.random()
        if opened < 0.75:
            person["lastEmailOpenedAt"] = _instant(rnd.uniform(0, 150))
        elif opened < 0.85:
            person["lastEmailOpenedAt"] = None
        if rnd.random() < 0.9:
            person["lastSeenAt"] = _instant(rnd.uniform(0, 70))
        if rnd.random() < 0.5:
            person["tags"] = ["vip"]
        people.append(person)
    return people


def make_events(people: list[Contact], *, seed: int = 2, per_person: int = 4) -> list[Event]:
    """Events of these people (and of a few unknown users) over the 45 days before AS_OF and
    a few after it, which an `asOf` answer must not see."""
    rnd = random.Random(seed)
    users = [p["id"] for p in people] + ["ghost-1", "ghost-2"]
    events: list[Event] = []
    for n in range(len(people) * per_person):
        events.append(
            {
                "eventId": f"e{seed}-{n}",
                "userId": rnd.choice(users),
                "name": EVENT_NAMES[min(int(rnd.expovariate(0.3)), len(EVENT_NAMES) - 1)],
                "ts": _instant(rnd.uniform(-3, 45)),
            }
        )
    return events
