"""Insights and overlap routes (HTTP only)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query

from audiences.auth import ReadScope
from audiences.clock import AppClock, Clock, parse_evaluation_instant
from audiences.deps import AppSettings, Db
from audiences.insights import service
from audiences.insights.errors import InvalidAsOf
from audiences.insights.schemas import (
    InsightsResponse,
    OverlapMatrixRequest,
    OverlapMatrixResponse,
    OverlapResponse,
)

router = APIRouter(prefix="/api/crm/audiences", tags=["insights"])

AsOf = Annotated[
    str | None,
    Query(
        alias="asOf",
        description="Evaluate at this ISO-8601 instant instead of now, for reproducible answers.",
        examples=["2026-04-24T12:00:00Z"],
    ),
]
AudienceId = Annotated[str, Path(description="A segment or custom audience id.")]
_NOT_FOUND: dict[int | str, dict[str, str]] = {
    404: {"description": "`segment_not_found`: no segment or custom audience with this id in the org."}
}


def _instant(as_of: str | None, clock: Clock) -> dt.datetime:
    if as_of is None:
        return service.reference_instant(clock.now())
    try:
        return service.reference_instant(parse_evaluation_instant(as_of))
    except ValueError as exc:
        raise InvalidAsOf(as_of) from exc


@router.get(
    "/segments/{segment_id}/insights",
    response_model=InsightsResponse,
    responses=_NOT_FOUND,
    summary="Demographic and engagement breakdowns of an audience",
    description=(
        "Works for segments and custom audiences. Every breakdown except `topEvents30d` sums to "
        "`count`. Computed live, within the query time limit (503 `query_timeout` past it)."
    ),
)
async def segment_insights(
    segment_id: AudienceId,
    scope: ReadScope,
    db: Db,
    settings: AppSettings,
    clock: AppClock,
    as_of: AsOf = None,
) -> InsightsResponse:
    insights = await service.audience_insights(
        db=db,
        scope=scope,
        audience_id=segment_id,
        as_of=_instant(as_of, clock),
        timeout_ms=settings.query_timeout_ms,
    )
    return InsightsResponse.of(insights)


@router.get(
    "/segments/{first_id}/overlap/{second_id}",
    response_model=OverlapResponse,
    responses=_NOT_FOUND,
    summary="Overlap of two audiences",
    description="Any mix of segments and custom audiences; counted in one query.",
)
async def segment_overlap(
    first_id: AudienceId,
    second_id: AudienceId,
    scope: ReadScope,
    db: Db,
    settings: AppSettings,
    clock: AppClock,
    as_of: AsOf = None,
) -> OverlapResponse:
    at = _instant(as_of, clock)
    overlap = await service.audience_overlap(
        db=db,
        scope=scope,
        first_id=first_id,
        second_id=second_id,
        as_of=at,
        timeout_ms=settings.query_timeout_ms,
    )
    return OverlapResponse.of(overlap, as_of=at)


@router.post(
    "/overlap",
    response_model=OverlapMatrixResponse,
    responses=_NOT_FOUND,
    summary="Pairwise overlap of 2 to 5 audiences",
    description=(
        "Each audience's size and every pair's overlap figures, counted in one query. "
        "400 on fewer than 2 ids (`too_short`), more than 5 (`too_long`) or a repeated id "
        "(`duplicate_segment_id`)."
    ),
)
async def overlap_matrix(
    body: OverlapMatrixRequest,
    scope: ReadScope,
    db: Db,
    settings: AppSettings,
    clock: AppClock,
    as_of: AsOf = None,
) -> OverlapMatrixResponse:
    matrix = await service.overlap_matrix(
        db=db,
        scope=scope,
        audience_ids=body.segmentIds,
        as_of=_instant(as_of, clock),
        timeout_ms=settings.query_timeout_ms,
    )
    return OverlapMatrixResponse.of(matrix)
