"""Membership tracking: compare evaluation results with the stored state, record only
transitions, log them as changes and queue their webhook deliveries.

How one transition is written so that a crash at any point loses nothing and a repeat
duplicates nothing (the state document is the single source of truth):

1. The state document is flipped (`in`, `since`, `transitions = n`, `unlogged = true`)
   with a write conditioned on the previous `transitions` value, so of two concurrent
   writers only one wins the transition.
2. The change `chg_<hash(state document, its generation, n)>` is inserted (an id already stored is
   skipped), then one delivery per matching webhook (ids derived likewise).
3. The state document's `unlogged` flag is removed.

A transition left unlogged by a crash between 1 and 3 is finished by the next
`apply_membership` touching that subject, or by `repair_unlogged_transitions`, which
the background loop runs. Change `seq` numbers are handed out per org, under a
per-process lock, so a feed cursor never skips a change written by this process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import uuid
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audiences.clock import as_utc, truncate_ms
from audiences.db import Database, InsertOne, UpdateOne
from audiences.membership.cursor import decode_cursor, encode_cursor
from audiences.membership.errors import InvalidCursor
from audiences.membership.model import AudienceKind, Change, Membership, ReplaceResult
from audiences.membership.repository import ChangeRepository, JobRepository, StateRepository, state_key
from audiences.tenancy import TenantScope, system_scope
from audiences.webhooks.service import enqueue_deliveries

CHUNK = 1000

_seq_locks: weakref.WeakKeyDictionary[Database, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _seq_lock(db: Database, org_id: str) -> asyncio.Lock:
    return _seq_locks.setdefault(db, {}).setdefault(org_id, asyncio.Lock())


def _instant(value: dt.datetime) -> dt.datetime:
    return truncate_ms(as_utc(value))


def change_id(state_id: str, gen: str, transition: int) -> str:
    # `gen` is new each time the state document is created, so a subject tracked again
    # after `forget_audience` never reuses an id (nor the delivery ids derived from it).
    return "chg_" + hashlib.sha256(f"{state_id}|{gen}|{transition}".encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class _Transition:
    """Transition number `n` of one state document, as it is to be logged."""

    state_id: str
    gen: str
    claim: str
    n: int
    subject_id: str
    entered: bool
    at: dt.datetime
    definition_version: int

    @classmethod
    def from_state(cls, doc: dict[str, Any]) -> _Transition:
        return cls(
            state_id=doc["_id"],
            gen=doc["gen"],
            claim=doc["claim"],
            n=int(doc["transitions"]),
            subject_id=doc["subjectId"],
            entered=bool(doc["in"]),
            at=as_utc(doc["since"]),
            definition_version=int(doc["definitionVersion"]),
        )


async def _log_transitions(
    *,
    db: Database,
    scope: TenantScope,
    kind: AudienceKind,
    audience_id: str,
    transitions: Sequence[_Transition],
    now: dt.datetime,
    timeout_ms: int,
) -> list[Change]:
    """Steps 2 and 3 of the module docstring; returns the changes inserted by this call."""
    if not transitions:
        return []
    repo = ChangeRepository(db)
    async with _seq_lock(db, scope.org_id):
        first = await repo.reserve_seqs(scope, len(transitions))
        changes = [
            Change(
                id=change_id(t.state_id, t.gen, t.n),
                audience_kind=kind,
                audience_id=audience_id,
                subject_id=t.subject_id,
                change="entered" if t.entered else "left",
                at=t.at,
                definition_version=t.definition_version,
                seq=first + i,
            )
            for i, t in enumerate(transitions)
        ]
        inserted = await repo.insert(
            scope,
            [
                {
                    "_id": c.id,
                    "audienceKind": c.audience_kind,
                    "audienceId": c.audience_id,
                    "subjectId": c.subject_id,
                    "change": c.change,
                    "at": c.at,
                    "definitionVersion": c.definition_version,
                    "seq": c.seq,
                    "recordedAt": now,
                }
                for c in changes
            ],
        )
    # Deliveries for every transition, not only the inserted changes: a change already
    # stored may be one whose deliveries a crash kept from being queued.
    await enqueue_deliveries(db=db, scope=scope, changes=changes, now=now, timeout_ms=timeout_ms)
    by_claim: dict[str, list[str]] = {}
    for t in transitions:
        by_claim.setdefault(t.claim, []).append(t.state_id)
    for claim, state_ids in by_claim.items():
        await StateRepository(db).mark_logged(scope, claim, state_ids)
    return [c for c in changes if c.id in inserted]


async def _apply_chunk(
    *,
    db: Database,
    scope: TenantScope,
    kind: AudienceKind,
    audience_id: str,
    definition_version: int,
    desired: Mapping[str, bool],
    at: dt.datetime,
    now: dt.datetime,
    timeout_ms: int,
) -> list[Change]:
    states = StateRepository(db)
    stored = await states.load(scope, kind, audience_id, list(desired), timeout_ms=timeout_ms)
    claim = uuid.uuid4().hex
    # Transitions a crash left unlogged come first, so the log keeps their order.
    unfinished = [_Transition.from_state(d) for d in stored.values() if d.get("unlogged")]
    wanted: list[_Transition] = []
    ops: list[InsertOne | UpdateOne] = []
    claimed = {"claim": claim, "claimedAt": now, "unlogged": True}
    for subject_id, member in desired.items():
        doc = stored.get(subject_id)
        if member == bool(doc and doc["in"]):
            continue
        flip = {"in": member, "since": at, "definitionVersion": definition_version}
        if doc is None:
            state_id, gen, n = state_key(scope, kind, audience_id, subject_id), uuid.uuid4().hex, 1
            ops.append(
                InsertOne(
                    scope.stamp(
                        {"_id": state_id, "key": state_id, "audienceKind": kind, "audienceId": audience_id}
                        | {"subjectId": subject_id, "gen": gen, "transitions": 1}
                        | flip
                        | claimed
                    )
                )
            )
        else:
            state_id, gen, n = doc["_id"], doc["gen"], int(doc["transitions"]) + 1
            ops.append(
                UpdateOne(
                    scope.filter({"_id": state_id, "transitions": n - 1}),
                    {"$set": flip | claimed | {"transitions": n}},
                )
            )
        wanted.append(_Transition(state_id, gen, claim, n, subject_id, member, at, definition_version))
    if ops:
        summary = await states.write(ops)
        if summary.errors or summary.matched + summary.inserted < len(ops):
            # Lost races (another writer flipped the same subject first) drop out here.
            won = await states.claimed_ids(scope, [t.state_id for t in wanted], claim, timeout_ms=timeout_ms)
            wanted = [t for t in wanted if t.state_id in won]
    return await _log_transitions(
        db=db,
        scope=scope,
        kind=kind,
        audience_id=audience_id,
        transitions=unfinished + wanted,
        now=now,
        timeout_ms=timeout_ms,
    )


async def apply_membership(
    *,
    db: Database,
    scope: TenantScope,
    audience_kind: AudienceKind,
    audience_id: str,
    definition_version: int,
    results: Mapping[str, bool],
    at: dt.datetime,
    timeout_ms: int,
    now: dt.datetime | None = None,
) -> list[Change]:
    """Record the evaluation `results` (subject id → is a member at `at`) of one audience.

    Only subjects whose answer differs from the stored state produce a change (`entered`
    or `left`, at `at`, under `definition_version`); each change is queued for delivery to
    the org's matching webhooks. Subjects absent from `results` are untouched. Applying
    the same results again changes nothing and returns []. `now` (default `at`) is when
    the changes are recorded and their deliveries become due: pass the present whenever
    `at` is an earlier instant, or the deliveries' 24 h retry window starts in the past.
    """
    at = _instant(at)
    now = _instant(now or at)
    changes: list[Change] = []
    for chunk in itertools.batched(results.items(), CHUNK, strict=False):
        changes += await _apply_chunk(
            db=db,
            scope=scope,
            kind=audience_kind,
            audience_id=audience_id,
            definition_version=definition_version,
            desired=dict(chunk),
            at=at,
            now=now,
            timeout_ms=timeout_ms,
        )
    return changes


async def _chunks(members: Iterable[str] | AsyncIterable[str], size: int) -> AsyncIterator[list[str]]:
    if isinstance(members, AsyncIterable):
        chunk: list[str] = []
        async for subject_id in members:
            chunk.append(subject_id)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    else:
        for batch in itertools.batched(members, size, strict=False):
            yield list(batch)


async def replace_membership(
    *,
    db: Database,
    scope: TenantScope,
    audience_kind: AudienceKind,
    audience_id: str,
    definition_version: int,
    members: Iterable[str] | AsyncIterable[str],
    at: dt.datetime,
    timeout_ms: int,
    now: dt.datetime | None = None,
    on_progress: Callable[[int], Awaitable[object]] | None = None,
) -> ReplaceResult:
    """Make `members` (the complete member set at `at`, e.g. a recompute or a sweep) the
    audience's membership: subjects new to it enter, tracked members missing from it
    leave, through `apply_membership`. `members` may be a stream; it is read in chunks
    and `on_progress(processed)` is awaited after each chunk (raise from it to stop)."""
    current: set[str] = set()
    async for doc in StateRepository(db).member_ids(scope, audience_kind, audience_id, timeout_ms=timeout_ms):
        current.add(doc["subjectId"])
    seen: set[str] = set()
    entered = left = processed = 0

    async def apply(results: dict[str, bool]) -> list[Change]:
        return await apply_membership(
            db=db,
            scope=scope,
            audience_kind=audience_kind,
            audience_id=audience_id,
            definition_version=definition_version,
            results=results,
            at=at,
            now=now,
            timeout_ms=timeout_ms,
        )

    async for chunk in _chunks(members, CHUNK):
        fresh = [s for s in dict.fromkeys(chunk) if s not in seen]
        seen.update(fresh)
        changes = await apply({s: True for s in fresh if s not in current})
        entered += sum(c.change == "entered" for c in changes)
        current.difference_update(fresh)
        processed += len(chunk)
        if on_progress is not None:
            await on_progress(processed)
    for batch in itertools.batched(sorted(current), CHUNK, strict=False):
        changes = await apply(dict.fromkeys(batch, False))
        left += sum(c.change == "left" for c in changes)
    return ReplaceResult(members=len(seen), entered=entered, left=left)


async def repair_unlogged_transitions(
    *,
    db: Database,
    now: dt.datetime,
    timeout_ms: int,
    min_age: dt.timedelta = dt.timedelta(seconds=30),
    limit: int = 1000,
) -> int:
    """Finish transitions of every org whose change or deliveries a crash kept from being
    written. Only those claimed at least `min_age` ago are taken, to leave live writers
    alone (repeating their work would be harmless, only wasted). Returns how many."""
    now = _instant(now)
    docs = await StateRepository(db).unlogged(
        claimed_before=now - min_age, limit=limit, timeout_ms=timeout_ms
    )
    groups: dict[tuple[str, AudienceKind, str], list[_Transition]] = {}
    for doc in docs:
        key = (doc["orgId"], doc["audienceKind"], doc["audienceId"])
        groups.setdefault(key, []).append(_Transition.from_state(doc))
    for (org_id, kind, audience_id), transitions in groups.items():
        await _log_transitions(
            db=db,
            scope=system_scope(org_id),
            kind=kind,
            audience_id=audience_id,
            transitions=transitions,
            now=now,
            timeout_ms=timeout_ms,
        )
    return len(docs)


async def current_members(
    *, db: Database, scope: TenantScope, audience_kind: AudienceKind, audience_id: str, timeout_ms: int
) -> AsyncIterator[str]:
    """Subject ids tracked as members of the audience (streamed)."""
    async for doc in StateRepository(db).member_ids(scope, audience_kind, audience_id, timeout_ms=timeout_ms):
        yield doc["subjectId"]


async def subject_memberships(
    *, db: Database, scope: TenantScope, subject_id: str, timeout_ms: int
) -> list[Membership]:
    """Every audience the subject is tracked in, with since when (contact lookup)."""
    docs = await StateRepository(db).for_subject(scope, subject_id, timeout_ms=timeout_ms)
    return [
        Membership(
            audience_kind=d["audienceKind"],
            audience_id=d["audienceId"],
            since=as_utc(d["since"]),
            definition_version=int(d["definitionVersion"]),
        )
        for d in docs
    ]


async def forget_audience(
    *, db: Database, scope: TenantScope, audience_kind: AudienceKind, audience_id: str
) -> None:
    """Drop the tracked state, change log and job record of a deleted audience (queued
    deliveries still go out: they announce changes that did happen)."""
    await StateRepository(db).delete_audience(scope, audience_kind, audience_id)
    await ChangeRepository(db).delete_audience(scope, audience_kind, audience_id)
    await JobRepository(db).delete_audience(scope, audience_kind, audience_id)


@dataclass(frozen=True, slots=True)
class ChangePage:
    items: list[Change]
    next_cursor: str | None
    has_more: bool


async def list_changes(
    *,
    db: Database,
    scope: TenantScope,
    audience_kind: AudienceKind,
    audience_id: str,
    since: dt.datetime | None,
    cursor: str | None,
    limit: int,
    timeout_ms: int,
) -> ChangePage:
    """Changes of the audience, oldest first, at or after `since`, after `cursor`.

    `next_cursor` always resumes after the last item returned (or repeats `cursor` when
    none was), so a poller keeps it and comes back later; `has_more` says whether
    another page is already waiting.
    """
    after: int | None = None
    if cursor is not None:
        value = decode_cursor(cursor)
        if not isinstance(value, dict) or not isinstance(value.get("seq"), int):
            raise InvalidCursor("The cursor is not one this API returned.")
        after = value["seq"]
    docs = await ChangeRepository(db).page(
        scope,
        audience_kind,
        audience_id,
        after_seq=after,
        since=_instant(since) if since else None,
        limit=limit + 1,
        timeout_ms=timeout_ms,
    )
    has_more = len(docs) > limit
    docs = docs[:limit]
    items = [
        Change(
            id=d["_id"],
            audience_kind=d["audienceKind"],
            audience_id=d["audienceId"],
            subject_id=d["subjectId"],
            change=d["change"],
            at=as_utc(d["at"]),
            definition_version=int(d["definitionVersion"]),
            seq=int(d["seq"]),
        )
        for d in docs
    ]
    next_cursor = encode_cursor({"seq": items[-1].seq}) if items else cursor
    return ChangePage(items=items, next_cursor=next_cursor, has_more=has_more)
