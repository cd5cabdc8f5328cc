"""Request and response bodies of insights and overlap."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from audiences.clock import format_instant
from audiences.insights.service import Bucket, Insights, Overlap, OverlapMatrix


class BucketOut(BaseModel):
    key: str
    count: int = Field(description="People in this bucket.")
    share: float = Field(description="`count` / population size, 4 decimals (0 for an empty population).")

    @classmethod
    def of(cls, bucket: Bucket) -> BucketOut:
        return cls(key=bucket.key, count=bucket.count, share=bucket.share)


def _buckets(buckets: list[Bucket]) -> list[BucketOut]:
    return [BucketOut.of(b) for b in buckets]


class Demographics(BaseModel):
    country: list[BucketOut] = Field(description="Every ISO 3166-1 country present, then `unknown`.")
    city: list[BucketOut] = Field(description="The 10 most common cities, then `other` and `unknown`.")
    ageBands: list[BucketOut] = Field(
        description="`<18`, `18-24`, `25-34`, `35-44`, `45-54`, `55-64`, `65+`, `unknown` (from `birthDate`)."
    )
    gender: list[BucketOut] = Field(
        description="The 10 most common values (lower-cased), `other`, `unknown`."
    )
    language: list[BucketOut] = Field(
        description="Primary language subtag of `language` (else `locale`): top 20, `other`, `unknown`."
    )


class ActivitySplit(BaseModel):
    active: BucketOut = Field(description="`lastSeenAt` within the 30 days before `asOf`.")
    inactive: BucketOut = Field(description="Everyone else, including contacts never seen.")


class Engagement(BaseModel):
    emailOpenRecency: list[BucketOut] = Field(
        description="`0-7d`, `8-30d`, `31-90d`, `>90d`, `never` (from `lastEmailOpenedAt`)."
    )
    topEvents30d: list[BucketOut] = Field(
        description="The 10 events fired by most people of the population in the 30 days before `asOf`: "
        "`count` is people (not events) and `share` the share of the population that fired it; "
        "one person counts under every event they fired, so these do not add up to `count`."
    )
    activeLast30d: ActivitySplit


class InsightsResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "count": 4,
                    "asOf": "2026-04-24T12:00:00.000Z",
                    "demographics": {
                        "country": [
                            {"key": "DE", "count": 3, "share": 0.75},
                            {"key": "unknown", "count": 1, "share": 0.25},
                        ],
                        "city": [
                            {"key": "Berlin", "count": 2, "share": 0.5},
                            {"key": "Munich", "count": 1, "share": 0.25},
                            {"key": "unknown", "count": 1, "share": 0.25},
                        ],
                        "ageBands": [
                            {"key": "<18", "count": 0, "share": 0.0},
                            {"key": "18-24", "count": 1, "share": 0.25},
                            {"key": "25-34", "count": 2, "share": 0.5},
                            {"key": "35-44", "count": 0, "share": 0.0},
                            {"key": "45-54", "count": 0, "share": 0.0},
                            {"key": "55-64", "count": 0, "share": 0.0},
                            {"key": "65+", "count": 0, "share": 0.0},
                            {"key": "unknown", "count": 1, "share": 0.25},
                        ],
                        "gender": [
                            {"key": "female", "count": 2, "share": 0.5},
                            {"key": "male", "count": 2, "share": 0.5},
                        ],
                        "language": [{"key": "de", "count": 4, "share": 1.0}],
                    },
                    "engagement": {
                        "emailOpenRecency": [
                            {"key": "0-7d", "count": 2, "share": 0.5},
                            {"key": "8-30d", "count": 1, "share": 0.25},
                            {"key": "31-90d", "count": 0, "share": 0.0},
                            {"key": ">90d", "count": 0, "share": 0.0},
                            {"key": "never", "count": 1, "share": 0.25},
                        ],
                        "topEvents30d": [
                            {"key": "page_viewed", "count": 3, "share": 0.75},
                            {"key": "checkout_started", "count": 1, "share": 0.25},
                        ],
                        "activeLast30d": {
                            "active": {"key": "active", "count": 3, "share": 0.75},
                            "inactive": {"key": "inactive", "count": 1, "share": 0.25},
                        },
                    },
                }
            ]
        }
    )

    count: int = Field(description="Population size; every breakdown but `topEvents30d` sums to it.")
    asOf: str = Field(description="The instant the population and every window were evaluated at.")
    demographics: Demographics
    engagement: Engagement

    @classmethod
    def of(cls, insights: Insights) -> InsightsResponse:
        b = insights.breakdowns
        active = {bucket.key: BucketOut.of(bucket) for bucket in b["activeLast30d"]}
        return cls(
            count=insights.count,
            asOf=format_instant(insights.as_of),
            demographics=Demographics(
                country=_buckets(b["country"]),
                city=_buckets(b["city"]),
                ageBands=_buckets(b["ageBands"]),
                gender=_buckets(b["gender"]),
                language=_buckets(b["language"]),
            ),
            engagement=Engagement(
                emailOpenRecency=_buckets(b["emailOpenRecency"]),
                topEvents30d=_buckets(insights.top_events_30d),
                activeLast30d=ActivitySplit(active=active["active"], inactive=active["inactive"]),
            ),
        )


class OverlapFigures(BaseModel):
    a: int = Field(description="Size of the first audience.")
    b: int = Field(description="Size of the second audience.")
    both: int = Field(description="In both.")
    onlyA: int = Field(description="In the first only (`a - both`).")
    onlyB: int = Field(description="In the second only (`b - both`).")
    union: int = Field(description="In either (`a + b - both`).")
    jaccard: float = Field(description="`both / union`, 4 decimals; 0 when both are empty.")

    @staticmethod
    def figures(overlap: Overlap) -> dict[str, int | float]:
        return {
            "a": overlap.a,
            "b": overlap.b,
            "both": overlap.both,
            "onlyA": overlap.only_a,
            "onlyB": overlap.only_b,
            "union": overlap.union,
            "jaccard": overlap.jaccard,
        }


class OverlapResponse(OverlapFigures):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "a": 1200,
                    "b": 800,
                    "both": 300,
                    "onlyA": 900,
                    "onlyB": 500,
                    "union": 1700,
                    "jaccard": 0.1765,
                    "asOf": "2026-04-24T12:00:00.000Z",
                }
            ]
        }
    )

    asOf: str

    @classmethod
    def of(cls, overlap: Overlap, *, as_of: dt.datetime) -> OverlapResponse:
        return cls(**cls.figures(overlap), asOf=format_instant(as_of))


AudienceId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class OverlapMatrixRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"segmentIds": ["seg_vip_de", "seg_recent_buyers", "ca_newsletter"]}]
        },
    )

    segmentIds: list[AudienceId] = Field(
        min_length=2,
        max_length=5,
        description="2 to 5 distinct ids of segments or custom audiences.",
    )


class AudienceSizeOut(BaseModel):
    id: str
    name: str
    kind: str = Field(description="`dynamic`, `static` or a custom audience type.")
    count: int


class PairOverlapOut(OverlapFigures):
    aId: str
    bId: str


class OverlapMatrixResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "asOf": "2026-04-24T12:00:00.000Z",
                    "audiences": [
                        {"id": "seg_vip_de", "name": "VIPs in Germany", "kind": "dynamic", "count": 120},
                        {"id": "seg_recent_buyers", "name": "Bought in 30 d", "kind": "dynamic", "count": 80},
                    ],
                    "pairs": [
                        {
                            "aId": "seg_vip_de",
                            "bId": "seg_recent_buyers",
                            "a": 120,
                            "b": 80,
                            "both": 30,
                            "onlyA": 90,
                            "onlyB": 50,
                            "union": 170,
                            "jaccard": 0.1765,
                        }
                    ],
                }
            ]
        }
    )

    asOf: str
    audiences: list[AudienceSizeOut] = Field(description="Each audience's size, in request order.")
    pairs: list[PairOverlapOut] = Field(
        description="Every pair once, in request order: (1st, 2nd), (1st, 3rd), …, (2nd, 3rd), …"
    )

    @classmethod
    def of(cls, matrix: OverlapMatrix) -> OverlapMatrixResponse:
        return cls(
            asOf=format_instant(matrix.as_of),
            audiences=[
                AudienceSizeOut(id=a.id, name=a.name, kind=a.kind, count=a.count) for a in matrix.audiences
            ],
            pairs=[
                PairOverlapOut(aId=p.a_id, bId=p.b_id, **PairOverlapOut.figures(p.overlap))
                for p in matrix.pairs
            ],
        )
