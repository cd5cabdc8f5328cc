"""CRM segments routes under `/api/crm/audiences` (HTTP only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from audiences.auth import ReadScope, WriteScope
from audiences.clock import AppClock, format_instant, truncate_ms
from audiences.deps import AppSettings, Db
from audiences.documents import NDJSON, ndjson_contacts, public_contact, wants_ndjson
from audiences.errors import ErrorItem, ValidationFailed
from audiences.insights.schemas import InsightsResponse
from audiences.insights.service import compute_insights
from audiences.segments import service
from audiences.segments.cursors import (
    decode_list_cursor,
    decode_string_cursor,
    encode_cursor,
    encode_list_cursor,
)
from audiences.segments.disconnect import run_until_disconnected
from audiences.segments.schemas import (
    EstimateReachBody,
    MembersPage,
    ReachOut,
    SegmentBody,
    SegmentList,
    SegmentOut,
    SegmentPatch,
    SegmentType,
    SnapshotOut,
)

router = APIRouter(prefix="/api/crm/audiences", tags=["segments"])

_READ_ONLY = {"id", "createdAt", "updatedAt", "count", "countAsOf", "contactCount"}
_NDJSON_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {NDJSON: {}}, "description": f"A page, or with `Accept: {NDJSON}` every member."}
}

Limit = Annotated[int, Query(ge=1, le=service.MAX_PAGE, description="Contacts per page (≤ 10,000).")]
Cursor = Annotated[str | None, Query(description="`nextCursor` of the previous page.")]
Fields = Annotated[
    str | None, Query(description="Comma-separated fields to return (`id` is always included).")
]
AsOf = Annotated[str | None, Query(description='Instant `{"$now": ...}` is resolved against (default: now).')]


def _fields(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [f.strip() for f in value.split(",")]
    if any(not n for n in names):
        raise ValidationFailed([ErrorItem("invalid_field_name", "fields", "empty field name in `fields`")])
    return names


def _segment_out(saved: service.SavedSegment) -> SegmentOut:
    out = service.public_segment(saved.document, contact_ids=saved.contact_ids)
    if saved.document["type"] == "static":
        out["unknownContactIds"] = saved.unknown_contact_ids
    return SegmentOut.model_validate(out)


def _members_response(page: service.MemberPage) -> MembersPage:
    return MembersPage(
        items=[public_contact(d) for d in page.items],
        nextCursor=encode_cursor(page.next_after) if page.next_after is not None else None,
    )


# Segments ------------------------------------------------------------------------------


@router.get(
    "/segments", response_model=SegmentList, response_model_exclude_unset=True, summary="List segments"
)
async def list_segments(
    db: Db,
    scope: ReadScope,
    settings: AppSettings,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
    type: Annotated[SegmentType | None, Query(description="Only `dynamic` or `static` segments.")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Case-insensitive text in the name.")] = None,
) -> SegmentList:
    after = decode_list_cursor(cursor)
    page = await service.list_segments(
        db=db, scope=scope, after=after, kind=type, q=q, limit=limit, timeout_ms=settings.query_timeout_ms
    )
    next_cursor = encode_list_cursor(page.next_after) if page.next_after is not None else None
    return SegmentList(items=[SegmentOut.model_validate(i) for i in page.items], nextCursor=next_cursor)


@router.post(
    "/segments",
    status_code=201,
    response_model=SegmentOut,
    response_model_exclude_unset=True,
    summary="Create a segment",
)
async def create_segment(
    body: SegmentBody, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> SegmentOut:
    saved = await service.create_segment(
        db=db,
        scope=scope,
        draft=service.SegmentDraft(
            name=body.name,
            description=body.description,
            filter=body.filter.model_dump() if body.filter else None,
            type=body.type,
            contact_ids=body.contactIds,
        ),
        clock=clock,
        settings=settings,
    )
    return _segment_out(saved)


@router.get(
    "/segments/{segment_id}",
    response_model=SegmentOut,
    response_model_exclude_unset=True,
    summary="Read a segment, with its live count",
)
async def get_segment(
    segment_id: str, db: Db, scope: ReadScope, settings: AppSettings, clock: AppClock, asOf: AsOf = None
) -> SegmentOut:
    segment = await service.get_segment(
        db=db,
        scope=scope,
        segment_id=segment_id,
        as_of=service.parse_as_of(asOf, default=clock.now()),
        timeout_ms=settings.query_timeout_ms,
    )
    return SegmentOut.model_validate(segment)


@router.put(
    "/segments/{segment_id}",
    response_model=SegmentOut,
    response_model_exclude_unset=True,
    summary="Replace a segment",
)
async def replace_segment(
    segment_id: str, body: SegmentBody, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> SegmentOut:
    changes = body.model_dump(exclude=_READ_ONLY)
    saved = await service.update_segment(
        db=db,
        scope=scope,
        segment_id=segment_id,
        changes=changes,
        replace=True,
        clock=clock,
        settings=settings,
    )
    return _segment_out(saved)


@router.patch(
    "/segments/{segment_id}",
    response_model=SegmentOut,
    response_model_exclude_unset=True,
    summary="Change some fields of a segment",
)
async def patch_segment(
    segment_id: str, body: SegmentPatch, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> SegmentOut:
    changes = body.model_dump(exclude_unset=True, exclude=_READ_ONLY)
    saved = await service.update_segment(
        db=db,
        scope=scope,
        segment_id=segment_id,
        changes=changes,
        replace=False,
        clock=clock,
        settings=settings,
    )
    return _segment_out(saved)


@router.delete("/segments/{segment_id}", status_code=204, summary="Delete a segment")
async def delete_segment(segment_id: str, db: Db, scope: WriteScope, settings: AppSettings) -> Response:
    await service.delete_segment(
        db=db, scope=scope, segment_id=segment_id, timeout_ms=settings.query_timeout_ms
    )
    return Response(status_code=204)


# Reach and members ---------------------------------------------------------------------


@router.post(
    "/estimate-reach",
    response_model=ReachOut,
    response_model_exclude_unset=True,
    summary="Count the contacts a filter or segment matches now",
    responses={404: {"description": "`segment_not_found`: `segmentId` names no segment in this org."}},
)
async def estimate_reach(
    body: EstimateReachBody,
    request: Request,
    db: Db,
    scope: ReadScope,
    settings: AppSettings,
    clock: AppClock,
    insights: Annotated[
        bool, Query(description="Also return the population's insights (as for a saved segment).")
    ] = False,
) -> ReachOut:
    reach = await run_until_disconnected(
        request,
        service.estimate_reach(
            db=db,
            scope=scope,
            filter=body.filter.model_dump() if body.filter else None,
            audience_id=body.segmentId,
            as_of=service.parse_as_of(body.asOf, default=clock.now()),
            timeout_ms=settings.query_timeout_ms,
        ),
    )
    out: dict[str, Any] = {
        "count": reach.count,
        "sampleProfile": public_contact(reach.sample) if reach.sample is not None else None,
        "asOf": format_instant(reach.as_of),
        "tookMs": reach.took_ms,
    }
    if reach.unindexed_fields:
        out["unindexedFields"] = reach.unindexed_fields
    if insights:
        found = await run_until_disconnected(
            request,
            compute_insights(
                db=db,
                scope=scope,
                contact_filter=reach.contact_filter,
                as_of=reach.as_of,
                timeout_ms=settings.query_timeout_ms,
            ),
        )
        out["insights"] = InsightsResponse.of(found)
    return ReachOut.model_validate(out)


@router.get(
    "/segments/{segment_id}/members",
    response_model=MembersPage,
    responses=_NDJSON_DOC,
    summary="The live members, by page or as an NDJSON stream",
)
async def segment_members(
    segment_id: str,
    request: Request,
    db: Db,
    scope: ReadScope,
    settings: AppSettings,
    clock: AppClock,
    limit: Limit = 100,
    cursor: Cursor = None,
    fields: Fields = None,
    asOf: AsOf = None,
) -> MembersPage | StreamingResponse:
    after = decode_string_cursor(cursor)
    as_of = service.parse_as_of(asOf, default=clock.now())
    if wants_ndjson(request.headers.get("accept")):
        docs = await service.open_members_stream(
            db=db,
            scope=scope,
            audience_id=segment_id,
            after=after,
            fields=_fields(fields),
            as_of=as_of,
            timeout_ms=settings.query_timeout_ms,
        )
        return StreamingResponse(ndjson_contacts(docs), media_type=NDJSON)
    page = await service.members_page(
        db=db,
        scope=scope,
        audience_id=segment_id,
        after=after,
        limit=limit,
        fields=_fields(fields),
        as_of=as_of,
        timeout_ms=settings.query_timeout_ms,
    )
    return _members_response(page)


# Snapshots -----------------------------------------------------------------------------


@router.post(
    "/segments/{segment_id}/snapshots",
    status_code=201,
    response_model=SnapshotOut,
    summary="Freeze the segment's members now (what a campaign sends to)",
)
async def create_snapshot(
    segment_id: str, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> SnapshotOut:
    snapshot = await service.create_snapshot(
        db=db,
        scope=scope,
        audience_id=segment_id,
        now=truncate_ms(clock.now()),
        ttl_days=settings.snapshot_ttl_days,
        timeout_ms=settings.query_timeout_ms,
    )
    return SnapshotOut.model_validate(service.public_snapshot(snapshot))


@router.get("/snapshots/{snapshot_id}", response_model=SnapshotOut, summary="Read a snapshot")
async def get_snapshot(
    snapshot_id: str, db: Db, scope: ReadScope, settings: AppSettings, clock: AppClock
) -> SnapshotOut:
    snapshot = await service.get_snapshot(
        db=db, scope=scope, snapshot_id=snapshot_id, now=clock.now(), timeout_ms=settings.query_timeout_ms
    )
    return SnapshotOut.model_validate(service.public_snapshot(snapshot))


@router.get(
    "/snapshots/{snapshot_id}/members",
    response_model=MembersPage,
    responses=_NDJSON_DOC,
    summary="The frozen members, by page or as an NDJSON stream",
)
async def snapshot_members(
    snapshot_id: str,
    request: Request,
    db: Db,
    scope: ReadScope,
    settings: AppSettings,
    clock: AppClock,
    limit: Limit = 100,
    cursor: Cursor = None,
    fields: Fields = None,
) -> MembersPage | StreamingResponse:
    after = decode_string_cursor(cursor)
    if wants_ndjson(request.headers.get("accept")):
        docs = await service.open_snapshot_stream(
            db=db,
            scope=scope,
            snapshot_id=snapshot_id,
            after=after,
            fields=_fields(fields),
            now=clock.now(),
            timeout_ms=settings.query_timeout_ms,
        )
        return StreamingResponse(ndjson_contacts(docs), media_type=NDJSON)
    page = await service.snapshot_members_page(
        db=db,
        scope=scope,
        snapshot_id=snapshot_id,
        after=after,
        limit=limit,
        fields=_fields(fields),
        now=clock.now(),
        timeout_ms=settings.query_timeout_ms,
    )
    return _members_response(page)
