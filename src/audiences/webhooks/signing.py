"""Webhook signatures: `sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>`.

The timestamp is signed with the body so a captured request cannot be replayed later
than the receiver's tolerance; `verify_signature` is the reference check (docs/webhooks.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

DELIVERY_HEADER = "X-Audiences-Delivery"
TIMESTAMP_HEADER = "X-Audiences-Timestamp"
SIGNATURE_HEADER = "X-Audiences-Signature"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str, *, timestamp: str, body: bytes, signature: str, now: int, tolerance_s: int = 300
) -> bool:
    """True when `signature` signs `timestamp` + `body` and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)
