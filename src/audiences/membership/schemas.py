"""Bodies of the change feeds, membership status, sweep and contact lookup."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from audiences.clock import format_instant
from audiences.membership.lookup import ContactAudience, ContactAudiences
from audiences.membership.model import Change, JobStatus
from audiences.membership.sweep import SweepResult


class ChangeItem(BaseModel):
    id: str = Field(description="Stable id of the change; also the `id` of its webhook payloads.")
    audienceId: str
    audienceKind: Literal["segment", "journey"]
    subjectId: str = Field(description="The contact (end user) id.")
    change: Literal["entered", "left"]
    at: str = Field(description="When the transition was observed (the evaluation instant).")
    definitionVersion: int = Field(description="Version of the definition that decided it.")

    @classmethod
    def of(cls, change: Change) -> ChangeItem:
        return cls(
            id=change.id,
            audienceId=change.audience_id,
            audienceKind=change.audience_kind,
            subjectId=change.subject_id,
            change=change.change,
            at=format_instant(change.at),
            definitionVersion=change.definition_version,
        )


class ChangePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "chg_5f1c0e9b7a2d4c3e8f6a1b2c",
                            "audienceId": "aud-pro-tier-active",
                            "audienceKind": "journey",
                            "subjectId": "c-1001",
                            "change": "entered",
                            "at": "2026-04-24T12:00:00.000Z",
                            "definitionVersion": 3,
                        }
                    ],
                    "nextCursor": "eyJzZXEiOjQyfQ",
                    "hasMore": False,
                }
            ]
        }
    )

    items: list[ChangeItem]
    nextCursor: str | None = Field(
        description="Pass back as `cursor` to continue after the last item; kept even at the end of "
        "the log so a poller can resume from it later. Null only when nothing was ever returned."
    )
    hasMore: bool = Field(description="True when another page is already waiting.")


class MembershipStatus(BaseModel):
    audienceId: str
    audienceKind: Literal["segment", "journey"]
    state: Literal["pending", "running", "done", "failed"]
    definitionVersion: int
    processed: int
    total: int | None
    queuedAt: str
    startedAt: str | None
    finishedAt: str | None
    error: str | None

    @classmethod
    def of(cls, status: JobStatus) -> MembershipStatus:
        return cls(
            audienceId=status.audience_id,
            audienceKind=status.audience_kind,
            state=status.state,
            definitionVersion=status.definition_version,
            processed=status.processed,
            total=status.total,
            queuedAt=format_instant(status.queued_at),
            startedAt=format_instant(status.started_at) if status.started_at else None,
            finishedAt=format_instant(status.finished_at) if status.finished_at else None,
            error=status.error,
        )


class SweepRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{}, {"asOf": "2026-04-24T12:00:00Z"}]}
    )

    asOf: str | None = Field(
        default=None, description="The instant to re-check at (ISO-8601); default now.", max_length=64
    )


class SweepResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"audiences": 12, "entered": 3, "left": 41, "failed": 0, "tookMs": 184}]
        }
    )

    audiences: int = Field(description="Time-dependent audiences re-checked.")
    entered: int
    left: int
    failed: int = Field(description="Audiences whose re-check failed (details in the service log).")
    tookMs: int

    @classmethod
    def of(cls, result: SweepResult) -> SweepResponse:
        return cls(
            audiences=result.audiences,
            entered=result.entered,
            left=result.left,
            failed=result.failed,
            tookMs=result.took_ms,
        )


class ContactAudienceItem(BaseModel):
    id: str
    name: str
    since: str | None = Field(description="When the contact entered, as tracked; null when unknown.")

    @classmethod
    def of(cls, audience: ContactAudience) -> ContactAudienceItem:
        return cls(
            id=audience.id,
            name=audience.name,
            since=format_instant(audience.since) if audience.since else None,
        )


class ContactAudiencesResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contactId": "c-1001",
                    "asOf": "2026-04-24T12:00:00.000Z",
                    "segments": [
                        {"id": "seg_vip_uk", "name": "VIPs in the UK", "since": "2026-04-02T09:15:00.000Z"}
                    ],
                    "journeyAudiences": [
                        {"id": "aud-pro-tier-active", "name": "Active pro users", "since": None}
                    ],
                }
            ]
        }
    )

    contactId: str
    asOf: str
    segments: list[ContactAudienceItem]
    journeyAudiences: list[ContactAudienceItem]

    @classmethod
    def of(cls, found: ContactAudiences) -> ContactAudiencesResponse:
        return cls(
            contactId=found.contact_id,
            asOf=format_instant(found.as_of),
            segments=[ContactAudienceItem.of(a) for a in found.of_kind("segment")],
            journeyAudiences=[ContactAudienceItem.of(a) for a in found.of_kind("journey")],
        )
