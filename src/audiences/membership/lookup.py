"""Which audiences one contact is in at an instant (reports, support), computed live.

Every definition of every registered kind is evaluated for the contact with the kind's
in-memory evaluator — the same evaluator ingest triggers use — so the answer never waits
for tracking to catch up. `since` comes from the tracked state when tracking agrees that
the contact is a member, and is null otherwise (never tracked, or not yet caught up).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from audiences.contacts.service import get_contact
from audiences.db import Database
from audiences.errors import NotFound
from audiences.membership.adapters import registered_adapters
from audiences.membership.model import AudienceKind
from audiences.membership.service import subject_memberships
from audiences.tenancy import TenantScope


@dataclass(frozen=True, slots=True)
class ContactAudience:
    kind: AudienceKind
    id: str
    name: str
    since: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ContactAudiences:
    contact_id: str
    as_of: dt.datetime
    audiences: list[ContactAudience]

    def of_kind(self, kind: AudienceKind) -> list[ContactAudience]:
        return [a for a in self.audiences if a.kind == kind]


async def contact_audiences(
    *, db: Database, scope: TenantScope, contact_id: str, as_of: dt.datetime, timeout_ms: int
) -> ContactAudiences:
    """The org's audiences the contact is in at `as_of`, each kind ordered by name then id.
    An unknown contact is `404 contact_not_found`."""
    await get_contact(db=db, scope=scope, contact_id=contact_id)
    tracked = {
        (m.audience_kind, m.audience_id): m.since
        for m in await subject_memberships(db=db, scope=scope, subject_id=contact_id, timeout_ms=timeout_ms)
    }
    found: list[ContactAudience] = []
    for adapter in registered_adapters():
        definitions = await adapter.list_definitions(db=db, scope=scope, timeout_ms=timeout_ms)
        for definition in sorted(definitions, key=lambda d: (d.name, d.audience_id)):
            try:
                answers = await adapter.evaluate_subjects(
                    db=db,
                    scope=scope,
                    audience_id=definition.audience_id,
                    subject_ids=[contact_id],
                    as_of=as_of,
                    timeout_ms=timeout_ms,
                )
            except NotFound:
                continue  # deleted since it was listed
            if answers.get(contact_id):
                key = (definition.kind, definition.audience_id)
                found.append(
                    ContactAudience(
                        definition.kind, definition.audience_id, definition.name, tracked.get(key)
                    )
                )
    return ContactAudiences(contact_id=contact_id, as_of=as_of, audiences=found)
