"""The collection interface the repositories use, and its two implementations.

The PyMongo implementation passes calls straight through. The mongoeco one translates
only what differs (measured with pymongo 4.20 / mongoeco 4.11): `maxTimeMS` is
`max_time_ms`, `partialFilterExpression` is `partial_filter_expression`, write models
are mongoeco's own classes, and `list_indexes().to_list()` takes no argument.
Every read takes `timeout_ms`; a server-side timeout becomes `QueryTimeout` (503).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import mongoeco
import pymongo
from pymongo.errors import BulkWriteError, ExecutionTimeout

from audiences.errors import QueryTimeout

Document = dict[str, Any]
Filter = Mapping[str, Any]
Sort = Sequence[tuple[str, int]]


@dataclass(frozen=True, slots=True)
class InsertOne:
    document: Document


@dataclass(frozen=True, slots=True)
class UpdateOne:
    filter: Filter
    update: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    upsert: bool = False


@dataclass(frozen=True, slots=True)
class ReplaceOne:
    filter: Filter
    replacement: Document
    upsert: bool = False


@dataclass(frozen=True, slots=True)
class DeleteOne:
    filter: Filter


WriteOp = InsertOne | UpdateOne | ReplaceOne | DeleteOne


@dataclass(slots=True)
class WriteSummary:
    inserted: int = 0
    matched: int = 0
    modified: int = 0
    upserted: int = 0
    deleted: int = 0
    # (index in the request list, error code, message) for each operation that failed.
    errors: list[tuple[int, int, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class IndexSpec:
    keys: Sequence[tuple[str, int]]
    name: str | None = None
    unique: bool = False
    partial_filter: Mapping[str, Any] | None = None
    expire_after_seconds: int | None = None


@asynccontextmanager
async def _timeouts() -> AsyncIterator[None]:
    try:
        yield
    except ExecutionTimeout as exc:
        raise QueryTimeout() from exc


class Collection(Protocol):
    """What a repository may do with a collection."""

    @property
    def name(self) -> str: ...

    async def find_one(
        self,
        filter: Filter,
        *,
        projection: Mapping[str, Any] | None = None,
        sort: Sort | None = None,
        timeout_ms: int | None = None,
    ) -> Document | None: ...

    def find(
        self,
        filter: Filter,
        *,
        projection: Mapping[str, Any] | None = None,
        sort: Sort | None = None,
        limit: int | None = None,
        skip: int = 0,
        timeout_ms: int | None = None,
        batch_size: int | None = None,
    ) -> AsyncIterator[Document]: ...

    async def find_list(
        self,
        filter: Filter,
        *,
        projection: Mapping[str, Any] | None = None,
        sort: Sort | None = None,
        limit: int | None = None,
        skip: int = 0,
        timeout_ms: int | None = None,
    ) -> list[Document]: ...

    def aggregate(
        self, pipeline: Sequence[Mapping[str, Any]], *, timeout_ms: int | None = None
    ) -> AsyncIterator[Document]: ...

    async def aggregate_list(
        self, pipeline: Sequence[Mapping[str, Any]], *, timeout_ms: int | None = None
    ) -> list[Document]: ...

    async def count(self, filter: Filter, *, timeout_ms: int | None = None) -> int: ...

    async def distinct(self, key: str, filter: Filter, *, timeout_ms: int | None = None) -> list[Any]: ...

    async def insert_one(self, document: Document) -> None: ...

    async def insert_many(self, documents: Sequence[Document], *, ordered: bool = True) -> WriteSummary: ...

    async def update_one(
        self, filter: Filter, update: Mapping[str, Any], *, upsert: bool = False
    ) -> WriteSummary: ...

    async def update_many(self, filter: Filter, update: Mapping[str, Any]) -> WriteSummary: ...

    async def replace_one(
        self, filter: Filter, replacement: Document, *, upsert: bool = False
    ) -> WriteSummary: ...

    async def find_one_and_update(
        self,
        filter: Filter,
        update: Mapping[str, Any],
        *,
        upsert: bool = False,
        return_after: bool = True,
    ) -> Document | None: ...

    async def delete_one(self, filter: Filter) -> int: ...

    async def delete_many(self, filter: Filter) -> int: ...

    async def bulk_write(self, ops: Sequence[WriteOp], *, ordered: bool = False) -> WriteSummary: ...

    async def create_index(self, spec: IndexSpec) -> str: ...

    async def list_indexes(self) -> list[Document]: ...

    async def drop_index(self, name: str) -> None: ...


Backend = Literal["pymongo", "mongoeco"]


class DriverCollection:
    """One implementation for both drivers; `backend` selects the few spellings that differ."""

    def __init__(self, raw: Any, backend: Backend) -> None:
        self._raw = raw
        self._backend = backend

    @property
    def name(self) -> str:
        return str(self._raw.name)

    def _time_kw(self, timeout_ms: int | None, *, command: bool) -> dict[str, int]:
        if timeout_ms is None:
            return {}
        # PyMongo's aggregate/count_documents take the command option `maxTimeMS`;
        # its find() and every mongoeco method take `max_time_ms`.
        if self._backend == "pymongo" and command:
            return {"maxTimeMS": timeout_ms}
        return {"max_time_ms": timeout_ms}

    async def find_one(
        self,
        filter: Filter,
        *,
        projection: Mapping[str, Any] | None = None,
        sort: Sort | None = None,
        timeout_ms: int | None = None,
    ) -> Document | None:
        kw: dict[str, Any] = self._time_kw(timeout_ms, command=False)
        if sort:
            kw["sort"] = list(sort)
        async with _timeouts():
            doc = await self._raw.find_one(dict(filter), projection, **kw)
        return dict(doc) if doc is not None else None

    def _cursor(
        self,
        filter: Filter,
        projection: Mapping[str, Any] | None,
        sort: Sort | None,
        limit: int | None,
        skip: int,
        timeout_ms: int | None,
        batch_size: int | None,
    ) -> Any:
        kw: dict[str, Any] = self._time_kw(timeout_ms, command=False)
        if sort:
            kw["sort"] = list(sort)
        if limit:
            kw["limit"] = limit
        if skip:
            kw["skip"] = skip
        if batch_size:
            kw["batch_size"] = batch_size
        return self._raw.find(dict(filter), dict(projection) if projection else None, **kw)

    async def find(
        self,
        filter: Filter,
        *,
        projection: Mapping[str, Any] | None = None,
        sort: Sort | None = None,
        limit: int | None = None,
        skip: int = 0,
        timeout_ms: int | None = None,
        batch_size: int | None = None,
    ) -> AsyncIterator[Document]:
        cursor = self._cursor(filter, projection, sort, limit, skip, timeout_ms, batch_size)
        async with _timeouts():
            async for doc in cursor:
                yield dict(doc)

    async def find_list(
        self,
        filter: Filter,
        *,
        projection: Mapping[str, Any] | None = None,
        sort: Sort | None = None,
        limit: int | None = None,
        skip: int = 0,
        timeout_ms: int | None = None,
    ) -> list[Document]:
        cursor = self._cursor(filter, projection, sort, limit, skip, timeout_ms, None)
        async with _timeouts():
            return [dict(d) for d in await cursor.to_list()]

    async def aggregate(
        self, pipeline: Sequence[Mapping[str, Any]], *, timeout_ms: int | None = None
    ) -> AsyncIterator[Document]:
        async with _timeouts():
            cursor = await self._raw.aggregate(
                [dict(s) for s in pipeline], **self._time_kw(timeout_ms, command=True)
            )
            async for doc in cursor:
                yield dict(doc)

    async def aggregate_list(
        self, pipeline: Sequence[Mapping[str, Any]], *, timeout_ms: int | None = None
    ) -> list[Document]:
        return [doc async for doc in self.aggregate(pipeline, timeout_ms=timeout_ms)]

    async def count(self, filter: Filter, *, timeout_ms: int | None = None) -> int:
        async with _timeouts():
            return int(
                await self._raw.count_documents(dict(filter), **self._time_kw(timeout_ms, command=True))
            )

    async def distinct(self, key: str, filter: Filter, *, timeout_ms: int | None = None) -> list[Any]:
        async with _timeouts():
            return list(
                await self._raw.distinct(key, dict(filter), **self._time_kw(timeout_ms, command=True))
            )

    async def insert_one(self, document: Document) -> None:
        if self._backend == "mongoeco":
            # mongoeco's insert_one is ~100x slower than a one-document insert_many on SQLite.
            try:
                await self._raw.insert_many([document])
            except BulkWriteError as exc:
                raise _first_write_error(exc) from exc
            return
        await self._raw.insert_one(document)

    async def insert_many(self, documents: Sequence[Document], *, ordered: bool = True) -> WriteSummary:
        if not documents:
            return WriteSummary()
        try:
            result = await self._raw.insert_many(list(documents), ordered=ordered)
            return WriteSummary(inserted=len(result.inserted_ids))
        except BulkWriteError as exc:
            return _summary_from_bulk_error(exc)

    async def update_one(
        self, filter: Filter, update: Mapping[str, Any], *, upsert: bool = False
    ) -> WriteSummary:
        if upsert and self._backend == "mongoeco":
            return await self.bulk_write([UpdateOne(filter, update, upsert=True)], ordered=True)
        r = await self._raw.update_one(dict(filter), dict(update), upsert=upsert)
        return WriteSummary(
            matched=r.matched_count, modified=r.modified_count, upserted=int(r.upserted_id is not None)
        )

    async def update_many(self, filter: Filter, update: Mapping[str, Any]) -> WriteSummary:
        r = await self._raw.update_many(dict(filter), dict(update))
        return WriteSummary(matched=r.matched_count, modified=r.modified_count)

    async def replace_one(
        self, filter: Filter, replacement: Document, *, upsert: bool = False
    ) -> WriteSummary:
        r = await self._raw.replace_one(dict(filter), replacement, upsert=upsert)
        return WriteSummary(
            matched=r.matched_count, modified=r.modified_count, upserted=int(r.upserted_id is not None)
        )

    async def find_one_and_update(
        self,
        filter: Filter,
        update: Mapping[str, Any],
        *,
        upsert: bool = False,
        return_after: bool = True,
    ) -> Document | None:
        module: Any = mongoeco if self._backend == "mongoeco" else pymongo
        doc = await self._raw.find_one_and_update(
            dict(filter),
            dict(update),
            upsert=upsert,
            return_document=module.ReturnDocument.AFTER if return_after else module.ReturnDocument.BEFORE,
        )
        return dict(doc) if doc is not None else None

    async def delete_one(self, filter: Filter) -> int:
        return int((await self._raw.delete_one(dict(filter))).deleted_count)

    async def delete_many(self, filter: Filter) -> int:
        return int((await self._raw.delete_many(dict(filter))).deleted_count)

    async def bulk_write(self, ops: Sequence[WriteOp], *, ordered: bool = False) -> WriteSummary:
        if not ops:
            return WriteSummary()
        if self._backend == "mongoeco":
            return await _embedded_bulk_write(self._raw, ops, ordered=ordered)
        module: Any = pymongo
        requests: list[Any] = []
        for op in ops:
            match op:
                case InsertOne(document=doc):
                    requests.append(module.InsertOne(doc))
                case UpdateOne(filter=f, update=u, upsert=up):
                    requests.append(module.UpdateOne(dict(f), u, upsert=up))
                case ReplaceOne(filter=f, replacement=r, upsert=up):
                    requests.append(module.ReplaceOne(dict(f), r, upsert=up))
                case DeleteOne(filter=f):
                    requests.append(module.DeleteOne(dict(f)))
        try:
            r = await self._raw.bulk_write(requests, ordered=ordered)
        except BulkWriteError as exc:
            return _summary_from_bulk_error(exc)
        return WriteSummary(
            inserted=r.inserted_count,
            matched=r.matched_count,
            modified=r.modified_count,
            upserted=r.upserted_count,
            deleted=r.deleted_count,
        )

    async def create_index(self, spec: IndexSpec) -> str:
        kw: dict[str, Any] = {"unique": spec.unique}
        if spec.name:
            kw["name"] = spec.name
        if spec.expire_after_seconds is not None:
            kw["expireAfterSeconds" if self._backend == "pymongo" else "expire_after_seconds"] = (
                spec.expire_after_seconds
            )
        if spec.partial_filter is not None:
            key = "partialFilterExpression" if self._backend == "pymongo" else "partial_filter_expression"
            kw[key] = dict(spec.partial_filter)
        return str(await self._raw.create_index(list(spec.keys), **kw))

    async def list_indexes(self) -> list[Document]:
        cursor = self._raw.list_indexes()
        if self._backend == "pymongo":
            cursor = await cursor
        return [dict(i) for i in await cursor.to_list()]

    async def drop_index(self, name: str) -> None:
        await self._raw.drop_index(name)


def _summary_from_bulk_error(exc: BulkWriteError) -> WriteSummary:
    details: Any = exc.details or {}
    return WriteSummary(
        inserted=int(details.get("nInserted", 0)),
        matched=int(details.get("nMatched", 0)),
        modified=int(details.get("nModified", 0)),
        upserted=int(details.get("nUpserted", 0)),
        deleted=int(details.get("nRemoved", 0)),
        errors=[
            (int(e.get("index", -1)), int(e.get("code", 0)), str(e.get("errmsg", "write error")))
            for e in details.get("writeErrors", [])
        ],
    )


def _first_write_error(exc: BulkWriteError) -> Exception:
    from pymongo.errors import DuplicateKeyError, WriteError

    errors = (exc.details or {}).get("writeErrors") or [{}]
    first = errors[0]
    code = int(first.get("code", 0))
    cls = DuplicateKeyError if code == 11000 else WriteError
    return cls(str(first.get("errmsg", "write error")), code, first)


# Upserts the embedded backend can answer by building the new document itself.
_INSERT_BUILDERS = ("$set", "$setOnInsert")


def _document_for_upsert(
    filter: Filter, update: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> Document | None:
    """The document MongoDB would insert for this upsert, when that is simple to know
    (equality filter on plain fields; `$set`/`$setOnInsert`/`$inc` on plain fields)."""
    if not isinstance(update, Mapping):
        return None
    doc: Document = {}
    for key, value in filter.items():
        if (
            key.startswith("$")
            or "." in key
            or (isinstance(value, Mapping) and any(k.startswith("$") for k in value))
        ):
            return None
        doc[key] = value
    for operator, fields in update.items():
        if operator not in (*_INSERT_BUILDERS, "$inc") or not isinstance(fields, Mapping):
            return None
        for key, value in fields.items():
            if "." in key or key.startswith("$"):
                return None
            doc[key] = value
    return doc


async def _embedded_bulk_write(raw: Any, ops: Sequence[WriteOp], *, ordered: bool) -> WriteSummary:
    """mongoeco pays a full-collection cost per insert call and per lookup of an `_id` that
    does not exist, so the `_id`s of all upserts are looked up in one query, inserts
    (including upserts of new documents) are gathered into one insert_many, and updates of
    existing documents (cheap there) run one by one."""
    summary = WriteSummary()
    inserts: list[tuple[int, Document]] = []
    existing = await _existing_ids(raw, ops)
    for index, op in enumerate(ops):
        try:
            match op:
                case InsertOne(document=doc):
                    inserts.append((index, doc))
                case (
                    UpdateOne(filter=f, update=u, upsert=up) | ReplaceOne(filter=f, replacement=u, upsert=up)
                ):
                    replace = isinstance(op, ReplaceOne)
                    key = f.get("_id") if up else None
                    if key is not None and any(d.get("_id") == key for _, d in inserts):
                        # The same new `_id` twice in one batch: store the first, then update it.
                        await _flush_inserts(raw, ops, inserts, summary, ordered=ordered)
                        existing.add(_hashable(key))
                    await _embedded_update(
                        raw, index, dict(f), u, up, summary, inserts, replace=replace, existing=existing
                    )
                case DeleteOne(filter=f):
                    summary.deleted += int((await raw.delete_one(dict(f))).deleted_count)
        except Exception as exc:
            from pymongo.errors import PyMongoError

            if not isinstance(exc, PyMongoError):
                raise
            summary.errors.append((index, int(getattr(exc, "code", 0) or 0), str(exc)))
            if ordered:
                return summary
    await _flush_inserts(raw, ops, inserts, summary, ordered=ordered)
    summary.errors.sort()
    return summary


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) else repr(value)


async def _existing_ids(raw: Any, ops: Sequence[WriteOp]) -> set[Any]:
    keys = [
        op.filter["_id"]
        for op in ops
        if isinstance(op, UpdateOne | ReplaceOne) and op.upsert and isinstance(op.filter.get("_id"), str)
    ]
    if not keys:
        return set()
    found = await raw.find({"_id": {"$in": keys}}, {"_id": 1}).to_list()
    return {d["_id"] for d in found}


async def _flush_inserts(
    raw: Any,
    ops: Sequence[WriteOp],
    inserts: list[tuple[int, Document]],
    summary: WriteSummary,
    *,
    ordered: bool,
) -> None:
    if not inserts:
        return
    try:
        await raw.insert_many([doc for _, doc in inserts], ordered=ordered)
        inserted = len(inserts)
    except BulkWriteError as exc:
        details: Any = exc.details or {}
        inserted = int(details.get("nInserted", 0))
        for err in details.get("writeErrors", []):
            position = int(err.get("index", 0))
            summary.errors.append(
                (inserts[position][0], int(err.get("code", 0)), str(err.get("errmsg", "write error")))
            )
    upserted_positions = {i for i, _ in inserts if isinstance(ops[i], UpdateOne | ReplaceOne)}
    failed = {e[0] for e in summary.errors}
    summary.upserted += len(upserted_positions - failed)
    summary.inserted += inserted - len(upserted_positions - failed)
    inserts.clear()


async def _embedded_update(
    raw: Any,
    index: int,
    filter: Document,
    update: Any,
    upsert: bool,
    summary: WriteSummary,
    inserts: list[tuple[int, Document]],
    *,
    replace: bool,
    existing: set[Any],
) -> None:
    if upsert:
        key = filter.get("_id")
        if isinstance(key, str):
            missing = key not in existing
        else:
            missing = await raw.find_one(filter, {"_id": 1}) is None
        if missing:
            if replace:
                new_doc: Document | None = {**{k: v for k, v in filter.items() if k == "_id"}, **update}
            else:
                new_doc = _document_for_upsert(filter, update)
            if new_doc is not None:
                inserts.append((index, new_doc))
                return
    if replace:
        r = await raw.replace_one(filter, update, upsert=upsert)
    else:
        r = await raw.update_one(filter, update, upsert=upsert)
    summary.matched += r.matched_count
    summary.modified += r.modified_count
    summary.upserted += int(r.upserted_id is not None)
