"""Request and response bodies for `/api/audiences` and `/api/cohorts` (seed 003)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# The seed's three examples, used as OpenAPI examples and in the tests.
TRIAL_ACTIVE_NOT_CONVERTED: dict[str, Any] = {
    "kind": "and",
    "clauses": [
        {"kind": "in_cohort", "cohortId": "trial"},
        {"kind": "event_fired", "eventName": "feature.used", "window": {"type": "last_n_days", "days": 7}},
        {
            "kind": "not",
            "clause": {
                "kind": "event_fired",
                "eventName": "subscription.upgraded",
                "window": {"type": "ever"},
            },
        },
    ],
}
PRO_OR_ADMIN: dict[str, Any] = {
    "kind": "or",
    "clauses": [
        {"kind": "attribute", "fieldPath": "tier", "operator": "equals", "value": "pro"},
        {"kind": "attribute", "fieldPath": "is_admin", "operator": "equals", "value": True},
    ],
}
ACTIVE_NOT_CHURNED: dict[str, Any] = {
    "kind": "and",
    "clauses": [
        {"kind": "in_cohort", "cohortId": "active"},
        {
            "kind": "not",
            "clause": {
                "kind": "or",
                "clauses": [
                    {"kind": "in_cohort", "cohortId": "churned"},
                    {"kind": "in_cohort", "cohortId": "suppressed"},
                ],
            },
        },
    ],
}
CHECKOUT_TWICE: dict[str, Any] = {
    "kind": "event_fired",
    "eventName": "checkout_started",
    "window": {"type": "last_n_days", "days": 7},
    "atLeast": 2,
}

PREDICATE_DESCRIPTION = (
    "The predicate tree (seed 003): leaves `event_fired`, `event_not_fired`, `attribute`, "
    "`in_cohort`; composites `and`/`or` (`clauses`) and `not` (`clause`). Stored and returned "
    "exactly as sent. See docs/predicates.md."
)


def _predicate_field(*, default: Any = ...) -> Any:
    return Field(
        default,
        description=PREDICATE_DESCRIPTION,
        json_schema_extra={"examples": [TRIAL_ACTIVE_NOT_CONVERTED, PRO_OR_ADMIN, ACTIVE_NOT_CHURNED]},
    )


class AudienceBody(BaseModel):
    """A journey audience to create (POST) or to replace (PUT)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "aud-pro-tier-active",
                    "projectKey": "pk_live_xyz",
                    "name": "Pro tier, active in last 7d",
                    "description": "Used for upgrade nudges and feature announcements",
                    "subjectType": "end_user",
                    "predicate": {
                        "kind": "and",
                        "clauses": [
                            {"kind": "attribute", "fieldPath": "tier", "operator": "equals", "value": "pro"},
                            {
                                "kind": "event_fired",
                                "eventName": "session_started",
                                "window": {"type": "last_n_days", "days": 7},
                            },
                        ],
                    },
                },
                {"name": "Trial users active in the last 7 days", "predicate": TRIAL_ACTIVE_NOT_CONVERTED},
            ]
        },
    )

    id: str | None = Field(None, description="Lowercase slug, 3–64 chars; generated from the name if absent.")
    projectKey: str | None = Field(
        None, min_length=1, max_length=128, description="Defaults to AUDIENCES_DEFAULT_PROJECT_KEY."
    )
    name: str = Field(min_length=1, max_length=256, description="Display name.")
    description: str | None = Field(None, max_length=4096)
    subjectType: str | None = Field(None, description="Always `end_user` in Phase 1 (the default).")
    predicate: Any = _predicate_field()


class AudiencePatch(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Pro or admin"}, {"predicate": PRO_OR_ADMIN}]},
    )

    projectKey: str | None = Field(None, min_length=1, max_length=128)
    name: str | None = Field(None, min_length=1, max_length=256)
    description: str | None = Field(None, max_length=4096)
    subjectType: str | None = None
    predicate: Any = _predicate_field(default=None)


class AudienceOut(BaseModel):
    id: str
    projectKey: str
    name: str
    description: str | None
    subjectType: str
    predicate: Any
    createdAt: str
    updatedAt: str


class PredicateBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"predicate": CHECKOUT_TWICE}]})

    predicate: Any = _predicate_field()


class ProblemItem(BaseModel):
    code: str
    path: str
    message: str


class ValidationOut(BaseModel):
    valid: bool
    errors: list[ProblemItem]


class DryRunBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"predicate": PRO_OR_ADMIN},
                {"predicate": CHECKOUT_TWICE, "asOf": "2026-04-24T12:00:00Z", "sampleSize": 5},
            ]
        },
    )

    predicate: Any = _predicate_field()
    asOf: str | None = Field(None, description="ISO-8601 instant all windows end at; default now.")
    sampleSize: int = Field(10, ge=0, le=100, description="How many matching subjects to return.")


class DryRunOut(BaseModel):
    count: int
    sample: list[dict[str, Any]]
    asOf: str
    tookMs: float


class EvaluateBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"subjectId": "c-1001"}, {"subjectId": "c-1001", "asOf": "2026-04-24"}]
        },
    )

    subjectId: str = Field(min_length=1, max_length=256, description="The contact's id.")
    asOf: str | None = Field(None, description="ISO-8601 instant all windows end at; default now.")


class EvaluateOut(BaseModel):
    matched: bool
    explanation: dict[str, Any]
    asOf: str


class MembersOut(BaseModel):
    items: list[dict[str, Any]]
    nextCursor: str | None
    asOf: str


class CohortBody(BaseModel):
    """A static cohort (`subjectIds`) or a dynamic one (`predicate`), not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"id": "trial", "name": "Trial", "subjectIds": ["c-1001", "c-1002"]},
                {
                    "id": "power-users",
                    "name": "Power users",
                    "predicate": {
                        "kind": "event_fired",
                        "eventName": "feature.used",
                        "window": {"type": "last_n_days", "days": 30},
                        "atLeast": 20,
                    },
                },
            ]
        },
    )

    id: str | None = Field(None, description="Lowercase slug, 3–64 chars; generated from the name if absent.")
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(None, max_length=4096)
    subjectIds: list[str] | None = Field(None, description="Contact ids of a static cohort.")
    predicate: Any = _predicate_field(default=None)


class CohortPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"subjectIds": ["c-1001"]}]})

    name: str | None = Field(None, min_length=1, max_length=256)
    description: str | None = Field(None, max_length=4096)
    subjectIds: list[str] | None = None
    predicate: Any = _predicate_field(default=None)


class CohortOut(BaseModel):
    id: str
    name: str
    description: str | None
    type: str = Field(description="`static` or `dynamic`.")
    subjectIds: list[str] | None = None
    predicate: Any = None
    createdAt: str
    updatedAt: str
