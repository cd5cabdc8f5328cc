"""Turning any audience id usable on the CRM side into a query over contacts.

Segments (dynamic or static) and custom audiences both answer "who is in it" as a
MongoDB filter on the `contacts` collection; estimate-reach, members, snapshots,
insights, overlap and exports all start from `resolve_audience`. Each kind registers an
`AudienceSource`; the first that knows the id answers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from audiences.db import Database
from audiences.errors import NotFound
from audiences.tenancy import TenantScope


class SegmentNotFound(NotFound):
    code = "segment_not_found"
    title = "Segment not found"


@dataclass(frozen=True, slots=True)
class ResolvedAudience:
    id: str
    name: str
    kind: str  # "dynamic" | "static" | a custom audience type
    # Filter over contacts, without `orgId` (callers add it through the scope).
    contact_filter: dict[str, Any]
    definition: dict[str, Any]


class AudienceSource(Protocol):
    async def resolve(
        self, *, db: Database, scope: TenantScope, audience_id: str, as_of: dt.datetime, timeout_ms: int
    ) -> ResolvedAudience | None:
        """The audience's contact filter, or None when this source does not know the id."""
        ...


_sources: list[AudienceSource] = []


def register_audience_source(source: AudienceSource) -> None:
    if source not in _sources:
        _sources.append(source)


async def resolve_audience(
    *, db: Database, scope: TenantScope, audience_id: str, as_of: dt.datetime, timeout_ms: int
) -> ResolvedAudience:
    for source in _sources:
        found = await source.resolve(
            db=db, scope=scope, audience_id=audience_id, as_of=as_of, timeout_ms=timeout_ms
        )
        if found is not None:
            return found
    raise SegmentNotFound(f"No segment or custom audience {audience_id!r} in this org.")
