"""The values membership tracking hands around."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from audiences.tenancy import TenantScope

AudienceKind = Literal["segment", "journey"]
ChangeKind = Literal["entered", "left"]
JobState = Literal["pending", "running", "done", "failed"]

AUDIENCE_KINDS: tuple[AudienceKind, ...] = ("segment", "journey")


@dataclass(frozen=True, slots=True)
class Change:
    """One logged transition of one subject into or out of one audience."""

    id: str
    audience_kind: AudienceKind
    audience_id: str
    subject_id: str
    change: ChangeKind
    at: dt.datetime
    definition_version: int
    seq: int

    @property
    def event_type(self) -> str:
        """The webhook event type: `audience.entered` or `audience.left`."""
        return f"audience.{self.change}"


@dataclass(frozen=True, slots=True)
class Membership:
    """A subject's current membership of one audience, as tracked."""

    audience_kind: AudienceKind
    audience_id: str
    since: dt.datetime
    definition_version: int


@dataclass(frozen=True, slots=True)
class ReplaceResult:
    """What a full recompute changed."""

    members: int
    entered: int
    left: int


@dataclass(frozen=True, slots=True)
class JobHandle:
    """Identifies one run of a recompute; a newer run for the same audience supersedes it,
    after which every update through this handle is ignored (and reports False)."""

    scope: TenantScope
    audience_kind: AudienceKind
    audience_id: str
    run_id: str


@dataclass(frozen=True, slots=True)
class JobStatus:
    audience_kind: AudienceKind
    audience_id: str
    state: JobState
    definition_version: int
    processed: int
    total: int | None
    queued_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str | None
