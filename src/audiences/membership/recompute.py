"""Definition changes: keep the trigger index in step and recompute membership in the
background.

The segments and journeys features call `definition_changed` after creating or editing a
definition and `definition_deleted` after deleting one. A change upserts the definition's
trigger document, queues a recompute (`pending`, answered at once) and starts it as an
asyncio task: the kind's production query streams the members into
`replace_membership`, whose differences are logged as transitions, while the job record
reports progress (`running`, `processed`) and ends `done` or `failed` with a readable
error. A newer change of the same definition supersedes a running recompute, which then
stops.

The tasks are kept in a module-level set (a task nobody references may be collected
mid-run); `cancel_recomputes` ends them at shutdown (their jobs end `failed`, "cancelled")
and `wait_for_recomputes` lets tests and the CLI wait for them deterministically.
"""

from __future__ import annotations

import asyncio
import logging

from audiences.clock import Clock
from audiences.config import Settings
from audiences.db import Database
from audiences.membership.adapters import KindAdapter, TrackedDefinition, kind_adapter
from audiences.membership.jobs import JobSuperseded, job_run, queue_job
from audiences.membership.model import AudienceKind, JobHandle
from audiences.membership.repository import TriggerRepository
from audiences.membership.service import forget_audience, replace_membership
from audiences.membership.tracking import trigger_document
from audiences.tenancy import TenantScope

log = logging.getLogger("audiences.membership.recompute")

_recomputes: set[asyncio.Task[None]] = set()


class KindNotTracked(LookupError):
    """No adapter is registered for the audience kind."""


def _adapter(kind: AudienceKind) -> KindAdapter:
    adapter = kind_adapter(kind)
    if adapter is None:
        raise KindNotTracked(f"no membership adapter registered for {kind!r} audiences")
    return adapter


async def track_definition(
    *, db: Database, scope: TenantScope, definition: TrackedDefinition, clock: Clock
) -> bool:
    """Upsert the definition's trigger document (not if a newer version is stored)."""
    doc = trigger_document(scope, definition, clock.now())
    return await TriggerRepository(db).upsert(scope, doc)


async def recompute(
    *,
    db: Database,
    handle: JobHandle,
    adapter: KindAdapter,
    definition_version: int,
    clock: Clock,
    timeout_ms: int,
) -> None:
    """Run one queued recompute to its end (`done`, or `failed` with a readable error)."""
    scope = handle.scope
    try:
        async with job_run(db=db, handle=handle, clock=clock) as run:
            as_of = clock.now()
            await replace_membership(
                db=db,
                scope=scope,
                audience_kind=handle.audience_kind,
                audience_id=handle.audience_id,
                definition_version=definition_version,
                members=adapter.members(
                    db=db, scope=scope, audience_id=handle.audience_id, as_of=as_of, timeout_ms=timeout_ms
                ),
                at=as_of,
                now=clock.now(),
                timeout_ms=timeout_ms,
                on_progress=run.progress,
            )
    except JobSuperseded:
        log.info("recompute superseded", extra={"audienceId": handle.audience_id})
    except asyncio.CancelledError:
        raise
    except Exception:
        # `job_run` recorded the failure and logged anything unexpected.
        return


def _task_name(scope: TenantScope, kind: AudienceKind, audience_id: str) -> str:
    return f"membership-recompute:{scope.org_id}:{kind}:{audience_id}"


async def _stop_recomputes(scope: TenantScope, kind: AudienceKind, audience_id: str) -> None:
    """Cancel this process's recomputes of the audience and wait until they have stopped,
    so none of their writes lands after what comes next. (A run in another process stops
    at its next progress report, once its job is superseded.)"""
    name = _task_name(scope, kind, audience_id)
    running = [t for t in _this_loop(_recomputes) if t.get_name() == name]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)


def start_recompute(
    *,
    db: Database,
    handle: JobHandle,
    adapter: KindAdapter,
    definition_version: int,
    clock: Clock,
    timeout_ms: int,
) -> asyncio.Task[None]:
    task = asyncio.create_task(
        recompute(
            db=db,
            handle=handle,
            adapter=adapter,
            definition_version=definition_version,
            clock=clock,
            timeout_ms=timeout_ms,
        ),
        name=_task_name(handle.scope, handle.audience_kind, handle.audience_id),
    )
    _recomputes.add(task)
    task.add_done_callback(_recomputes.discard)
    return task


async def definition_changed(
    *,
    db: Database,
    scope: TenantScope,
    kind: AudienceKind,
    audience_id: str,
    clock: Clock,
    settings: Settings,
) -> JobHandle | None:
    """A definition was created or edited: index its triggers and recompute its membership
    in the background. Returns the queued job (None when the definition no longer exists,
    whose tracking is then dropped)."""
    adapter = _adapter(kind)
    timeout_ms = settings.query_timeout_ms
    definition = await adapter.get_definition(
        db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms
    )
    if definition is None:
        await definition_deleted(db=db, scope=scope, kind=kind, audience_id=audience_id)
        return None
    await track_definition(db=db, scope=scope, definition=definition, clock=clock)
    await _stop_recomputes(scope, kind, audience_id)
    handle = await queue_job(
        db=db,
        scope=scope,
        audience_kind=kind,
        audience_id=audience_id,
        definition_version=definition.version,
        now=clock.now(),
    )
    start_recompute(
        db=db,
        handle=handle,
        adapter=adapter,
        definition_version=definition.version,
        clock=clock,
        timeout_ms=timeout_ms,
    )
    return handle


async def definition_deleted(
    *, db: Database, scope: TenantScope, kind: AudienceKind, audience_id: str
) -> None:
    """A definition was deleted: stop tracking it and drop its state, log and job."""
    await _stop_recomputes(scope, kind, audience_id)
    await TriggerRepository(db).remove(scope, kind, audience_id)
    await forget_audience(db=db, scope=scope, audience_kind=kind, audience_id=audience_id)


def _this_loop(tasks: set[asyncio.Task[None]]) -> list[asyncio.Task[None]]:
    loop = asyncio.get_running_loop()
    return [t for t in tasks if t.get_loop() is loop]


async def wait_for_recomputes() -> None:
    """Return once every recompute started in this event loop has ended."""
    while pending := _this_loop(_recomputes):
        await asyncio.gather(*pending, return_exceptions=True)


async def cancel_recomputes() -> None:
    """Cancel the recomputes of this event loop (shutdown); their jobs end `failed`."""
    pending = _this_loop(_recomputes)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
