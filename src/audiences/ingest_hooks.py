"""What ingestion tells the rest of the service: which contacts changed, which events arrived.

Membership tracking registers listeners here at import; ingestion calls `notify_*` after
its writes. Listeners must not raise: a failure is logged and never fails the ingest.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

from audiences.db import Database
from audiences.tenancy import TenantScope

log = logging.getLogger("audiences.ingest")


class ContactsListener(Protocol):
    """`fields`: top-level field names written by the batch (their union). `created`:
    contacts that may be new (exactly the new ones when a batch created all or none of its
    contacts; every contact of a batch that created some). `deleted`: the contacts were
    deleted (then `fields` and `created` are empty)."""

    def __call__(
        self,
        *,
        db: Database,
        scope: TenantScope,
        contact_ids: Sequence[str],
        fields: frozenset[str],
        created: frozenset[str],
        deleted: bool,
    ) -> Awaitable[None]: ...


class EventsListener(Protocol):
    def __call__(
        self, *, db: Database, scope: TenantScope, events: Sequence[dict[str, Any]]
    ) -> Awaitable[None]: ...


_contacts: list[ContactsListener] = []
_events: list[EventsListener] = []


def on_contacts_changed(listener: ContactsListener) -> ContactsListener:
    if listener not in _contacts:
        _contacts.append(listener)
    return listener


def on_events_ingested(listener: EventsListener) -> EventsListener:
    if listener not in _events:
        _events.append(listener)
    return listener


async def _guard(pending: Awaitable[None]) -> None:
    try:
        await pending
    except Exception:
        log.exception("ingest listener failed")


async def notify_contacts_changed(
    *,
    db: Database,
    scope: TenantScope,
    contact_ids: Sequence[str],
    fields: frozenset[str] = frozenset(),
    created: frozenset[str] = frozenset(),
    deleted: bool = False,
) -> None:
    if not contact_ids:
        return
    for listener in list(_contacts):
        await _guard(
            listener(
                db=db, scope=scope, contact_ids=contact_ids, fields=fields, created=created, deleted=deleted
            )
        )


async def notify_events_ingested(
    *, db: Database, scope: TenantScope, events: Sequence[dict[str, Any]]
) -> None:
    if not events:
        return
    for listener in list(_events):
        await _guard(listener(db=db, scope=scope, events=events))
