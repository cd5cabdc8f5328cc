"""Every query of an answer carries `AUDIENCES_QUERY_TIMEOUT_MS`; a timeout is 503."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
import pytest
from pymongo.errors import ExecutionTimeout

from audiences.db import Database
from audiences.db.collection import DriverCollection
from audiences.journeys.schemas import TRIAL_ACTIVE_NOT_CONVERTED


class TestQueryTimeLimits:
    async def test_pipelines_carry_the_configured_time_limit(
        self, workspace: httpx.AsyncClient, settings: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen: list[int | None] = []
        original = DriverCollection.aggregate

        def spy(
            self: DriverCollection, pipeline: Sequence[Mapping[str, Any]], *, timeout_ms: int | None = None
        ) -> AsyncIterator[dict[str, Any]]:
            seen.append(timeout_ms)
            return original(self, pipeline, timeout_ms=timeout_ms)

        monkeypatch.setattr(DriverCollection, "aggregate", spy)
        r = await workspace.post("/api/audiences/dry-run", json={"predicate": TRIAL_ACTIVE_NOT_CONVERTED})
        assert r.status_code == 200
        assert seen
        assert set(seen) == {settings.query_timeout_ms}

    async def test_a_server_side_timeout_is_503_query_timeout(
        self, workspace: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        events = db.collection("events")
        raw = events._raw  # type: ignore[attr-defined]

        async def timed_out(*args: Any, **kwargs: Any) -> Any:
            raise ExecutionTimeout("operation exceeded time limit", 50)

        monkeypatch.setattr(raw, "aggregate", timed_out)
        r = await workspace.post("/api/audiences/dry-run", json={"predicate": TRIAL_ACTIVE_NOT_CONVERTED})
        assert r.status_code == 503
        assert r.json()["code"] == "query_timeout"
