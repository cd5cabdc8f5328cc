"""Webhook registration and delivery log routes (HTTP only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from audiences.auth import ReadScope, WriteScope
from audiences.clock import AppClock
from audiences.deps import AppSettings, Db
from audiences.webhooks import service
from audiences.webhooks.schemas import DeliveryPage, Webhook, WebhookCreate, WebhookCreated, WebhookPage

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size (1–1000).")]
Cursor = Annotated[str | None, Query(description="`nextCursor` of the previous page.")]


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    summary="Register a webhook",
    responses={409: {"description": "`webhook_limit_reached`: the org has the most webhooks allowed."}},
)
async def create_webhook(
    body: WebhookCreate, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> WebhookCreated:
    doc = await service.create_webhook(
        db=db,
        scope=scope,
        url=body.url,
        events=body.events,
        audience_ids=body.audienceIds,
        now=clock.now(),
        allow_private=settings.webhook_allow_private,
        timeout_ms=settings.query_timeout_ms,
    )
    return WebhookCreated.model_validate(service.public_webhook(doc, with_secret=True))


@router.get("", response_model=WebhookPage, summary="List webhooks (oldest first)")
async def list_webhooks(
    db: Db, scope: ReadScope, settings: AppSettings, limit: Limit = 100, cursor: Cursor = None
) -> WebhookPage:
    page = await service.list_webhooks(
        db=db, scope=scope, cursor=cursor, limit=limit, timeout_ms=settings.query_timeout_ms
    )
    return WebhookPage.model_validate({"items": page.items, "nextCursor": page.next_cursor})


@router.get("/{webhook_id}", response_model=Webhook, summary="Read a webhook (without its secret)")
async def get_webhook(webhook_id: str, db: Db, scope: ReadScope, settings: AppSettings) -> Webhook:
    doc = await service.get_webhook(
        db=db, scope=scope, webhook_id=webhook_id, timeout_ms=settings.query_timeout_ms
    )
    return Webhook.model_validate(service.public_webhook(doc))


@router.delete("/{webhook_id}", status_code=204, summary="Delete a webhook and its delivery log")
async def delete_webhook(webhook_id: str, db: Db, scope: WriteScope) -> Response:
    await service.delete_webhook(db=db, scope=scope, webhook_id=webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries", response_model=DeliveryPage, summary="A webhook's deliveries, newest first"
)
async def list_deliveries(
    webhook_id: str,
    db: Db,
    scope: ReadScope,
    settings: AppSettings,
    limit: Limit = 100,
    cursor: Cursor = None,
    state: Annotated[
        Literal["pending", "delivered", "failed"] | None, Query(description="Only deliveries in this state.")
    ] = None,
) -> DeliveryPage:
    page = await service.list_deliveries(
        db=db,
        scope=scope,
        webhook_id=webhook_id,
        state=state,
        cursor=cursor,
        limit=limit,
        timeout_ms=settings.query_timeout_ms,
    )
    return DeliveryPage.model_validate({"items": page.items, "nextCursor": page.next_cursor})
