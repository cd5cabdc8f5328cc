"""Request and response bodies of the webhook routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal["audience.entered", "audience.left"]


class WebhookCreate(BaseModel):
    """Register a URL to receive signed `audience.entered` / `audience.left` events."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://automations.example.com/hooks/audiences",
                    "events": ["audience.entered", "audience.left"],
                    "audienceIds": ["aud-pro-tier-active", "seg_high_value"],
                }
            ]
        },
    )

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="http(s) URL on a public address (private addresses need "
        "AUDIENCES_WEBHOOK_ALLOW_PRIVATE=true).",
    )
    events: list[EventType] = Field(min_length=1, max_length=2, description="Event types to receive.")
    audienceIds: list[str] | None = Field(
        default=None,
        max_length=1000,
        description="Only changes of these segments or journey audiences; omit or null for all.",
    )


class Webhook(BaseModel):
    id: str
    url: str
    events: list[EventType]
    audienceIds: list[str] | None
    createdAt: str


class WebhookCreated(Webhook):
    secret: str = Field(description="Signing secret. Shown only in this response: store it now.")


class WebhookPage(BaseModel):
    items: list[Webhook]
    nextCursor: str | None


class DeliveryAttempt(BaseModel):
    at: str
    status: int | None = Field(description="HTTP status the receiver answered, null when none.")
    error: str | None
    durationMs: int


class Delivery(BaseModel):
    id: str = Field(description="Sent as `X-Audiences-Delivery`.")
    webhookId: str
    changeId: str = Field(description="The change announced; also the payload's `id`.")
    type: EventType
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    createdAt: str
    nextAttemptAt: str | None
    lastAttemptAt: str | None
    lastStatus: int | None
    lastError: str | None
    deliveredAt: str | None
    payload: dict[str, Any] = Field(description="The JSON body posted.")
    history: list[DeliveryAttempt] = Field(description="The latest tries, oldest first (up to 20).")


class DeliveryPage(BaseModel):
    items: list[Delivery]
    nextCursor: str | None
