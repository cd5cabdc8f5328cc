"""Change feeds and membership status of segments and journey audiences (HTTP only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from audiences.auth import ReadScope
from audiences.clock import parse_instant
from audiences.config import Settings
from audiences.db import Database
from audiences.deps import AppSettings, Db
from audiences.errors import ErrorItem, ValidationFailed
from audiences.membership import jobs, service
from audiences.membership.errors import MembershipStatusNotFound
from audiences.membership.model import AudienceKind
from audiences.membership.registry import ensure_audience_exists
from audiences.membership.schemas import ChangeItem, ChangePage, MembershipStatus
from audiences.tenancy import TenantScope

router = APIRouter(tags=["membership"])

Since = Annotated[
    str | None, Query(description="Only changes at or after this ISO-8601 instant.", examples=["2026-04-01"])
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size (1–1000).")]
Cursor = Annotated[str | None, Query(description="`nextCursor` of the previous page.")]


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
            [ErrorItem("invalid_instant", "since", "`since` must be an ISO-8601 date or date-time")]
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
