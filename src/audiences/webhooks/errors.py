"""Errors of the webhooks feature."""

from __future__ import annotations

from audiences.errors import AppError, Conflict, NotFound


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    title = "Webhook not found"


class WebhookUrlNotAllowed(AppError):
    status = 400
    code = "webhook_url_not_allowed"
    title = "Webhook URL not allowed"


class WebhookUrlUnresolvable(AppError):
    status = 400
    code = "webhook_url_unresolvable"
    title = "Webhook host does not resolve"


class WebhookLimitReached(Conflict):
    code = "webhook_limit_reached"
    title = "Too many webhooks"
