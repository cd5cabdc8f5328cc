"""Journey audiences and cohorts: saving checked definitions, and answering them.

Predicates are checked (every problem at once, cohorts looked up in batched queries) and
then stored exactly as the caller sent them. Answers come from the predicate package:
`dry_run` and `members` run the compiled pipeline, `evaluate` the in-memory evaluator,
at one `asOf` instant.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
import unicodedata
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from audiences.clock import Clock, as_utc, format_instant, parse_evaluation_instant, truncate_ms
from audiences.config import Settings
from audiences.db import Database, DuplicateKeyError
from audiences.errors import AppError, Conflict, ErrorItem, ValidationFailed
from audiences.journeys.errors import (
    AudienceExists,
    AudienceNotFound,
    CohortExists,
    CohortInUse,
    CohortNotFound,
    SubjectNotFound,
)
from audiences.journeys.repository import AUDIENCES, COHORTS, DefinitionRepository, SubjectRepository
from audiences.journeys.schemas import AudienceBody, AudiencePatch, CohortBody, CohortPatch
from audiences.membership import recompute
from audiences.membership.cursor import decode_cursor, encode_cursor
from audiences.membership.errors import InvalidCursor
from audiences.predicates import (
    Cohort,
    Cohorts,
    DynamicCohort,
    Evaluation,
    Node,
    StaticCohort,
    cohort_problems,
    compile_predicate,
    evaluate_subject,
    load_cohorts,
    parse_predicate,
    predicate_dependencies,
    raw_cohort_references,
    referenced_ids,
)
from audiences.tenancy import TenantScope

SUBJECT_TYPES = ("end_user",)
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}[a-z0-9]$")
MAX_ID = 64
STREAM_BATCH = 500


# ---------------------------------------------------------------- predicates and cohorts


@dataclass(frozen=True, slots=True)
class ResolvedPredicate:
    """A parsed predicate with every cohort it reaches."""

    predicate: Node
    cohorts: Cohorts


def cohort_from_document(doc: dict[str, Any]) -> Cohort:
    raw = doc.get("predicate")
    if raw is None:
        return StaticCohort(str(doc["id"]), frozenset(doc.get("subjectIds") or ()))
    checked = parse_predicate(raw)
    if checked.predicate is None:  # stored predicates were checked on save
        raise AppError(f"Cohort {doc['id']!r} holds an invalid predicate.", code="internal_error", status=500)
    return DynamicCohort(str(doc["id"]), checked.predicate)


async def _examine(
    *,
    db: Database,
    scope: TenantScope,
    raw: Any,
    timeout_ms: int,
    self_id: str | None = None,
) -> tuple[ResolvedPredicate | None, list[ErrorItem]]:
    checked = parse_predicate(raw)
    repo = DefinitionRepository(db, COHORTS)
    if checked.predicate is None:
        # Unknown cohorts are reported with the other problems (one batched lookup).
        references = raw_cohort_references(raw)
        wanted = list(dict.fromkeys(i for i, _ in references))
        stored = await repo.get_many(scope, wanted, timeout_ms=timeout_ms) if wanted else []
        found = {d["id"] for d in stored}
        unknown = [
            ErrorItem("cohort_not_found", where, f"no cohort {cohort_id!r} in this workspace")
            for cohort_id, where in references
            if cohort_id not in found
        ]
        return None, sorted([*checked.errors, *unknown], key=lambda e: _path_order(e.path))

    async def load(ids: Sequence[str]) -> dict[str, Cohort]:
        docs = await repo.get_many(scope, ids, timeout_ms=timeout_ms)
        return {str(d["id"]): cohort_from_document(d) for d in docs}

    # A cohort being saved is checked in its new form (that is where a cycle would appear).
    known = {self_id: DynamicCohort(self_id, checked.predicate)} if self_id else None
    graph = await load_cohorts(checked.predicate, load, known=known)
    problems = cohort_problems(checked.predicate, graph)
    return (None if problems else ResolvedPredicate(checked.predicate, graph.cohorts)), problems


def _path_order(path: str) -> list[tuple[int, str | int]]:
    """Sort key for problems: the predicate node they are in, in document order
    (`clauses[2]` before `clauses[10]`); a stable sort keeps each node's own order."""
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", path) if p]
    last_node = max((i for i, p in enumerate(parts) if isinstance(p, int) or p == "clause"), default=0)
    return [(0, p) if isinstance(p, int) else (1, p) for p in parts[: last_node + 1]]


async def check_predicate(
    *,
    db: Database,
    scope: TenantScope,
    raw: Any,
    timeout_ms: int,
    problems: Sequence[ErrorItem] = (),
    self_id: str | None = None,
) -> ResolvedPredicate:
    """The predicate resolved, or `ValidationFailed` listing `problems` and every problem
    of the predicate (400)."""
    resolved, found = await _examine(db=db, scope=scope, raw=raw, timeout_ms=timeout_ms, self_id=self_id)
    errors = [*problems, *found]
    if errors or resolved is None:
        raise ValidationFailed(errors)
    return resolved


async def validate_predicate(
    *, db: Database, scope: TenantScope, raw: Any, timeout_ms: int
) -> list[ErrorItem]:
    """Every problem of `raw` (empty when it can be saved)."""
    return (await _examine(db=db, scope=scope, raw=raw, timeout_ms=timeout_ms))[1]


def resolve_as_of(text: str | None, clock: Clock, *, path: str = "asOf") -> dt.datetime:
    """The instant all windows end at: `text` (ISO-8601) or now, at millisecond precision."""
    if text is None:
        return truncate_ms(as_utc(clock.now()))
    try:
        return truncate_ms(parse_evaluation_instant(text))
    except ValueError as exc:
        raise ValidationFailed(
            [ErrorItem("invalid_as_of", path, f"asOf is not a usable ISO-8601 instant: {exc}")]
        ) from None


# ---------------------------------------------------------------- ids


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _id_problem(given: str | None) -> list[ErrorItem]:
    if given is None or ID_PATTERN.match(given):
        return []
    return [
        ErrorItem(
            "invalid_id",
            "id",
            "id must be 3–64 characters: lowercase letters, digits, `-` or `_`, starting and "
            "ending with a letter or digit",
        )
    ]


async def _insert_new(
    repo: DefinitionRepository,
    scope: TenantScope,
    doc: dict[str, Any],
    *,
    given: str | None,
    base: str,
    exists: type[Conflict],
) -> dict[str, Any]:
    if given is not None:
        try:
            await repo.insert(scope, {**doc, "id": given})
        except DuplicateKeyError:
            raise exists(f"{given!r} already exists in this org.") from None
        return {**doc, "id": given}
    base = base[:MAX_ID].rstrip("-")
    for attempt in range(8):
        # A short random suffix when the name's slug is taken.
        candidate = base if attempt == 0 else f"{base[: MAX_ID - 5].rstrip('-')}-{secrets.token_hex(2)}"
        try:
            await repo.insert(scope, {**doc, "id": candidate})
        except DuplicateKeyError:
            continue
        return {**doc, "id": candidate}
    raise exists(f"Could not find a free id for {base!r}; send one in `id`.")


def _cohort_base(name: str) -> str:
    """Cohort ids read like the seed's (`power-users`): the name's slug, made long enough."""
    slug = slugify(name)
    return slug if len(slug) >= 3 else f"cohort-{slug}".rstrip("-")


def _subject_type_problem(value: str | None) -> list[ErrorItem]:
    if value is None or value in SUBJECT_TYPES:
        return []
    return [
        ErrorItem(
            "unsupported_subject_type", "subjectType", f"subjectType {value!r} is not supported; use end_user"
        )
    ]


def _id_mismatch(given: str | None, path_id: str) -> list[ErrorItem]:
    if given is None or given == path_id:
        return []
    return [ErrorItem("id_mismatch", "id", f"the body's id {given!r} differs from the URL's {path_id!r}")]


# ---------------------------------------------------------------- audiences


async def get_audience(
    *, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int
) -> dict[str, Any]:
    doc = await DefinitionRepository(db, AUDIENCES).get(scope, audience_id, timeout_ms=timeout_ms)
    if doc is None:
        raise AudienceNotFound(f"No audience {audience_id!r} in this org.")
    return doc


async def list_audiences(
    *, db: Database, scope: TenantScope, project_key: str | None, timeout_ms: int
) -> list[dict[str, Any]]:
    where = {"projectKey": project_key} if project_key is not None else None
    return await DefinitionRepository(db, AUDIENCES).list_all(scope, where=where, timeout_ms=timeout_ms)


async def create_audience(
    *,
    db: Database,
    scope: TenantScope,
    body: AudienceBody,
    clock: Clock,
    settings: Settings,
) -> dict[str, Any]:
    resolved = await check_predicate(
        db=db,
        scope=scope,
        raw=body.predicate,
        timeout_ms=settings.query_timeout_ms,
        problems=[*_id_problem(body.id), *_subject_type_problem(body.subjectType)],
    )
    stamp = truncate_ms(as_utc(clock.now()))
    doc = {
        "projectKey": body.projectKey or settings.default_project_key,
        "name": body.name,
        "description": body.description,
        "subjectType": body.subjectType or "end_user",
        "predicate": body.predicate,
        "cohortIds": referenced_ids(resolved.predicate),
        "createdAt": stamp,
        "updatedAt": stamp,
        "version": 1,
    }
    stored = await _insert_new(
        DefinitionRepository(db, AUDIENCES),
        scope,
        doc,
        given=body.id,
        base=f"aud-{slugify(body.name) or 'audience'}",
        exists=AudienceExists,
    )
    await _audiences_changed(db=db, scope=scope, audience_ids=[stored["id"]], clock=clock, settings=settings)
    return stored


async def replace_audience(
    *,
    db: Database,
    scope: TenantScope,
    audience_id: str,
    body: AudienceBody,
    clock: Clock,
    settings: Settings,
) -> dict[str, Any]:
    timeout_ms = settings.query_timeout_ms
    current = await get_audience(db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms)
    resolved = await check_predicate(
        db=db,
        scope=scope,
        raw=body.predicate,
        timeout_ms=timeout_ms,
        problems=[*_id_mismatch(body.id, audience_id), *_subject_type_problem(body.subjectType)],
    )
    doc = {
        "id": audience_id,
        "projectKey": body.projectKey or settings.default_project_key,
        "name": body.name,
        "description": body.description,
        "subjectType": body.subjectType or "end_user",
        "predicate": body.predicate,
        "cohortIds": referenced_ids(resolved.predicate),
        "createdAt": current["createdAt"],
        "updatedAt": truncate_ms(as_utc(clock.now())),
        "version": int(current.get("version", 1)) + 1,
    }
    stored = await _store_replacement(DefinitionRepository(db, AUDIENCES), scope, doc, AudienceNotFound)
    await _audiences_changed(db=db, scope=scope, audience_ids=[audience_id], clock=clock, settings=settings)
    return stored


async def update_audience(
    *,
    db: Database,
    scope: TenantScope,
    audience_id: str,
    body: AudiencePatch,
    clock: Clock,
    settings: Settings,
) -> dict[str, Any]:
    timeout_ms = settings.query_timeout_ms
    current = await get_audience(db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms)
    given = body.model_fields_set
    problems = _subject_type_problem(body.subjectType)
    if "name" in given and body.name is None:
        problems.append(ErrorItem("name_required", "name", "name cannot be removed"))
    doc = {k: v for k, v in current.items() if k not in ("_id", "orgId")}
    if "predicate" in given:
        resolved = await check_predicate(
            db=db, scope=scope, raw=body.predicate, timeout_ms=timeout_ms, problems=problems
        )
        doc["predicate"] = body.predicate
        doc["cohortIds"] = referenced_ids(resolved.predicate)
    elif problems:
        raise ValidationFailed(problems)
    if "name" in given:
        doc["name"] = body.name
    if "description" in given:
        doc["description"] = body.description
    if "projectKey" in given:
        doc["projectKey"] = body.projectKey or settings.default_project_key
    if "subjectType" in given:
        doc["subjectType"] = body.subjectType or "end_user"
    doc["updatedAt"] = truncate_ms(as_utc(clock.now()))
    doc["version"] = int(current.get("version", 1)) + 1
    stored = await _store_replacement(DefinitionRepository(db, AUDIENCES), scope, doc, AudienceNotFound)
    await _audiences_changed(db=db, scope=scope, audience_ids=[audience_id], clock=clock, settings=settings)
    return stored


async def _store_replacement(
    repo: DefinitionRepository, scope: TenantScope, doc: dict[str, Any], missing: type[AppError]
) -> dict[str, Any]:
    if not await repo.replace(scope, doc):  # deleted meanwhile
        raise missing(f"{doc['id']!r} no longer exists in this org.")
    return doc


async def delete_audience(*, db: Database, scope: TenantScope, audience_id: str) -> None:
    if not await DefinitionRepository(db, AUDIENCES).delete(scope, audience_id):
        raise AudienceNotFound(f"No audience {audience_id!r} in this org.")
    await recompute.definition_deleted(db=db, scope=scope, kind="journey", audience_id=audience_id)


async def _audiences_changed(
    *, db: Database, scope: TenantScope, audience_ids: Sequence[str], clock: Clock, settings: Settings
) -> None:
    """Tell membership tracking (docs/membership.md): it re-indexes the audiences'
    triggers and recomputes their members in the background."""
    for audience_id in audience_ids:
        await recompute.definition_changed(
            db=db, scope=scope, kind="journey", audience_id=audience_id, clock=clock, settings=settings
        )


async def resolve_audience_predicate(
    *, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int
) -> ResolvedPredicate:
    """The saved audience's predicate with its cohorts (404 `audience_not_found`)."""
    doc = await get_audience(db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms)
    return await check_predicate(db=db, scope=scope, raw=doc["predicate"], timeout_ms=timeout_ms)


# ---------------------------------------------------------------- answers


@dataclass(frozen=True, slots=True)
class DryRun:
    count: int
    sample: list[dict[str, Any]]
    as_of: dt.datetime
    took_ms: float
    plan: str


async def _contacts_in_order(
    subjects: SubjectRepository, scope: TenantScope, ids: Sequence[str]
) -> list[dict[str, Any]]:
    by_id = {str(d["id"]): d for d in await subjects.contacts(scope, ids)}
    return [by_id[i] for i in ids if i in by_id]


async def dry_run(
    *,
    db: Database,
    scope: TenantScope,
    raw: Any,
    as_of: dt.datetime,
    sample_size: int,
    timeout_ms: int,
) -> DryRun:
    started = time.perf_counter()
    resolved = await check_predicate(db=db, scope=scope, raw=raw, timeout_ms=timeout_ms)
    compiled = compile_predicate(resolved.predicate, scope=scope, cohorts=resolved.cohorts, as_of=as_of)
    subjects = SubjectRepository(db)
    if sample_size:
        rows = await subjects.run(
            scope, compiled, compiled.dry_run_pipeline(sample=sample_size), timeout_ms=timeout_ms
        )
        facet = rows[0] if rows else {"count": [], "sample": []}
        count = int(facet["count"][0]["n"]) if facet["count"] else 0
        ids = [str(d["_id"]) for d in facet["sample"]][:sample_size]
    else:
        rows = await subjects.run(scope, compiled, compiled.count_pipeline(), timeout_ms=timeout_ms)
        count, ids = (int(rows[0]["n"]) if rows else 0), []
    sample = await _contacts_in_order(subjects, scope, ids)
    return DryRun(count, sample, as_of, round((time.perf_counter() - started) * 1000, 3), compiled.plan)


async def evaluate_audience(
    *,
    db: Database,
    scope: TenantScope,
    audience_id: str,
    subject_id: str,
    as_of: dt.datetime,
    timeout_ms: int,
) -> Evaluation:
    resolved = await resolve_audience_predicate(
        db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms
    )
    subjects = SubjectRepository(db)
    contact = await subjects.contact(scope, subject_id)
    if contact is None:
        raise SubjectNotFound(f"No subject (contact) {subject_id!r} in this org.")
    names = sorted(predicate_dependencies(resolved.predicate, resolved.cohorts).event_names)
    events = await subjects.events(scope, [subject_id], names, timeout_ms=timeout_ms)
    return evaluate_subject(
        resolved.predicate, subject=contact, events=events, cohorts=resolved.cohorts, as_of=as_of
    )


async def evaluate_subjects(
    *,
    db: Database,
    scope: TenantScope,
    audience_id: str,
    subject_ids: Sequence[str],
    as_of: dt.datetime,
    timeout_ms: int,
) -> dict[str, bool]:
    """Membership of each subject at `as_of` by the in-memory evaluator: one query for the
    contacts, one for their events. Unknown subjects are not members."""
    resolved = await resolve_audience_predicate(
        db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms
    )
    subjects = SubjectRepository(db)
    ids = list(dict.fromkeys(subject_ids))
    contacts = {str(d["id"]): d for d in await subjects.contacts(scope, ids)}
    names = sorted(predicate_dependencies(resolved.predicate, resolved.cohorts).event_names)
    events_by_subject: dict[str, list[dict[str, Any]]] = {}
    for event in await subjects.events(scope, list(contacts), names, timeout_ms=timeout_ms):
        events_by_subject.setdefault(str(event["userId"]), []).append(event)
    return {
        subject_id: subject_id in contacts
        and evaluate_subject(
            resolved.predicate,
            subject=contacts[subject_id],
            events=events_by_subject.get(subject_id, ()),
            cohorts=resolved.cohorts,
            as_of=as_of,
            explain=False,
        ).matched
        for subject_id in ids
    }


def encode_members_cursor(last_id: str, as_of: dt.datetime) -> str:
    return encode_cursor({"after": last_id, "asOf": format_instant(as_of)})


def decode_members_cursor(cursor: str) -> tuple[str, dt.datetime]:
    """`(after, asOf)`: a cursor pins the instant of the first page, so pages agree."""
    value = decode_cursor(cursor)
    try:
        return str(value["after"]), parse_evaluation_instant(str(value["asOf"]))
    except (ValueError, KeyError, TypeError):
        raise InvalidCursor("The cursor is not one this API returned.") from None


@dataclass(frozen=True, slots=True)
class MembersPage:
    items: list[dict[str, Any]]
    next_after: str | None


async def members_page(
    *,
    db: Database,
    scope: TenantScope,
    audience_id: str,
    after: str | None,
    limit: int,
    as_of: dt.datetime,
    timeout_ms: int,
) -> MembersPage:
    resolved = await resolve_audience_predicate(
        db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms
    )
    compiled = compile_predicate(resolved.predicate, scope=scope, cohorts=resolved.cohorts, as_of=as_of)
    subjects = SubjectRepository(db)
    rows = await subjects.run(
        scope, compiled, compiled.ids_pipeline(after=after, limit=limit + 1), timeout_ms=timeout_ms
    )
    ids = [str(r["_id"]) for r in rows]
    more = len(ids) > limit
    ids = ids[:limit]
    return MembersPage(await _contacts_in_order(subjects, scope, ids), ids[-1] if more and ids else None)


async def member_ids(
    *,
    db: Database,
    scope: TenantScope,
    resolved: ResolvedPredicate,
    as_of: dt.datetime,
    after: str | None = None,
    timeout_ms: int,
) -> AsyncIterator[str]:
    """Every member id in ascending order, streamed from the pipeline's cursor."""
    compiled = compile_predicate(resolved.predicate, scope=scope, cohorts=resolved.cohorts, as_of=as_of)
    async for row in SubjectRepository(db).stream(
        scope, compiled, compiled.ids_pipeline(after=after), timeout_ms=timeout_ms
    ):
        yield str(row["_id"])


async def stream_members(
    *,
    db: Database,
    scope: TenantScope,
    resolved: ResolvedPredicate,
    as_of: dt.datetime,
    after: str | None,
    timeout_ms: int,
) -> AsyncIterator[dict[str, Any]]:
    """Member contacts in id order, fetched in batches: memory stays flat."""
    subjects = SubjectRepository(db)
    batch: list[str] = []
    async for subject_id in member_ids(
        db=db, scope=scope, resolved=resolved, as_of=as_of, after=after, timeout_ms=timeout_ms
    ):
        batch.append(subject_id)
        if len(batch) >= STREAM_BATCH:
            for doc in await _contacts_in_order(subjects, scope, batch):
                yield doc
            batch = []
    for doc in await _contacts_in_order(subjects, scope, batch):
        yield doc


# ---------------------------------------------------------------- cohorts


def _cohort_definition_problems(
    subject_ids: list[str] | None, predicate: Any, *, max_subject_ids: int
) -> list[ErrorItem]:
    if (subject_ids is None) == (predicate is None):
        return [
            ErrorItem(
                "invalid_cohort_definition",
                "subjectIds" if subject_ids is not None else "predicate",
                "a cohort has either `subjectIds` (static) or `predicate` (dynamic), exactly one",
            )
        ]
    problems = []
    if subject_ids is not None:
        if len(subject_ids) > max_subject_ids:
            problems.append(
                ErrorItem("too_many_subject_ids", "subjectIds", f"at most {max_subject_ids} ids per cohort")
            )
        problems.extend(
            ErrorItem("invalid_subject_id", f"subjectIds[{i}]", "ids are 1–256 characters")
            for i, s in enumerate(subject_ids)
            if not s.strip() or len(s) > 256
        )
    return problems


async def get_cohort(*, db: Database, scope: TenantScope, cohort_id: str, timeout_ms: int) -> dict[str, Any]:
    doc = await DefinitionRepository(db, COHORTS).get(scope, cohort_id, timeout_ms=timeout_ms)
    if doc is None:
        raise CohortNotFound(f"No cohort {cohort_id!r} in this org.")
    return doc


async def list_cohorts(*, db: Database, scope: TenantScope, timeout_ms: int) -> list[dict[str, Any]]:
    return await DefinitionRepository(db, COHORTS).list_all(scope, timeout_ms=timeout_ms)


async def _cohort_fields(
    *,
    db: Database,
    scope: TenantScope,
    cohort_id: str | None,
    subject_ids: list[str] | None,
    predicate: Any,
    problems: list[ErrorItem],
    max_subject_ids: int,
    timeout_ms: int,
) -> dict[str, Any]:
    problems = [
        *problems,
        *_cohort_definition_problems(subject_ids, predicate, max_subject_ids=max_subject_ids),
    ]
    if predicate is not None:
        resolved = await check_predicate(
            db=db, scope=scope, raw=predicate, timeout_ms=timeout_ms, problems=problems, self_id=cohort_id
        )
        return {"predicate": predicate, "cohortIds": referenced_ids(resolved.predicate)}
    if problems:
        raise ValidationFailed(problems)
    return {"subjectIds": subject_ids, "cohortIds": []}


async def create_cohort(
    *,
    db: Database,
    scope: TenantScope,
    body: CohortBody,
    clock: Clock,
    settings: Settings,
) -> dict[str, Any]:
    definition = await _cohort_fields(
        db=db,
        scope=scope,
        cohort_id=body.id,
        subject_ids=body.subjectIds,
        predicate=body.predicate,
        problems=_id_problem(body.id),
        max_subject_ids=settings.max_batch,
        timeout_ms=settings.query_timeout_ms,
    )
    stamp = truncate_ms(as_utc(clock.now()))
    doc = {
        "name": body.name,
        "description": body.description,
        **definition,
        "createdAt": stamp,
        "updatedAt": stamp,
        "version": 1,
    }
    return await _insert_new(
        DefinitionRepository(db, COHORTS),
        scope,
        doc,
        given=body.id,
        base=_cohort_base(body.name),
        exists=CohortExists,
    )


async def replace_cohort(
    *,
    db: Database,
    scope: TenantScope,
    cohort_id: str,
    body: CohortBody,
    clock: Clock,
    settings: Settings,
) -> dict[str, Any]:
    timeout_ms = settings.query_timeout_ms
    current = await get_cohort(db=db, scope=scope, cohort_id=cohort_id, timeout_ms=timeout_ms)
    definition = await _cohort_fields(
        db=db,
        scope=scope,
        cohort_id=cohort_id,
        subject_ids=body.subjectIds,
        predicate=body.predicate,
        problems=_id_mismatch(body.id, cohort_id),
        max_subject_ids=settings.max_batch,
        timeout_ms=timeout_ms,
    )
    doc = {
        "id": cohort_id,
        "name": body.name,
        "description": body.description,
        **definition,
        "createdAt": current["createdAt"],
        "updatedAt": truncate_ms(as_utc(clock.now())),
        "version": int(current.get("version", 1)) + 1,
    }
    stored = await _store_replacement(DefinitionRepository(db, COHORTS), scope, doc, CohortNotFound)
    await _cohort_changed(db=db, scope=scope, cohort_id=cohort_id, clock=clock, settings=settings)
    return stored


async def update_cohort(
    *,
    db: Database,
    scope: TenantScope,
    cohort_id: str,
    body: CohortPatch,
    clock: Clock,
    settings: Settings,
) -> dict[str, Any]:
    timeout_ms = settings.query_timeout_ms
    current = await get_cohort(db=db, scope=scope, cohort_id=cohort_id, timeout_ms=timeout_ms)
    given = body.model_fields_set
    problems = []
    if "name" in given and body.name is None:
        problems.append(ErrorItem("name_required", "name", "name cannot be removed"))
    doc = {k: v for k, v in current.items() if k not in ("_id", "orgId", "subjectIds", "predicate")}
    if body.subjectIds is not None or body.predicate is not None:
        # Giving one definition replaces the other (a static cohort may become dynamic).
        doc.update(
            await _cohort_fields(
                db=db,
                scope=scope,
                cohort_id=cohort_id,
                subject_ids=body.subjectIds,
                predicate=body.predicate,
                problems=problems,
                max_subject_ids=settings.max_batch,
                timeout_ms=timeout_ms,
            )
        )
    else:
        if problems:
            raise ValidationFailed(problems)
        doc.update({k: current[k] for k in ("subjectIds", "predicate") if k in current})
    if "name" in given:
        doc["name"] = body.name
    if "description" in given:
        doc["description"] = body.description
    doc["updatedAt"] = truncate_ms(as_utc(clock.now()))
    doc["version"] = int(current.get("version", 1)) + 1
    stored = await _store_replacement(DefinitionRepository(db, COHORTS), scope, doc, CohortNotFound)
    await _cohort_changed(db=db, scope=scope, cohort_id=cohort_id, clock=clock, settings=settings)
    return stored


async def _cohort_changed(
    *, db: Database, scope: TenantScope, cohort_id: str, clock: Clock, settings: Settings
) -> None:
    """Every audience using the cohort, directly or through other cohorts, now means
    something else: its version moves on and membership tracking recomputes it."""
    timeout_ms = settings.query_timeout_ms
    cohorts, audiences = DefinitionRepository(db, COHORTS), DefinitionRepository(db, AUDIENCES)
    affected, frontier = {cohort_id}, [cohort_id]
    while frontier:  # one query per level of cohorts using cohorts
        users = await cohorts.ids_using_cohorts(scope, frontier, timeout_ms=timeout_ms)
        frontier = [c for c in users if c not in affected]
        affected.update(frontier)
    audience_ids = await audiences.ids_using_cohorts(scope, sorted(affected), timeout_ms=timeout_ms)
    if audience_ids:
        await audiences.bump_versions(scope, audience_ids)
        await _audiences_changed(
            db=db, scope=scope, audience_ids=audience_ids, clock=clock, settings=settings
        )


async def delete_cohort(*, db: Database, scope: TenantScope, cohort_id: str, timeout_ms: int) -> None:
    await get_cohort(db=db, scope=scope, cohort_id=cohort_id, timeout_ms=timeout_ms)
    audiences = await DefinitionRepository(db, AUDIENCES).ids_using_cohorts(
        scope, [cohort_id], timeout_ms=timeout_ms
    )
    users_of = await DefinitionRepository(db, COHORTS).ids_using_cohorts(
        scope, [cohort_id], timeout_ms=timeout_ms
    )
    cohorts = [c for c in users_of if c != cohort_id]
    if audiences or cohorts:
        users = [f"audience {a}" for a in audiences] + [f"cohort {c}" for c in cohorts]
        raise CohortInUse(
            f"Cohort {cohort_id!r} is used by {', '.join(users)}; change them first.",
            extra={"usedBy": {"audiences": audiences, "cohorts": cohorts}},
        )
    if not await DefinitionRepository(db, COHORTS).delete(scope, cohort_id):
        raise CohortNotFound(f"No cohort {cohort_id!r} in this org.")
