"""Which audiences exist: the segments and journeys features register a checker per kind.

The membership routes (change feeds, membership status) ask here before answering, so an
id unknown in the org answers 404 like every other route. A kind with no checker
registered is not checked (its routes then answer from the change log alone).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from audiences.db import Database
from audiences.membership.errors import AudienceNotFound
from audiences.membership.model import AudienceKind
from audiences.segments.resolve import SegmentNotFound
from audiences.tenancy import TenantScope


class AudienceExists(Protocol):
    def __call__(
        self, *, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int
    ) -> Awaitable[bool]: ...


_checkers: dict[AudienceKind, AudienceExists] = {}


def register_audience_exists(kind: AudienceKind, checker: AudienceExists) -> None:
    """Called once at import by the feature that owns audiences of `kind`."""
    _checkers[kind] = checker


async def ensure_audience_exists(
    *, db: Database, scope: TenantScope, kind: AudienceKind, audience_id: str, timeout_ms: int
) -> None:
    """Raise the kind's 404 when its owner says `audience_id` does not exist in this org."""
    checker = _checkers.get(kind)
    if checker is None or await checker(db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms):
        return
    if kind == "segment":
        raise SegmentNotFound(f"No segment {audience_id!r} in this org.")
    raise AudienceNotFound(f"No audience {audience_id!r} in this org.")
