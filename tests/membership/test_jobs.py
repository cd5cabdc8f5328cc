"""Recompute status: pending → running → done | failed, superseding, restart recovery."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.db import Database
from audiences.errors import QueryTimeout
from audiences.main import create_app
from audiences.membership import jobs
from audiences.membership.model import JobHandle
from audiences.tenancy import TenantScope
from tests.conftest import AS_OF

T = 15_000


async def queue(db: Database, scope: TenantScope, audience_id: str = "aud-1", version: int = 1) -> JobHandle:
    return await jobs.queue_job(
        db=db,
        scope=scope,
        audience_kind="journey",
        audience_id=audience_id,
        definition_version=version,
        now=AS_OF,
    )


async def status(db: Database, scope: TenantScope, audience_id: str = "aud-1") -> jobs.JobStatus | None:
    return await jobs.get_status(
        db=db, scope=scope, audience_kind="journey", audience_id=audience_id, timeout_ms=T
    )


class TestJobLifecycle:
    async def test_an_audience_never_recomputed_has_no_status(
        self, store: Database, acme: TenantScope
    ) -> None:
        assert await status(store, acme) is None

    async def test_a_queued_job_is_pending(self, store: Database, acme: TenantScope) -> None:
        await queue(store, acme, version=4)
        found = await status(store, acme)
        assert found is not None
        assert (found.state, found.processed, found.total, found.definition_version) == (
            "pending",
            0,
            None,
            4,
        )
        assert (found.queued_at, found.started_at, found.finished_at, found.error) == (
            AS_OF,
            None,
            None,
            None,
        )

    async def test_progress_is_reported_until_done(self, store: Database, acme: TenantScope) -> None:
        handle = await queue(store, acme)
        later = AS_OF + dt.timedelta(seconds=5)
        assert await jobs.start_job(db=store, handle=handle, now=AS_OF, total=300)
        assert await jobs.update_progress(db=store, handle=handle, processed=120)
        running = await status(store, acme)
        assert running is not None
        assert (running.state, running.processed, running.total, running.started_at) == (
            "running",
            120,
            300,
            AS_OF,
        )
        assert await jobs.finish_job(db=store, handle=handle, now=later, processed=300)
        done = await status(store, acme)
        assert done is not None
        assert (done.state, done.processed, done.total, done.finished_at) == ("done", 300, 300, later)

    async def test_a_failed_job_keeps_its_error(self, store: Database, acme: TenantScope) -> None:
        handle = await queue(store, acme)
        await jobs.start_job(db=store, handle=handle, now=AS_OF)
        assert await jobs.fail_job(db=store, handle=handle, now=AS_OF, error="the audience was deleted")
        failed = await status(store, acme)
        assert failed is not None
        assert (failed.state, failed.error, failed.finished_at) == (
            "failed",
            "the audience was deleted",
            AS_OF,
        )

    async def test_a_newer_run_supersedes_the_older_one(self, store: Database, acme: TenantScope) -> None:
        old = await queue(store, acme, version=1)
        await jobs.start_job(db=store, handle=old, now=AS_OF)
        new = await queue(store, acme, version=2)
        assert not await jobs.update_progress(db=store, handle=old, processed=10)
        assert not await jobs.finish_job(db=store, handle=old, now=AS_OF, processed=10)
        assert not await jobs.fail_job(db=store, handle=old, now=AS_OF, error="late")
        current = await status(store, acme)
        assert current is not None
        assert (current.state, current.definition_version, current.error) == ("pending", 2, None)
        assert await jobs.start_job(db=store, handle=new, now=AS_OF)

    async def test_jobs_are_kept_per_org(
        self, store: Database, acme: TenantScope, globex: TenantScope
    ) -> None:
        await queue(store, acme)
        assert await status(store, globex) is None


class TestJobRun:
    async def test_a_run_that_returns_ends_done_with_its_progress(
        self, store: Database, acme: TenantScope, clock: FixedClock
    ) -> None:
        handle = await queue(store, acme)
        async with jobs.job_run(db=store, handle=handle, clock=clock) as run:
            await run.progress(40, total=80)
            await run.progress(80)
        done = await status(store, acme)
        assert done is not None
        assert (done.state, done.processed, done.total, done.error) == ("done", 80, 80, None)

    async def test_an_app_error_fails_the_job_with_its_message(
        self, store: Database, acme: TenantScope, clock: FixedClock
    ) -> None:
        handle = await queue(store, acme)
        with pytest.raises(QueryTimeout):
            async with jobs.job_run(db=store, handle=handle, clock=clock):
                raise QueryTimeout()
        failed = await status(store, acme)
        assert failed is not None
        assert failed.state == "failed"
        assert failed.error is not None
        assert failed.error.startswith("The query hit the server-side time limit")

    async def test_an_unexpected_error_is_named_without_its_internals(
        self, store: Database, acme: TenantScope, clock: FixedClock
    ) -> None:
        handle = await queue(store, acme)
        with pytest.raises(KeyError):
            async with jobs.job_run(db=store, handle=handle, clock=clock):
                raise KeyError("secret internal detail")
        failed = await status(store, acme)
        assert failed is not None
        assert failed.error == "unexpected error (KeyError); the service log has the details"

    async def test_a_cancelled_run_ends_failed(
        self, store: Database, acme: TenantScope, clock: FixedClock
    ) -> None:
        handle = await queue(store, acme)
        entered = asyncio.Event()

        async def work() -> None:
            async with jobs.job_run(db=store, handle=handle, clock=clock):
                entered.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(work())
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        failed = await status(store, acme)
        assert failed is not None
        assert (failed.state, failed.error) == (
            "failed",
            "cancelled: the service stopped while this recompute was running",
        )

    async def test_a_superseded_run_stops_and_leaves_the_new_run_alone(
        self, store: Database, acme: TenantScope, clock: FixedClock
    ) -> None:
        old = await queue(store, acme, version=1)

        async def work() -> None:
            async with jobs.job_run(db=store, handle=old, clock=clock) as run:
                await queue(store, acme, version=2)
                await run.progress(1)

        with pytest.raises(jobs.JobSuperseded):
            await work()
        current = await status(store, acme)
        assert current is not None
        assert (current.state, current.definition_version) == ("pending", 2)


class TestRestart:
    async def test_jobs_left_unfinished_fail_visibly_at_startup(
        self, settings: Settings, store: Database, acme: TenantScope, clock: FixedClock
    ) -> None:
        pending = await queue(store, acme, "aud-pending")
        running = await queue(store, acme, "aud-running")
        await jobs.start_job(db=store, handle=running, now=AS_OF)
        done = await queue(store, acme, "aud-done")
        await jobs.start_job(db=store, handle=done, now=AS_OF)
        await jobs.finish_job(db=store, handle=done, now=AS_OF, processed=3)
        clock.advance(dt.timedelta(minutes=1))

        app = create_app(settings, database=store, clock=clock)
        app.state.background_loops = False
        async with app.router.lifespan_context(app):
            states = {a: await status(store, acme, a) for a in ("aud-pending", "aud-running", "aud-done")}
        for audience_id in ("aud-pending", "aud-running"):
            found = states[audience_id]
            assert found is not None
            assert (found.state, found.error, found.finished_at) == ("failed", jobs.INTERRUPTED, clock.now())
        assert states["aud-done"] is not None
        assert states["aud-done"].state == "done"
        assert not await jobs.start_job(db=store, handle=pending, now=AS_OF)
