"""Background recompute status, one record per audience: `pending → running → done|failed`.

A definition change queues a job (`queue_job`, answered at once as `pending`); the
runner moves it with `start_job`, `update_progress`, `finish_job` or `fail_job` — or
wraps its work in `job_run`, which does all of that and turns any exception into a
readable `failed`. Queuing again supersedes the previous run: its handle's updates are
then ignored (they return False, and `JobRun.progress` raises `JobSuperseded`) so the
stale runner can stop. At startup `fail_interrupted_jobs` ends every job still pending
or running as `failed` ("interrupted by restart"): nothing stays "calculating" forever.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from audiences.clock import Clock, as_utc, truncate_ms
from audiences.db import Database
from audiences.errors import AppError
from audiences.membership.model import AudienceKind, JobHandle, JobStatus
from audiences.membership.repository import JobRepository
from audiences.tenancy import TenantScope

log = logging.getLogger("audiences.membership.jobs")

INTERRUPTED = "interrupted by restart: the service stopped before this recompute finished"
MAX_ERROR_LENGTH = 500


class JobSuperseded(Exception):
    """A newer recompute of the same audience was queued; this run must stop."""


def _instant(value: dt.datetime) -> dt.datetime:
    return truncate_ms(as_utc(value))


async def queue_job(
    *,
    db: Database,
    scope: TenantScope,
    audience_kind: AudienceKind,
    audience_id: str,
    definition_version: int,
    now: dt.datetime,
) -> JobHandle:
    """Record a `pending` recompute of the audience, superseding any earlier run."""
    run_id = uuid.uuid4().hex
    await JobRepository(db).replace(
        scope,
        audience_kind,
        audience_id,
        {
            "runId": run_id,
            "state": "pending",
            "definitionVersion": definition_version,
            "processed": 0,
            "total": None,
            "queuedAt": _instant(now),
            "startedAt": None,
            "finishedAt": None,
            "error": None,
        },
    )
    return JobHandle(scope=scope, audience_kind=audience_kind, audience_id=audience_id, run_id=run_id)


async def _update(db: Database, handle: JobHandle, states: tuple[str, ...], changes: dict[str, Any]) -> bool:
    return await JobRepository(db).update_run(
        handle.scope, handle.audience_kind, handle.audience_id, handle.run_id, states=states, changes=changes
    )


async def start_job(*, db: Database, handle: JobHandle, now: dt.datetime, total: int | None = None) -> bool:
    """`pending → running`. False when the run was superseded or already ended."""
    return await _update(
        db, handle, ("pending",), {"state": "running", "startedAt": _instant(now), "total": total}
    )


async def update_progress(
    *, db: Database, handle: JobHandle, processed: int, total: int | None = None
) -> bool:
    """Record progress of a running job. False when the run was superseded or ended."""
    changes: dict[str, Any] = {"processed": processed}
    if total is not None:
        changes["total"] = total
    return await _update(db, handle, ("running",), changes)


async def finish_job(
    *, db: Database, handle: JobHandle, now: dt.datetime, processed: int, total: int | None = None
) -> bool:
    """`running → done`; `total` is `processed` when the runner does not give one."""
    return await _update(
        db,
        handle,
        ("running",),
        {
            "state": "done",
            "processed": processed,
            "total": total if total is not None else processed,
            "finishedAt": _instant(now),
        },
    )


async def fail_job(*, db: Database, handle: JobHandle, now: dt.datetime, error: str) -> bool:
    """`pending|running → failed` with a readable `error`."""
    return await _update(
        db,
        handle,
        ("pending", "running"),
        {"state": "failed", "error": error[:MAX_ERROR_LENGTH], "finishedAt": _instant(now)},
    )


def describe_failure(exc: BaseException) -> str:
    """A message fit for API callers: our own errors say what happened; anything else is
    named by type only (driver messages may carry database text) and logged in full."""
    if isinstance(exc, AppError):
        return exc.detail
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled: the service stopped while this recompute was running"
    return f"unexpected error ({type(exc).__name__}); the service log has the details"


def status_from_doc(doc: dict[str, Any]) -> JobStatus:
    def instant(key: str) -> dt.datetime | None:
        value = doc.get(key)
        return as_utc(value) if isinstance(value, dt.datetime) else None

    queued = instant("queuedAt")
    assert queued is not None  # every job is created by queue_job with a queuedAt
    total = doc.get("total")
    return JobStatus(
        audience_kind=doc["audienceKind"],
        audience_id=doc["audienceId"],
        state=doc["state"],
        definition_version=int(doc["definitionVersion"]),
        processed=int(doc.get("processed") or 0),
        total=int(total) if total is not None else None,
        queued_at=queued,
        started_at=instant("startedAt"),
        finished_at=instant("finishedAt"),
        error=doc.get("error"),
    )


async def get_status(
    *, db: Database, scope: TenantScope, audience_kind: AudienceKind, audience_id: str, timeout_ms: int
) -> JobStatus | None:
    """The latest recompute of the audience, or None when none was ever queued."""
    doc = await JobRepository(db).get(scope, audience_kind, audience_id, timeout_ms=timeout_ms)
    return status_from_doc(doc) if doc else None


async def fail_interrupted_jobs(*, db: Database, now: dt.datetime, timeout_ms: int) -> list[JobStatus]:
    """At startup: end every job of every org left pending or running as `failed`.

    Returns what was failed so a caller may queue those recomputes again.
    """
    repo = JobRepository(db)
    failed: list[JobStatus] = []
    for doc in await repo.unfinished(timeout_ms=timeout_ms):
        if await repo.fail_unfinished(doc, error=INTERRUPTED, at=_instant(now)):
            failed.append(
                status_from_doc(doc | {"state": "failed", "error": INTERRUPTED, "finishedAt": _instant(now)})
            )
    if failed:
        log.warning("recomputes interrupted by restart marked failed", extra={"jobs": len(failed)})
    return failed


class JobRun:
    """Progress reporting for the body of `job_run`."""

    def __init__(self, db: Database, handle: JobHandle) -> None:
        self._db = db
        self.handle = handle
        self.processed = 0
        self.total: int | None = None

    async def progress(self, processed: int, total: int | None = None) -> None:
        """Record progress; raises `JobSuperseded` when a newer run took over."""
        self.processed = processed
        if total is not None:
            self.total = total
        if not await update_progress(db=self._db, handle=self.handle, processed=processed, total=total):
            raise JobSuperseded(self.handle.audience_id)


@asynccontextmanager
async def job_run(
    *, db: Database, handle: JobHandle, clock: Clock, total: int | None = None
) -> AsyncIterator[JobRun]:
    """Run a recompute: starts the job, ends it `done` on success and `failed` (with a
    readable error) on any exception, which is then re-raised. A run superseded before or
    during the work raises `JobSuperseded` and leaves the newer run's record alone: catch
    it and stop."""
    if not await start_job(db=db, handle=handle, now=clock.now(), total=total):
        raise JobSuperseded(handle.audience_id)
    run = JobRun(db, handle)
    run.total = total
    try:
        yield run
    except JobSuperseded:
        raise
    except BaseException as exc:
        if not isinstance(exc, AppError | asyncio.CancelledError):
            log.exception("recompute failed", extra={"audienceId": handle.audience_id})
        # Shielded so a cancellation still leaves a visible `failed` record behind.
        await asyncio.shield(fail_job(db=db, handle=handle, now=clock.now(), error=describe_failure(exc)))
        raise
    await finish_job(db=db, handle=handle, now=clock.now(), processed=run.processed, total=run.total)
