"""CRM segments as a tracked kind: the adapter over the segments service and the
DynamicQuery package (importing this module registers it).

- Dynamic segments read the top-level fields of `querylang.fields_used(where)` and are
  time-dependent when `querylang.uses_now(where)` (`{"$now": ...}` dates). "Matches an
  empty contact" is asked of the in-memory evaluator itself, for a contact with only an id.
- Static segments read no field: their members are the listed contacts that exist, so
  they depend on their id list only (`subject_ids`: a listed contact created again joins).
- Segments read no events.
- Segments carry no version counter: a definition's version is its `updatedAt` in epoch
  milliseconds, which grows with every save (or its `version`, should one be stored).
- Subjects are evaluated with `segments.service.compile_segment_matcher` over contacts
  read in one query; members are streamed by the compiled filter (`matching_ids`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from audiences.clock import as_utc
from audiences.contacts.repository import ContactRepository
from audiences.db import Database
from audiences.membership.adapters import TrackedDefinition, register_kind_adapter
from audiences.membership.model import AudienceKind
from audiences.membership.registry import register_audience_exists
from audiences.querylang import fields_used, uses_now
from audiences.segments import service as segments
from audiences.segments.repository import SegmentRepository
from audiences.tenancy import TenantScope

# A contact id no static list holds (ids are 1–256 printable characters).
EMPTY_PROBE_ID = "\x00membership-empty-contact-probe"
PROBE_AS_OF = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def segment_version(document: Mapping[str, Any]) -> int:
    if document.get("version") is not None:
        return int(document["version"])
    return int(as_utc(document["updatedAt"]).timestamp() * 1000)


class SegmentKind:
    @property
    def kind(self) -> AudienceKind:
        return "segment"

    async def _tracked(
        self, *, db: Database, scope: TenantScope, document: Mapping[str, Any], timeout_ms: int
    ) -> TrackedDefinition:
        common: dict[str, Any] = {
            "kind": "segment",
            "audience_id": str(document["id"]),
            "name": str(document["name"]),
            "version": segment_version(document),
            "events": frozenset(),
        }
        if document["type"] == "static":
            ids = await segments.static_ids(db=db, scope=scope, document=document, timeout_ms=timeout_ms)
            return TrackedDefinition(
                **common,
                fields=frozenset(),
                time_dependent=False,
                matches_empty=False,
                subject_ids=frozenset(ids),
            )
        definition = segments.public_segment(document)
        where = definition["filter"]["where"]
        empty = segments.segment_matches(definition, {"id": EMPTY_PROBE_ID}, PROBE_AS_OF)
        return TrackedDefinition(
            **common,
            fields=frozenset(path.split(".", 1)[0] for path in fields_used(where)),
            time_dependent=uses_now(where),
            matches_empty=empty,
        )

    async def list_definitions(
        self, *, db: Database, scope: TenantScope, timeout_ms: int
    ) -> list[TrackedDefinition]:
        return [
            await self._tracked(db=db, scope=scope, document=d, timeout_ms=timeout_ms)
            async for d in SegmentRepository(db).iterate(scope, timeout_ms=timeout_ms)
        ]

    async def get_definition(
        self, *, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int
    ) -> TrackedDefinition | None:
        document = await SegmentRepository(db).get(scope, audience_id, timeout_ms=timeout_ms)
        if document is None:
            return None
        return await self._tracked(db=db, scope=scope, document=document, timeout_ms=timeout_ms)

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
        document = await segments.get_segment_document(
            db=db, scope=scope, segment_id=audience_id, timeout_ms=timeout_ms
        )
        resolved = await segments.resolved_segment(
            db=db, scope=scope, document=document, as_of=as_of, timeout_ms=timeout_ms
        )
        matcher = segments.compile_segment_matcher(resolved.definition)
        ids = list(dict.fromkeys(subject_ids))
        contacts = {str(c["id"]): c for c in await ContactRepository(db).get_many(scope, ids)} if ids else {}
        return {s: s in contacts and matcher(contacts[s], as_of) for s in ids}

    async def members(
        self, *, db: Database, scope: TenantScope, audience_id: str, as_of: dt.datetime, timeout_ms: int
    ) -> AsyncIterator[str]:
        document = await segments.get_segment_document(
            db=db, scope=scope, segment_id=audience_id, timeout_ms=timeout_ms
        )
        resolved = await segments.resolved_segment(
            db=db, scope=scope, document=document, as_of=as_of, timeout_ms=timeout_ms
        )
        async for page in segments.matching_ids(
            db=db, scope=scope, contact_filter=resolved.contact_filter, timeout_ms=timeout_ms
        ):
            for subject_id in page:
                yield subject_id


async def segment_exists(*, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int) -> bool:
    return await SegmentRepository(db).get(scope, audience_id, timeout_ms=timeout_ms) is not None


register_kind_adapter(SegmentKind())
register_audience_exists("segment", segment_exists)
