"""Trigger evaluation on ingest: re-evaluate the touched subjects, only for the definitions
that can be affected, and record the transitions.

The trigger index (`TriggerRepository`) maps the contact fields and event names each
definition reads to the definition; an ingest batch asks it once which definitions read
what the batch changed, so the cost grows with the affected definitions only. Each
affected definition is evaluated for its touched subjects with its kind's in-memory
evaluator and the answers go through `apply_membership` (which logs the transitions and
queues their webhook deliveries; sending them is the delivery worker's job, so ingestion
never waits for a receiver).

The app attaches its clock and settings to its database at startup (`attach_tracking`);
ingestion outside an app (the CLI) uses the system clock and the environment's settings.
"""

from __future__ import annotations

import datetime as dt
import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audiences.clock import Clock, SystemClock
from audiences.config import Settings, get_settings
from audiences.db import Database
from audiences.errors import NotFound
from audiences.ingest_hooks import on_contacts_changed, on_events_ingested
from audiences.membership.adapters import TrackedDefinition, kind_adapter
from audiences.membership.model import Change
from audiences.membership.repository import (
    TriggerQuery,
    TriggerRepository,
    event_names_by_user,
    trigger_id,
)
from audiences.membership.service import apply_membership, subject_memberships
from audiences.tenancy import TenantScope

log = logging.getLogger("audiences.membership.tracking")


@dataclass(frozen=True, slots=True)
class _Runtime:
    clock: Clock
    settings: Settings


_runtimes: weakref.WeakKeyDictionary[Database, _Runtime] = weakref.WeakKeyDictionary()


def attach_tracking(db: Database, *, clock: Clock, settings: Settings) -> None:
    """Evaluate triggers of ingests into `db` with this clock and these settings."""
    _runtimes[db] = _Runtime(clock, settings)


def detach_tracking(db: Database) -> None:
    _runtimes.pop(db, None)


def _runtime(db: Database) -> _Runtime:
    return _runtimes.get(db) or _Runtime(SystemClock(), get_settings())


def trigger_document(scope: TenantScope, definition: TrackedDefinition, now: dt.datetime) -> dict[str, Any]:
    """The trigger index document of a definition (docs/membership.md)."""
    doc: dict[str, Any] = {
        "_id": trigger_id(scope, definition.kind, definition.audience_id),
        "kind": definition.kind,
        "audienceId": definition.audience_id,
        "version": definition.version,
        "fields": sorted(definition.fields),
        "events": sorted(definition.events),
        "timeDependent": definition.time_dependent,
        "matchesEmpty": definition.matches_empty,
        "hasSubjectIds": definition.subject_ids is not None,
        "updatedAt": now,
    }
    if definition.subject_ids is not None:
        doc["subjectIds"] = sorted(definition.subject_ids)
    return doc


async def evaluate_and_apply(
    *,
    db: Database,
    scope: TenantScope,
    trigger: Mapping[str, Any],
    subject_ids: Sequence[str],
    at: dt.datetime,
    timeout_ms: int,
) -> list[Change]:
    """Evaluate one definition for `subject_ids` with its kind's in-memory evaluator and
    record the answers. A definition whose kind has no adapter, or that disappeared
    meanwhile, is skipped."""
    adapter = kind_adapter(trigger["kind"])
    if adapter is None or not subject_ids:
        return []
    try:
        answers = await adapter.evaluate_subjects(
            db=db,
            scope=scope,
            audience_id=trigger["audienceId"],
            subject_ids=subject_ids,
            as_of=at,
            timeout_ms=timeout_ms,
        )
    except NotFound:
        return []  # deleted while we looked; `definition_deleted` drops its state
    return await apply_membership(
        db=db,
        scope=scope,
        audience_kind=trigger["kind"],
        audience_id=trigger["audienceId"],
        definition_version=int(trigger["version"]),
        results={s: bool(answers.get(s, False)) for s in subject_ids},
        at=at,
        timeout_ms=timeout_ms,
    )


async def _evaluate_each(
    *,
    db: Database,
    scope: TenantScope,
    work: list[tuple[dict[str, Any], list[str]]],
    at: dt.datetime,
    timeout_ms: int,
) -> list[Change]:
    changes: list[Change] = []
    for trigger, subjects in work:
        try:
            changes += await evaluate_and_apply(
                db=db, scope=scope, trigger=trigger, subject_ids=subjects, at=at, timeout_ms=timeout_ms
            )
        except Exception:
            # One definition failing must not keep the others from being tracked.
            log.exception(
                "trigger evaluation failed",
                extra={
                    "orgId": scope.org_id,
                    "audienceKind": trigger["kind"],
                    "audienceId": trigger["audienceId"],
                },
            )
    return changes


async def contacts_changed(
    *,
    db: Database,
    scope: TenantScope,
    contact_ids: Sequence[str],
    fields: frozenset[str],
    created: frozenset[str],
    at: dt.datetime,
    timeout_ms: int,
) -> list[Change]:
    """Re-evaluate changed contacts for the definitions that read a changed field, and
    contacts that may be new for those matching an empty contact, naming static subject
    ids, or reading events already stored for them (events may arrive first)."""
    repo = TriggerRepository(db)
    created = created & frozenset(contact_ids)
    # A new contact also "changes" its id.
    changed = fields | {"id"} if created else fields
    names_by_user: dict[str, set[str]] = {}
    if created and await repo.might_use_events(scope, timeout_ms=timeout_ms):
        names_by_user = await event_names_by_user(db, scope, sorted(created), timeout_ms=timeout_ms)
    names = frozenset(n for ns in names_by_user.values() for n in ns)
    query = TriggerQuery(fields=changed, events=names, subject_ids=created)
    work: list[tuple[dict[str, Any], list[str]]] = []
    for trigger in await repo.affected(scope, query, timeout_ms=timeout_ms):
        if changed.intersection(trigger["fields"]):
            subjects = list(dict.fromkeys(contact_ids))
        else:
            wanted = set(trigger["events"])
            everyone_new = trigger["matchesEmpty"] or trigger.get("hasSubjectIds")
            subjects = sorted(c for c in created if everyone_new or wanted & names_by_user.get(c, set()))
        work.append((trigger, subjects))
    return await _evaluate_each(db=db, scope=scope, work=work, at=at, timeout_ms=timeout_ms)


async def contacts_deleted(
    *, db: Database, scope: TenantScope, contact_ids: Sequence[str], at: dt.datetime, timeout_ms: int
) -> list[Change]:
    """A deleted contact leaves every audience it is tracked in."""
    changes: list[Change] = []
    for contact_id in dict.fromkeys(contact_ids):
        memberships = await subject_memberships(
            db=db, scope=scope, subject_id=contact_id, timeout_ms=timeout_ms
        )
        triggers = await TriggerRepository(db).for_audiences(
            scope, [(m.audience_kind, m.audience_id) for m in memberships], timeout_ms=timeout_ms
        )
        for m in memberships:
            trigger = triggers.get((m.audience_kind, m.audience_id))
            changes += await apply_membership(
                db=db,
                scope=scope,
                audience_kind=m.audience_kind,
                audience_id=m.audience_id,
                definition_version=int(trigger["version"]) if trigger else m.definition_version,
                results={contact_id: False},
                at=at,
                timeout_ms=timeout_ms,
            )
    return changes


async def events_ingested(
    *, db: Database, scope: TenantScope, events: Sequence[Mapping[str, Any]], at: dt.datetime, timeout_ms: int
) -> list[Change]:
    """Re-evaluate the users of the ingested events for the definitions reading their names."""
    users_by_name: dict[str, dict[str, None]] = {}
    for event in events:
        users_by_name.setdefault(str(event["name"]), {})[str(event["userId"])] = None
    if not users_by_name:
        return []
    query = TriggerQuery(events=frozenset(users_by_name))
    work: list[tuple[dict[str, Any], list[str]]] = []
    for trigger in await TriggerRepository(db).affected(scope, query, timeout_ms=timeout_ms):
        subjects: dict[str, None] = {}
        for name in trigger["events"]:
            subjects.update(users_by_name.get(name, {}))
        work.append((trigger, list(subjects)))
    return await _evaluate_each(db=db, scope=scope, work=work, at=at, timeout_ms=timeout_ms)


async def track_contacts_changed(
    *,
    db: Database,
    scope: TenantScope,
    contact_ids: Sequence[str],
    fields: frozenset[str] = frozenset(),
    created: frozenset[str] = frozenset(),
    deleted: bool = False,
) -> None:
    """Ingest listener for contact upserts and deletes."""
    runtime = _runtime(db)
    at, timeout_ms = runtime.clock.now(), runtime.settings.query_timeout_ms
    if deleted:
        await contacts_deleted(db=db, scope=scope, contact_ids=contact_ids, at=at, timeout_ms=timeout_ms)
        return
    await contacts_changed(
        db=db,
        scope=scope,
        contact_ids=contact_ids,
        fields=fields,
        created=created,
        at=at,
        timeout_ms=timeout_ms,
    )


async def track_events_ingested(
    *, db: Database, scope: TenantScope, events: Sequence[dict[str, Any]]
) -> None:
    """Ingest listener for stored events (a duplicate `eventId` is not stored, so not here)."""
    runtime = _runtime(db)
    await events_ingested(
        db=db,
        scope=scope,
        events=events,
        at=runtime.clock.now(),
        timeout_ms=runtime.settings.query_timeout_ms,
    )


on_contacts_changed(track_contacts_changed)
on_events_ingested(track_events_ingested)
