"""What an audience kind (segments, journey audiences) gives membership tracking.

Each kind registers one `KindAdapter` (`register_kind_adapter`) at import. Tracking then
needs nothing else from the kind's feature:

- `list_definitions` / `get_definition` describe a definition as a `TrackedDefinition`:
  which contact fields and event names it reads, whether its answer can change with time
  alone, whether a bare new contact matches it, and which subject ids a static list
  names. That is what the trigger index stores.
- `evaluate_subjects` answers for a few subjects with the in-memory evaluator (ingest
  triggers, the contact lookup): contacts and their events are fetched in batched
  queries, never one query per subject.
- `members` streams the member ids with the production pipeline (recomputes, the sweep).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from audiences.db import Database
from audiences.membership.model import AUDIENCE_KINDS, AudienceKind
from audiences.tenancy import TenantScope


@dataclass(frozen=True, slots=True)
class TrackedDefinition:
    """A definition as the trigger index sees it."""

    kind: AudienceKind
    audience_id: str
    name: str
    version: int
    # Top-level contact field names the definition reads (`address.city` → `address`).
    fields: frozenset[str]
    # Event names the definition reads.
    events: frozenset[str]
    # True when the answer can change with the passing of time alone (`last_n_days`,
    # `{"$now": ...}` dates): such definitions are re-checked by the sweep.
    time_dependent: bool
    # True when a contact with only an id (no other field, no event) matches.
    matches_empty: bool
    # Ids of a static list (static segment, static cohort) the answer depends on; None
    # when the definition has none.
    subject_ids: frozenset[str] | None = None


class KindAdapter(Protocol):
    """One per audience kind; see the module docstring."""

    @property
    def kind(self) -> AudienceKind: ...

    async def list_definitions(
        self, *, db: Database, scope: TenantScope, timeout_ms: int
    ) -> list[TrackedDefinition]:
        """Every definition of the kind in the org."""
        ...

    async def get_definition(
        self, *, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int
    ) -> TrackedDefinition | None:
        """The definition, or None when it does not exist in the org."""
        ...

    async def evaluate_subjects(
        self,
        *,
        db: Database,
        scope: TenantScope,
        audience_id: str,
        subject_ids: Sequence[str],
        as_of: dt.datetime,
        timeout_ms: int,
    ) -> dict[str, bool]:
        """Whether each subject is a member at `as_of`, by the in-memory evaluator. Every
        requested id is answered (an unknown contact is not a member)."""
        ...

    def members(
        self, *, db: Database, scope: TenantScope, audience_id: str, as_of: dt.datetime, timeout_ms: int
    ) -> AsyncIterator[str]:
        """Member ids at `as_of`, by the production query (streamed)."""
        ...


_adapters: dict[AudienceKind, KindAdapter] = {}


def register_kind_adapter(adapter: KindAdapter) -> None:
    """Called once at import by the feature owning `adapter.kind`; a later call replaces it."""
    if adapter.kind not in AUDIENCE_KINDS:
        raise ValueError(f"unknown audience kind {adapter.kind!r}")
    _adapters[adapter.kind] = adapter


def kind_adapter(kind: AudienceKind) -> KindAdapter | None:
    return _adapters.get(kind)


def registered_adapters() -> list[KindAdapter]:
    """Registered adapters, in `AUDIENCE_KINDS` order."""
    return [_adapters[k] for k in AUDIENCE_KINDS if k in _adapters]
