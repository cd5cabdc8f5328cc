"""Request and response bodies of the CRM segments API (CONTRACT §7)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from audiences.insights.schemas import InsightsResponse

# Seed 000's example body, verbatim.
SEED_SEGMENT: dict[str, Any] = {
    "name": "VIP recent openers",
    "description": "VIP-tagged contacts who opened a marketing email in the last 30 days",
    "filter": {
        "datatype": "contact",
        "where": {
            "$and": [
                {"tags": "vip"},
                {"lastEmailOpenedAt": {"$gte": "2026-03-25T00:00:00Z"}},
            ]
        },
    },
    "type": "dynamic",
}
RELATIVE_SEGMENT: dict[str, Any] = {
    "name": "Opened in the last 30 days",
    "filter": {"datatype": "contact", "where": {"lastEmailOpenedAt": {"$gte": {"$now": "-P30D"}}}},
    "type": "dynamic",
}
STATIC_SEGMENT: dict[str, Any] = {
    "name": "Beta testers",
    "description": "Hand-picked contacts",
    "type": "static",
    "contactIds": ["c-1001", "c-1002"],
}
FROZEN_SEGMENT: dict[str, Any] = {
    "name": "German leads, frozen today",
    "type": "static",
    "filter": {"datatype": "contact", "where": {"country": "DE", "tags": "lead"}},
}
# Seed 000's estimate-reach example, verbatim.
SEED_REACH: dict[str, Any] = {
    "filter": {"datatype": "contact", "where": {"country": "US", "tags": {"$in": ["lead", "mql"]}}}
}

SegmentType = Literal["dynamic", "static"]


class SegmentFilter(BaseModel):
    """`{"datatype": "contact", "where": <DynamicQuery>}`."""

    model_config = ConfigDict(extra="forbid")

    datatype: str = Field(description="Only `contact` is supported.")
    where: dict[str, Any] = Field(
        description="MongoDB query operators on contact fields: $and $or $nor $not $eq $ne $gt $gte "
        '$lt $lte $in $nin $exists $regex $options $elemMatch $all $size; {"$now": "-P30D"} for '
        "relative dates. See docs/semantics.md."
    )


class _ReadOnlyEcho(BaseModel):
    """Fields of a returned segment, accepted (and ignored) so a GET response can be sent
    back as a PUT body."""

    id: str | None = Field(default=None, description="Read-only; ignored.")
    createdAt: str | None = Field(default=None, description="Read-only; ignored.")
    updatedAt: str | None = Field(default=None, description="Read-only; ignored.")
    count: int | None = Field(default=None, description="Read-only (always live); ignored.")
    countAsOf: str | None = Field(default=None, description="Read-only; ignored.")
    contactCount: int | None = Field(default=None, description="Read-only; ignored.")


class SegmentBody(_ReadOnlyEcho):
    """A segment (POST creates one, PUT replaces one)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [SEED_SEGMENT, RELATIVE_SEGMENT, STATIC_SEGMENT, FROZEN_SEGMENT]},
    )

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    filter: SegmentFilter | None = Field(
        default=None, description="Required for dynamic segments; for static ones, frozen when no contactIds."
    )
    type: SegmentType = Field(default="dynamic", description="`dynamic` (re-evaluated at use) or `static`.")
    contactIds: list[str] | None = Field(
        default=None,
        description="Static segments only: the contact ids; unknown ids are reported and not kept.",
    )


class SegmentPatch(_ReadOnlyEcho):
    """The fields to change; anything not sent is kept."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "VIP openers (30 days)"},
                {"filter": {"datatype": "contact", "where": {"tags": "vip"}}},
                {"contactIds": ["c-1001", "c-1003"]},
            ]
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    filter: SegmentFilter | None = None
    type: SegmentType | None = None
    contactIds: list[str] | None = None


class SegmentOut(BaseModel):
    id: str = Field(examples=["seg_7k2m9q4x8w3a"])
    name: str
    description: str | None
    filter: dict[str, Any] | None
    type: SegmentType
    createdAt: str
    updatedAt: str
    contactCount: int | None = Field(default=None, description="Static segments: ids on the list.")
    contactIds: list[str] | None = Field(default=None, description="Static segments (single reads).")
    unknownContactIds: list[str] | None = Field(
        default=None, description="Ids sent that match no contact (write responses); not kept."
    )
    count: int | None = Field(default=None, description="Contacts in the segment now (single reads).")
    countAsOf: str | None = None


class SegmentList(BaseModel):
    items: list[SegmentOut]
    nextCursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class EstimateReachBody(BaseModel):
    """A filter (the audience builder's draft) or a saved segment id; not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                SEED_REACH,
                {"segmentId": "seg_7k2m9q4x8w3a"},
                {"filter": RELATIVE_SEGMENT["filter"], "asOf": "2026-04-24T12:00:00Z"},
            ]
        },
    )

    filter: SegmentFilter | None = None
    segmentId: str | None = None
    asOf: str | None = Field(
        default=None, description='The instant `{"$now": ...}` is resolved against (default: now).'
    )


class ReachOut(BaseModel):
    count: int = Field(description="Exact number of matching contacts (no sampling).")
    sampleProfile: dict[str, Any] | None = Field(description="One matching contact, or null.")
    asOf: str
    tookMs: float
    unindexedFields: list[str] | None = Field(
        default=None,
        description="Filtered fields with no (orgId, field) index; add one: POST /api/collection/index.",
    )
    insights: InsightsResponse | None = Field(
        default=None, description="With `?insights=1`: the population's insights, as for a saved segment."
    )


class MembersPage(BaseModel):
    items: list[dict[str, Any]] = Field(description="Contacts, in contact id order.")
    nextCursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class SnapshotOut(BaseModel):
    snapshotId: str = Field(examples=["snap_3kq8x2m7w9a4b6c1"])
    segmentId: str
    count: int = Field(description="Members frozen.")
    createdAt: str
    expiresAt: str
