"""A small workspace for the journey audience tests: contacts, events and the cohorts the
seed's examples name (`trial`, `active`, `churned`, `suppressed`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from tests.conftest import AS_OF, IngestFn


def ago(days: float) -> str:
    return (AS_OF - dt.timedelta(days=days)).isoformat().replace("+00:00", "Z")


CONTACTS: list[dict[str, Any]] = [
    {"id": "u1", "tier": "pro", "is_admin": False, "country": "US", "score": 42},
    {"id": "u2", "tier": "free", "is_admin": True, "country": "DE", "score": 7},
    {"id": "u3", "tier": "free", "is_admin": False, "country": "FR"},
    {"id": "u4", "tier": "pro", "country": "US", "score": 99, "tags": ["vip"]},
    {"id": "u5", "tier": "enterprise", "is_admin": False},
    {"id": "u6", "is_admin": "true"},
]
EVENTS: list[dict[str, Any]] = [
    {"userId": "u1", "name": "feature.used", "ts": ago(2)},
    {"userId": "u1", "name": "checkout_started", "ts": ago(1)},
    {"userId": "u2", "name": "feature.used", "ts": ago(6.9)},
    {"userId": "u2", "name": "subscription.upgraded", "ts": ago(40)},
    {"userId": "u3", "name": "feature.used", "ts": ago(8)},
    {"userId": "u4", "name": "feature.used", "ts": ago(0.5)},
    {"userId": "u4", "name": "checkout_started", "ts": ago(3)},
    {"userId": "u4", "name": "checkout_started", "ts": ago(6)},
    {"userId": "u5", "name": "session_started", "ts": ago(1)},
    # After asOf: never counted at asOf, so pinned answers do not change.
    {"userId": "u3", "name": "feature.used", "ts": (AS_OF + dt.timedelta(hours=1)).isoformat()},
    # A user who is not a contact is never a subject.
    {"userId": "ghost", "name": "feature.used", "ts": ago(1)},
]
COHORTS: list[dict[str, Any]] = [
    {"id": "trial", "name": "Trial", "subjectIds": ["u1", "u2", "u3"]},
    {"id": "churned", "name": "Churned", "subjectIds": ["u4"]},
    {"id": "suppressed", "name": "Suppressed", "subjectIds": ["u5", "ghost"]},
    {
        "id": "active",
        "name": "Active",
        "predicate": {
            "kind": "or",
            "clauses": [
                {
                    "kind": "event_fired",
                    "eventName": "feature.used",
                    "window": {"type": "last_n_days", "days": 7},
                },
                {
                    "kind": "event_fired",
                    "eventName": "session_started",
                    "window": {"type": "last_n_days", "days": 7},
                },
            ],
        },
    },
]


@pytest.fixture
async def workspace(client: httpx.AsyncClient, ingest: IngestFn) -> httpx.AsyncClient:
    """`client` (org acme) with the contacts, events and cohorts above stored."""
    await ingest(client, CONTACTS, EVENTS)
    for cohort in COHORTS:
        r = await client.post("/api/cohorts", json=cohort)
        assert r.status_code == 201, r.text
    return client
