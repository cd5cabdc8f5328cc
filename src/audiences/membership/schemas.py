"""Response bodies of the change feeds and membership status."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from audiences.clock import format_instant
from audiences.membership.model import Change, JobStatus


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
