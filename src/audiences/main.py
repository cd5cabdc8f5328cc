"""create_app(): routers, handlers, lifespan — nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from audiences import __version__, health
from audiences.ads_export.router import router as ads_export_router
from audiences.api_docs import install_offline_docs
from audiences.auth import TokenVerifier
from audiences.bodies import JsonBodyGuard
from audiences.clock import Clock, SystemClock
from audiences.collection_indexes.router import router as collection_indexes_router
from audiences.config import Settings, get_settings
from audiences.contacts.router import router as contacts_router
from audiences.custom_audiences.router import router as custom_audiences_router
from audiences.db import Database, open_database
from audiences.db.indexes import ensure_indexes
from audiences.errors import install_error_handlers
from audiences.events.router import router as events_router
from audiences.insights.router import router as insights_router
from audiences.journeys.router import router as journeys_router
from audiences.membership.background import run_background_workers
from audiences.membership.router import router as membership_router
from audiences.observability import RequestContextMiddleware, configure_logging
from audiences.openapi import install_openapi
from audiences.segments.router import router as segments_router
from audiences.targeting.router import router as targeting_router
from audiences.webhooks.router import router as webhooks_router

DESCRIPTION = """
Stores audience definitions (saved queries over contacts and their events) and answers
who is in them, how many, what they look like, how much two overlap, and whether one
person is in one and why — live from MongoDB.

Every route except the health probes needs `Authorization: Bearer <JWT>` and an `orgid`
header. Get a development token with `audiences token --org acme`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or open_database(settings)
        app.state.db = db
        await db.connect()
        await ensure_indexes(db)
        try:
            async with run_background_workers(app):
                yield
        finally:
            if database is None:
                await db.close()

    app = FastAPI(
        title="Audiences",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.verifier = TokenVerifier(settings)
    install_error_handlers(app)
    # Inside RequestContextMiddleware, which enforces the byte limit while the guard reads.
    app.add_middleware(JsonBodyGuard, max_elements=settings.max_json_elements)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )

    install_offline_docs(app)
    app.include_router(health.router)
    app.include_router(contacts_router)
    app.include_router(events_router)
    # feature routers: keep one line per feature below
    app.include_router(segments_router)
    app.include_router(collection_indexes_router)
    app.include_router(journeys_router)
    app.include_router(ads_export_router)
    app.include_router(insights_router)
    app.include_router(custom_audiences_router)
    app.include_router(targeting_router)
    app.include_router(membership_router)
    app.include_router(webhooks_router)
    install_openapi(app)
    return app


def build_app() -> FastAPI:
    """Entry point for `uvicorn --factory audiences.main:build_app`."""
    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
