"""The DuckDB engine of the embedded store: one database (a file in `AUDIENCES_DATA_DIR`,
or in memory for tests), queries run in worker threads (DuckDB releases the GIL while it
works, so one tenant's long query never blocks the event loop), a time limit that
interrupts the query (503 `query_timeout`, as on MongoDB), and one writer at a time
(DuckDB's optimistic concurrency would otherwise abort concurrent writers of a table).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from audiences.errors import QueryTimeout
from audiences.store.schema import DDL, SCHEMA_VERSION

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any] | None


class DuckEngine:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._con = duckdb.connect(str(path) if path is not None else ":memory:")
        self._write_lock = threading.Lock()
        with self._con.cursor() as cur:
            for statement in DDL:
                cur.execute(statement)
            cur.execute(
                "INSERT INTO store_meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
                [str(SCHEMA_VERSION)],
            )

    @property
    def description(self) -> str:
        return f"duckdb ({self.path if self.path is not None else 'memory'})"

    async def run(
        self, work: Callable[[duckdb.DuckDBPyConnection], T], *, timeout_ms: int | None, write: bool = False
    ) -> T:
        """Run `work` with a fresh cursor in a worker thread. Past `timeout_ms`, or when the
        awaiting task is cancelled (client disconnect), the query is interrupted."""
        cursor = self._con.cursor()

        def job() -> T:
            try:
                if write:
                    with self._write_lock:
                        return work(cursor)
                return work(cursor)
            finally:
                cursor.close()

        task = asyncio.ensure_future(asyncio.to_thread(job))
        try:
            return await asyncio.wait_for(
                asyncio.shield(task), None if timeout_ms is None else timeout_ms / 1000
            )
        except TimeoutError:
            cursor.interrupt()
            await asyncio.gather(task, return_exceptions=True)
            raise QueryTimeout() from None
        except asyncio.CancelledError:
            cursor.interrupt()
            raise

    async def fetchall(
        self, sql: str, params: Params = None, *, timeout_ms: int | None
    ) -> list[tuple[Any, ...]]:
        return await self.run(lambda cur: cur.execute(sql, params).fetchall(), timeout_ms=timeout_ms)

    async def fetchone(
        self, sql: str, params: Params = None, *, timeout_ms: int | None
    ) -> tuple[Any, ...] | None:
        return await self.run(lambda cur: cur.execute(sql, params).fetchone(), timeout_ms=timeout_ms)

    def close(self) -> None:
        self._con.close()
