"""Indexes the service needs. Feature repositories register theirs at import time;
`ensure_indexes` creates them all at startup. Every compound index starts with `orgId`."""

from __future__ import annotations

from audiences.db.client import Database
from audiences.db.collection import IndexSpec

_REQUIRED: dict[str, list[IndexSpec]] = {}


def register_indexes(collection: str, *specs: IndexSpec) -> None:
    known = _REQUIRED.setdefault(collection, [])
    for spec in specs:
        if spec not in known:
            known.append(spec)


def required_indexes() -> dict[str, list[IndexSpec]]:
    return {name: list(specs) for name, specs in _REQUIRED.items()}


async def ensure_indexes(db: Database) -> None:
    for name, specs in _REQUIRED.items():
        for spec in specs:
            await db.collection(name).create_index(spec)
