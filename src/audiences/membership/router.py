"""Change feeds and membership status of segments and journey audiences, the sweep, and
the contact lookup (HTTP only)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, Query

from audiences.auth import AdminScope, ReadScope
from audiences.clock import AppClock, parse_evaluation_instant, parse_instant
from audiences.config import Settings
from audiences.db import Database
from audiences.deps import AppSettings, Db
from audiences.errors import ErrorItem, ValidationFailed
from audiences.membership import jobs, lookup, service
from audiences.membership.errors import MembershipStatusNotFound
from audiences.membership.model import AudienceKind
from audiences.membership.registry import ensure_audience_exists
from audiences.membership.schemas import (
    ChangeItem,
    ChangePage,
    ContactAudiencesResponse,
    MembershipStatus,
    SweepRequest,
    SweepResponse,
)
from audiences.membership.sweep import sweep
from audiences.tenancy import TenantScope

router = APIRouter(tags=["membership"])

Since = Annotated[
    str | None, Query(description="Only changes at or after this ISO-8601 instant.", examples=["2026-04-01"])
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size (1–1000).")]
Cursor = Annotated[str | None, Query(description="`nextCursor` of the previous page.")]
AsOf = Annotated[
    str | None,
    Query(description="Evaluate at this ISO-8601 instant instead of now.", examples=["2026-04-24T12:00:00Z"]),
]


def _as_of(value: str | None, clock: AppClock) -> dt.datetime:
    if value is None:
        return clock.now()
    try:
        return parse_evaluation_instant(value)
    except ValueError as exc:
        raise ValidationFailed(
            [ErrorItem("invalid_instant", "asOf", f"`asOf` must be an ISO-8601 date or date-time: {exc}")]
        ) from exc


async def _changes(
    kind: AudienceKind,
    audience_id: str,
    *,
    db: Database,
    scope: TenantScope,
    settings: Settings,
    since: str | None,
    limit: int,
    cursor: str | None,
) -> ChangePage:
    try:
        since_at = parse_instant(since) if since is not None else None
    except ValueError as exc:
        raise ValidationFailed(
            [ErrorItem("invalid_instant", "since", f"`since` must be an ISO-8601 date or date-time: {exc}")]
        ) from exc
    timeout_ms = settings.query_timeout_ms
    await ensure_audience_exists(
        db=db, scope=scope, kind=kind, audience_id=audience_id, timeout_ms=timeout_ms
    )
    page = await service.list_changes(
        db=db,
        scope=scope,
        audience_kind=kind,
        audience_id=audience_id,
        since=since_at,
        cursor=cursor,
        limit=limit,
        timeout_ms=timeout_ms,
    )
    return ChangePage(
        items=[ChangeItem.of(c) for c in page.items], nextCursor=page.next_cursor, hasMore=page.has_more
    )


async def _status(
    kind: AudienceKind, audience_id: str, *, db: Database, scope: TenantScope, settings: Settings
) -> MembershipStatus:
    timeout_ms = settings.query_timeout_ms
    await ensure_audience_exists(
        db=db, scope=scope, kind=kind, audience_id=audience_id, timeout_ms=timeout_ms
    )
    status = await jobs.get_status(
        db=db, scope=scope, audience_kind=kind, audience_id=audience_id, timeout_ms=timeout_ms
    )
    if status is None:
        raise MembershipStatusNotFound(f"No membership computation has been recorded for {audience_id!r}.")
    return MembershipStatus.of(status)


@router.get(
    "/api/audiences/{audience_id}/changes",
    response_model=ChangePage,
    summary="Enter/leave changes of a journey audience, oldest first",
)
async def journey_audience_changes(
    audience_id: str,
    db: Db,
    scope: ReadScope,
    settings: AppSettings,
    since: Since = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ChangePage:
    return await _changes(
        "journey", audience_id, db=db, scope=scope, settings=settings, since=since, limit=limit, cursor=cursor
    )


@router.get(
    "/api/crm/audiences/segments/{segment_id}/changes",
    response_model=ChangePage,
    summary="Enter/leave changes of a segment, oldest first",
)
async def segment_changes(
    segment_id: str,
    db: Db,
    scope: ReadScope,
    settings: AppSettings,
    since: Since = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ChangePage:
    return await _changes(
        "segment", segment_id, db=db, scope=scope, settings=settings, since=since, limit=limit, cursor=cursor
    )


@router.get(
    "/api/audiences/{audience_id}/membership-status",
    response_model=MembershipStatus,
    summary="Progress of the journey audience's latest membership recompute",
)
async def journey_audience_membership_status(
    audience_id: str, db: Db, scope: ReadScope, settings: AppSettings
) -> MembershipStatus:
    return await _status("journey", audience_id, db=db, scope=scope, settings=settings)


@router.get(
    "/api/crm/audiences/segments/{segment_id}/membership-status",
    response_model=MembershipStatus,
    summary="Progress of the segment's latest membership recompute",
)
async def segment_membership_status(
    segment_id: str, db: Db, scope: ReadScope, settings: AppSettings
) -> MembershipStatus:
    return await _status("segment", segment_id, db=db, scope=scope, settings=settings)


@router.post(
    "/api/membership/sweep",
    response_model=SweepResponse,
    summary="Re-check the org's time-dependent audiences now (or at `asOf`)",
    description='Audiences whose definitions depend on time (`last_n_days`, `{"$now": ...}` dates) '
    "are re-checked with the production query at one instant; members whose window passed leave, "
    "and the changes go to the change feeds and webhooks. `asOf` may be given in the body or the "
    "query (the body wins). Needs the `admin` scope.",
)
async def sweep_memberships(
    db: Db,
    scope: AdminScope,
    settings: AppSettings,
    clock: AppClock,
    body: Annotated[SweepRequest | None, Body()] = None,
    asOf: AsOf = None,
) -> SweepResponse:
    as_of = _as_of(body.asOf if body is not None and body.asOf is not None else asOf, clock)
    result = await sweep(
        db=db, as_of=as_of, timeout_ms=settings.query_timeout_ms, org_id=scope.org_id, now=clock.now()
    )
    return SweepResponse.of(result)


@router.get(
    "/api/crm/contacts/{contact_id}/audiences",
    response_model=ContactAudiencesResponse,
    summary="Segments and journey audiences the contact is in, computed live",
)
async def contact_audiences(
    contact_id: str, db: Db, scope: ReadScope, settings: AppSettings, clock: AppClock, asOf: AsOf = None
) -> ContactAudiencesResponse:
    found = await lookup.contact_audiences(
        db=db,
        scope=scope,
        contact_id=contact_id,
        as_of=_as_of(asOf, clock),
        timeout_ms=settings.query_timeout_ms,
    )
    return ContactAudiencesResponse.of(found)
