"""The JSON body guard (issue 13, findings 4 and 8): strict JSON, bounded element count and
depth, and a chunked body over the byte limit answered with 413."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from audiences import bodies
from audiences.auth import mint_token
from audiences.bodies import json_body_problem
from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.db import Database
from audiences.main import create_app


class TestJsonBodyProblem:
    def test_ordinary_bodies_are_not_parsed(self) -> None:
        assert json_body_problem(b'{"a":[1,2,3],"b":"x, [y"}', max_elements=20) is None

    @pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
    def test_non_json_constants_are_refused(self, literal: bytes) -> None:
        problem = json_body_problem(b'{"a":' + literal + b"}", max_elements=20)
        assert problem is not None
        assert problem.code == "malformed_json"

    def test_the_word_nan_inside_a_string_is_fine(self) -> None:
        assert json_body_problem(b'{"a":"NaN and Infinity"}', max_elements=20) is None

    def test_counting_stops_at_the_limit(self) -> None:
        body = b"[" + b",".join([b"1"] * 100) + b"]"
        problem = json_body_problem(body, max_elements=100)
        assert problem is not None
        assert (problem.status, problem.code) == (413, "too_many_elements")
        assert json_body_problem(body, max_elements=101) is None

    def test_commas_inside_strings_do_not_refuse_a_small_body(self) -> None:
        body = b'["' + b"," * 500 + b'"]'
        assert json_body_problem(body, max_elements=10) is None

    def test_nesting_the_parser_cannot_follow(self) -> None:
        deep = b"[" * 100_000 + b"]" * 100_000
        assert json_body_problem(deep, max_elements=1_000_000) is None  # left to FastAPI's parse
        problem = json_body_problem(deep, max_elements=1_000)
        assert problem is not None
        assert problem.code == "json_too_deep"

    def test_an_ordinary_large_batch_is_not_parsed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        rows = [{"id": f"c{i}", "tags": ["a", "b"], "plan": {"seats": i}} for i in range(10_000)]
        body = json.dumps({"contacts": rows}).encode()

        def parse(*_: object, **__: object) -> None:
            raise AssertionError("parsed")

        monkeypatch.setattr(bodies.json, "loads", parse)
        assert json_body_problem(body, max_elements=1_000_000) is None

    def test_a_lone_surrogate_is_refused_with_its_path(self) -> None:
        problem = json_body_problem(b'{"a":[{"b":"x"},{"\\udc00":1}]}', max_elements=100)
        assert problem is not None
        assert (problem.code, [e.path for e in problem.errors]) == ("invalid_unicode", ["a[1]"])
        problem = json_body_problem(b'{"a":"\\uD800"}', max_elements=100)
        assert problem is not None
        assert [e.path for e in problem.errors] == ["a"]

    def test_an_escaped_surrogate_pair_is_one_character(self) -> None:
        assert json_body_problem(b'{"a":"\\ud83d\\ude00"}', max_elements=100) is None

    def test_batch_routes_check_unicode_per_row(self) -> None:
        body = b'{"a":"\\ud800"}'
        assert json_body_problem(body, max_elements=100, check_unicode=False) is None

    def test_malformed_json_is_left_to_the_route(self) -> None:
        assert json_body_problem(b"[" * 10 + b"1,", max_elements=100) is None


@pytest.fixture
async def small_client(
    settings: Settings, db: Database, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose body limit is 4 KiB."""
    small = settings.model_copy(update={"max_body_bytes": 4096})
    app = create_app(small, database=db, clock=clock)
    token = mint_token(small, orgs=["acme"], ttl=dt.timedelta(hours=1))
    headers = {"Authorization": f"Bearer {token}", "orgid": "acme", "content-type": "application/json"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
            yield c


class TestLoneSurrogates:
    async def test_a_segment_name_with_a_lone_surrogate_is_400(self, client: httpx.AsyncClient) -> None:
        body = b'{"name":"seg \\ud800","filter":{"datatype":"contact","where":{}}}'
        r = await client.post(
            "/api/crm/audiences/segments", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 400, r.text
        assert [(e["code"], e["path"]) for e in r.json()["errors"]] == [("invalid_unicode", "name")]
        listed = await client.get("/api/crm/audiences/segments")
        assert (listed.status_code, listed.json()["items"]) == (200, [])

    async def test_an_escaped_emoji_is_stored(self, client: httpx.AsyncClient) -> None:
        body = b'{"name":"seg \\ud83d\\ude00","filter":{"datatype":"contact","where":{}}}'
        r = await client.post(
            "/api/crm/audiences/segments", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "seg \U0001f600"


class TestBodyLimits:
    async def test_a_chunked_body_over_the_limit_is_413(self, small_client: httpx.AsyncClient) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"contacts":['
            for i in range(200):
                yield b'{"id":"c%d","note":"%s"},' % (i, b"x" * 40)
            yield b'{"id":"last"}]}'

        r = await small_client.post("/api/crm/contacts:batch", content=chunks())
        assert "content-length" not in r.request.headers
        assert r.status_code == 413, r.text
        assert r.json()["code"] == "payload_too_large"
        assert (await small_client.get("/api/crm/contacts/c0")).status_code == 404

    async def test_a_chunked_body_within_the_limit_is_read(self, small_client: httpx.AsyncClient) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"contacts":['
            yield b'{"id":"c1"}]}'

        r = await small_client.post("/api/crm/contacts:batch", content=chunks())
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 1
