"""Webhook registrations and the delivery queue they are fed from.

`enqueue_deliveries` is what membership tracking calls for each batch of new changes:
it stores one pending delivery per (change, matching webhook) — before any try — and
wakes the worker. Ingestion therefore never waits for a receiver.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from audiences.clock import as_utc, format_instant, truncate_ms
from audiences.db import Database
from audiences.documents import jsonable
from audiences.membership.cursor import decode_cursor, encode_cursor
from audiences.membership.errors import InvalidCursor
from audiences.membership.model import Change
from audiences.tenancy import TenantScope
from audiences.webhooks.delivery import DEFAULT_POLICY, wake_delivery_worker
from audiences.webhooks.egress import Resolver, check_webhook_url, resolve_host
from audiences.webhooks.errors import WebhookLimitReached, WebhookNotFound
from audiences.webhooks.repository import DeliveryRepository, WebhookRepository
from audiences.webhooks.signing import new_secret

EVENT_TYPES = ("audience.entered", "audience.left")
MAX_WEBHOOKS_PER_ORG = 100
RETENTION = dt.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def public_webhook(doc: dict[str, Any], *, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": doc["_id"],
        "url": doc["url"],
        "events": list(doc["events"]),
        "audienceIds": doc.get("audienceIds"),
        "createdAt": format_instant(doc["createdAt"]),
    }
    if with_secret:
        out["secret"] = doc["secret"]
    return out


def public_delivery(doc: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = jsonable(
        {
            "id": doc["_id"],
            "webhookId": doc["webhookId"],
            "changeId": doc["changeId"],
            "type": doc["type"],
            "state": doc["state"],
            "attempts": doc.get("attempts", 0),
            "createdAt": doc["createdAt"],
            "nextAttemptAt": doc.get("nextAttemptAt") if doc["state"] == "pending" else None,
            "lastAttemptAt": doc.get("lastAttemptAt"),
            "lastStatus": doc.get("lastStatus"),
            "lastError": doc.get("lastError"),
            "deliveredAt": doc.get("deliveredAt"),
            "payload": json.loads(doc["body"]),
            "history": doc.get("history", []),
        }
    )
    return shown


def _page_key(cursor: str | None) -> tuple[dt.datetime, str] | None:
    if cursor is None:
        return None
    value = decode_cursor(cursor)
    try:
        created, last_id = value
        return dt.datetime.fromisoformat(created), str(last_id)
    except (TypeError, ValueError) as exc:
        raise InvalidCursor("The cursor is not one this API returned.") from exc


def _next_cursor(docs: list[dict[str, Any]], limit: int) -> str | None:
    if len(docs) < limit:
        return None
    last = docs[-1]
    return encode_cursor([as_utc(last["createdAt"]).isoformat(), last["_id"]])


async def create_webhook(
    *,
    db: Database,
    scope: TenantScope,
    url: str,
    events: Sequence[str],
    audience_ids: Sequence[str] | None,
    now: dt.datetime,
    allow_private: bool,
    timeout_ms: int,
    resolve: Resolver = resolve_host,
) -> dict[str, Any]:
    """Register a webhook; the returned document holds the signing secret."""
    await check_webhook_url(url, allow_private=allow_private, resolve=resolve)
    repo = WebhookRepository(db)
    if await repo.count(scope, timeout_ms=timeout_ms) >= MAX_WEBHOOKS_PER_ORG:
        raise WebhookLimitReached(f"An org may register at most {MAX_WEBHOOKS_PER_ORG} webhooks.")
    doc: dict[str, Any] = {
        "_id": "wh_" + secrets.token_hex(12),
        "url": url,
        "events": list(dict.fromkeys(events)),
        "audienceIds": list(dict.fromkeys(audience_ids)) if audience_ids is not None else None,
        "secret": new_secret(),
        "createdAt": truncate_ms(as_utc(now)),
    }
    await repo.insert(scope, doc)
    return doc


async def get_webhook(
    *, db: Database, scope: TenantScope, webhook_id: str, timeout_ms: int
) -> dict[str, Any]:
    doc = await WebhookRepository(db).get(scope, webhook_id, timeout_ms=timeout_ms)
    if doc is None:
        raise WebhookNotFound(f"No webhook {webhook_id!r} in this org.")
    return doc


async def list_webhooks(
    *, db: Database, scope: TenantScope, cursor: str | None, limit: int, timeout_ms: int
) -> Page:
    docs = await WebhookRepository(db).page(
        scope, after=_page_key(cursor), limit=limit, timeout_ms=timeout_ms
    )
    return Page([public_webhook(d) for d in docs], _next_cursor(docs, limit))


async def delete_webhook(*, db: Database, scope: TenantScope, webhook_id: str) -> None:
    """Remove the webhook and its delivery log; nothing more is sent to it."""
    if not await WebhookRepository(db).delete(scope, webhook_id):
        raise WebhookNotFound(f"No webhook {webhook_id!r} in this org.")
    await DeliveryRepository(db).delete_for_webhook(scope, webhook_id)


async def list_deliveries(
    *,
    db: Database,
    scope: TenantScope,
    webhook_id: str,
    state: str | None,
    cursor: str | None,
    limit: int,
    timeout_ms: int,
) -> Page:
    """Deliveries of one webhook, newest first."""
    await get_webhook(db=db, scope=scope, webhook_id=webhook_id, timeout_ms=timeout_ms)
    docs = await DeliveryRepository(db).page(
        scope, webhook_id, state=state, after=_page_key(cursor), limit=limit, timeout_ms=timeout_ms
    )
    return Page([public_delivery(d) for d in docs], _next_cursor(docs, limit))


def event_payload(change: Change) -> dict[str, Any]:
    """The JSON body of a delivery (docs/webhooks.md)."""
    return {
        "id": change.id,
        "type": change.event_type,
        "audienceId": change.audience_id,
        "audienceKind": change.audience_kind,
        "subjectId": change.subject_id,
        "at": format_instant(change.at),
        "definitionVersion": change.definition_version,
    }


def delivery_id(change_id: str, webhook_id: str) -> str:
    """Derived from the pair, so enqueuing the same change twice stores one delivery."""
    return "dlv_" + hashlib.sha256(f"{change_id}|{webhook_id}".encode()).hexdigest()[:24]


def _wants(hook: dict[str, Any], change: Change) -> bool:
    audience_ids = hook.get("audienceIds")
    return change.event_type in hook["events"] and (
        audience_ids is None or change.audience_id in audience_ids
    )


async def enqueue_deliveries(
    *, db: Database, scope: TenantScope, changes: Sequence[Change], now: dt.datetime, timeout_ms: int
) -> int:
    """Store a pending delivery for every (change, webhook that wants it); returns how many
    were new. Safe to call again for the same changes."""
    if not changes:
        return 0
    hooks = await WebhookRepository(db).all(scope, timeout_ms=timeout_ms)
    if not hooks:
        return 0
    now = truncate_ms(as_utc(now))
    docs = [
        {
            "_id": delivery_id(change.id, hook["_id"]),
            "webhookId": hook["_id"],
            "changeId": change.id,
            "type": change.event_type,
            # Stored as sent: every try posts (and signs) exactly these bytes.
            "body": json.dumps(event_payload(change), separators=(",", ":")),
            "state": "pending",
            "attempts": 0,
            "createdAt": now,
            "expiresAt": truncate_ms(now + DEFAULT_POLICY.window),
            "nextAttemptAt": now,
            "lastAttemptAt": None,
            "lastStatus": None,
            "lastError": None,
            "deliveredAt": None,
            # No `finishedAt` until it ends: mongoeco matches null with `$lt: <date>`.
            "history": [],
        }
        for change in changes
        for hook in hooks
        if _wants(hook, change)
    ]
    if not docs:
        return 0
    inserted = await DeliveryRepository(db).insert(scope, docs)
    if inserted:
        wake_delivery_worker(db)
    return inserted


async def purge_finished_deliveries(*, db: Database, now: dt.datetime) -> int:
    """Drop deliveries (of every org) that ended more than `RETENTION` before `now`."""
    return await DeliveryRepository(db).purge_finished(before=truncate_ms(as_utc(now)) - RETENTION)
