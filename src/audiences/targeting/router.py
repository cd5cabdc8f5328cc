"""Targeting helper routes (HTTP only). Responses carry an ETag and are cacheable.

The handlers are plain `def`: FastAPI runs them in its thread pool, so the first call,
which loads the reference data (a few seconds for the GeoNames index), never blocks the
event loop.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from audiences.auth import ReadScope
from audiences.targeting import service
from audiences.targeting.http_cache import CACHE_CONTROL, cacheable_json
from audiences.targeting.locations import LocationType
from audiences.targeting.schemas import InterestsResult, LocationSearchResult, TargetingOptionsResult

router = APIRouter(prefix="/api/crm/audiences", tags=["targeting"])

_CACHED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the `If-None-Match` ETag is current."},
}
_CACHE_NOTE = f"Responses carry `ETag` and `Cache-Control: {CACHE_CONTROL}`; send `If-None-Match` to get 304."

Search = Annotated[
    str, Query(max_length=100, description="Prefix or substring; case- and accent-insensitive.")
]
PlatformName = Annotated[str, Query(description="facebook | google | tiktok | linkedin")]


@router.get(
    "/locations",
    response_model=LocationSearchResult,
    responses=_CACHED,
    summary="Search countries, regions, cities and US ZIP codes",
    description=(
        "Matches every name a place is known by (München finds Munich), its ISO code, "
        "`geonames:<id>` or `zip:US:<zip>`. Exact and prefix matches rank first, then larger "
        "places. Without `type`, ZIP codes are searched only when `q` starts with a digit. " + _CACHE_NOTE
    ),
)
def search_locations(
    request: Request,
    scope: ReadScope,
    q: Search = "",
    location_type: Annotated[LocationType | None, Query(alias="type")] = None,
    country: Annotated[str | None, Query(description="ISO 3166-1 alpha-2 code.", max_length=2)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    result = service.search_locations(q=q, location_type=location_type, country=country, limit=limit)
    return cacheable_json(request, result)


@router.get(
    "/interests",
    response_model=InterestsResult,
    responses=_CACHED,
    summary="Browse or search the IAB Content Taxonomy 3.1",
    description=(
        "Without `q`: the whole taxonomy as a tree. With `q`: matching categories, each with "
        "its path. `platform` adds where that platform takes interests and how to resolve a "
        "category to its id. " + _CACHE_NOTE
    ),
)
def list_interests(
    request: Request,
    scope: ReadScope,
    q: Search = "",
    platform: Annotated[str | None, Query(description="facebook | google | tiktok | linkedin")] = None,
    limit: Annotated[int, Query(ge=1, le=704)] = 50,
) -> Response:
    return cacheable_json(request, service.list_interests(platform=platform, q=q, limit=limit))


@router.get(
    "/targeting-options",
    response_model=TargetingOptionsResult,
    responses=_CACHED,
    summary="A platform's targeting options: age, gender, locations, languages, interests, devices",
    description=(
        "Values are those the platform's API documents (each option names its sources) or "
        "come from the shipped reference data. `q` keeps only matching branches. " + _CACHE_NOTE
    ),
)
def targeting_options(request: Request, scope: ReadScope, platform: PlatformName, q: Search = "") -> Response:
    return cacheable_json(request, service.targeting_options(platform=platform, q=q))
