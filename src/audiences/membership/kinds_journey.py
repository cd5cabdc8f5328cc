"""Journey audiences as a tracked kind: the adapter over the journeys service and the
predicate package (importing this module registers it).

- What a definition reads comes from `predicate_dependencies` (it follows `in_cohort` into
  dynamic cohorts): event names, top-level fields of the attribute paths, the ids of the
  static cohorts it uses, and whether a `last_n_days` window makes it time-dependent.
- "Matches an empty contact" is asked of the evaluator itself: the predicate evaluated for
  a contact with only an id (one no static cohort names) and no events.
- Subjects are evaluated with `journeys.service.evaluate_subjects` (one query for the
  contacts, one for their events) and members streamed by the compiled pipeline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

from audiences.db import Database
from audiences.errors import NotFound
from audiences.journeys import service as journeys
from audiences.membership.adapters import TrackedDefinition, register_kind_adapter
from audiences.membership.model import AudienceKind
from audiences.membership.registry import register_audience_exists
from audiences.predicates import evaluate_subject, predicate_dependencies
from audiences.tenancy import TenantScope

# A contact id no static cohort can name (ids are 1–256 printable characters).
EMPTY_PROBE_ID = "\x00membership-empty-contact-probe"
# Without events or fields no answer depends on the instant; any fixed one will do.
PROBE_AS_OF = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class JourneyKind:
    @property
    def kind(self) -> AudienceKind:
        return "journey"

    async def _tracked(
        self, *, db: Database, scope: TenantScope, doc: dict[str, Any], timeout_ms: int
    ) -> TrackedDefinition:
        resolved = await journeys.check_predicate(
            db=db, scope=scope, raw=doc["predicate"], timeout_ms=timeout_ms
        )
        needs = predicate_dependencies(resolved.predicate, resolved.cohorts)
        empty = evaluate_subject(
            resolved.predicate,
            subject={"id": EMPTY_PROBE_ID},
            events=(),
            cohorts=resolved.cohorts,
            as_of=PROBE_AS_OF,
            explain=False,
        )
        return TrackedDefinition(
            kind="journey",
            audience_id=str(doc["id"]),
            name=str(doc.get("name") or doc["id"]),
            version=int(doc.get("version", 1)),
            fields=needs.top_fields,
            events=needs.event_names,
            time_dependent=needs.time_dependent,
            matches_empty=empty.matched,
            subject_ids=needs.static_subject_ids or None,
        )

    async def list_definitions(
        self, *, db: Database, scope: TenantScope, timeout_ms: int
    ) -> list[TrackedDefinition]:
        docs = await journeys.list_audiences(db=db, scope=scope, project_key=None, timeout_ms=timeout_ms)
        return [await self._tracked(db=db, scope=scope, doc=d, timeout_ms=timeout_ms) for d in docs]

    async def get_definition(
        self, *, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int
    ) -> TrackedDefinition | None:
        try:
            doc = await journeys.get_audience(
                db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms
            )
        except NotFound:
            return None
        return await self._tracked(db=db, scope=scope, doc=doc, timeout_ms=timeout_ms)

    async def evaluate_subjects(
        self,
        *,
        db: Database,
        scope: TenantScope,
        audience_id: str,
        subject_ids: Sequence[str],
        as_of: dt.datetime,
        timeout_ms: int,
    ) -> dict[str, bool]:
        return await journeys.evaluate_subjects(
            db=db,
            scope=scope,
            audience_id=audience_id,
            subject_ids=subject_ids,
            as_of=as_of,
            timeout_ms=timeout_ms,
        )

    async def members(
        self, *, db: Database, scope: TenantScope, audience_id: str, as_of: dt.datetime, timeout_ms: int
    ) -> AsyncIterator[str]:
        resolved = await journeys.resolve_audience_predicate(
            db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms
        )
        async for subject_id in journeys.member_ids(
            db=db, scope=scope, resolved=resolved, as_of=as_of, timeout_ms=timeout_ms
        ):
            yield subject_id


async def journey_audience_exists(
    *, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int
) -> bool:
    try:
        await journeys.get_audience(db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms)
    except NotFound:
        return False
    return True


register_kind_adapter(JourneyKind())
register_audience_exists("journey", journey_audience_exists)
