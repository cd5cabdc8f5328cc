"""Hostile contact rows (issue 13, findings 1, 3, 8): each bad row is rejected by index with
a code and a path, the other rows are stored, and nothing answers 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from audiences.config import Settings


async def send(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post(
        "/api/crm/contacts:batch", content=text.encode(), headers={"content-type": "application/json"}
    )


def rejects(r: httpx.Response) -> list[tuple[int, str, str | None]]:
    assert r.status_code == 200, r.text
    return [(x["index"], x["code"], x["path"]) for x in r.json()["rejected"]]


class TestHostileValues:
    @pytest.mark.parametrize(
        ("literal", "code"),
        [
            ("1e309", "non_finite_number"),
            ("-1e309", "non_finite_number"),
            (str(2**64), "integer_out_of_range"),
            (str(2**63), "integer_out_of_range"),
            (str(-(2**63) - 1), "integer_out_of_range"),
            ('"\\ud800"', "invalid_unicode"),
            ('["ok", "\\udc00"]', "invalid_unicode"),
        ],
    )
    async def test_a_bad_value_rejects_only_its_row(
        self, client: httpx.AsyncClient, literal: str, code: str
    ) -> None:
        r = await send(client, '{"contacts":[{"id":"g1"},{"id":"b","score":' + literal + '},{"id":"g2"}]}')
        path = "score[1]" if literal.startswith("[") else "score"
        assert rejects(r) == [(1, code, path)]
        assert r.json()["accepted"] == 2
        for good in ("g1", "g2"):
            assert (await client.get(f"/api/crm/contacts/{good}")).status_code == 200
        assert (await client.get("/api/crm/contacts/b")).status_code == 404

    async def test_the_extremes_of_64_bit_integers_are_stored(self, client: httpx.AsyncClient) -> None:
        r = await send(client, json.dumps({"contacts": [{"id": "i", "lo": -(2**63), "hi": 2**63 - 1}]}))
        assert rejects(r) == []
        stored = (await client.get("/api/crm/contacts/i")).json()
        assert (stored["lo"], stored["hi"]) == (-(2**63), 2**63 - 1)

    async def test_nan_is_not_json_and_nothing_is_stored(self, client: httpx.AsyncClient) -> None:
        r = await send(client, '{"contacts":[{"id":"g1"},{"id":"b","score":NaN}]}')
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "malformed_json"
        assert (await client.get("/api/crm/contacts/g1")).status_code == 404

    async def test_a_lone_surrogate_in_a_key_is_rejected(self, client: httpx.AsyncClient) -> None:
        r = await send(client, '{"contacts":[{"id":"g1"},{"id":"b","plan":{"\\ud800":1}}]}')
        assert rejects(r) == [(1, "invalid_field_name", "plan")]

    @pytest.mark.parametrize("raw_id", ['"a\\u0000b"', '"x\\ud800"'])
    async def test_unreadable_ids_are_rejected(self, client: httpx.AsyncClient, raw_id: str) -> None:
        r = await send(client, '{"contacts":[{"id":"g1"},{"id":' + raw_id + "}]}")
        assert rejects(r) == [(1, "invalid_id", "id")]

    async def test_stored_contacts_read_back_everywhere(self, client: httpx.AsyncClient) -> None:
        # Once a surrogate made GET, member pages and estimate-reach answer 500.
        r = await send(
            client, '{"contacts":[{"id":"g1","nick":"\\ud83d\\ude00"},{"id":"b","nick":"\\ud83d"}]}'
        )
        assert rejects(r) == [(1, "invalid_unicode", "nick")]
        assert (await client.get("/api/crm/contacts/g1")).json()["nick"] == "😀"
        reach = await client.post(
            "/api/crm/audiences/estimate-reach", json={"filter": {"datatype": "contact", "where": {}}}
        )
        assert reach.status_code == 200, reach.text

    async def test_size_limits_come_from_settings(
        self, client: httpx.AsyncClient, app: Any, settings: Settings
    ) -> None:
        app.state.settings = settings.model_copy(
            update={
                "max_string_length": 4,
                "max_array_length": 2,
                "max_row_elements": 5,
                "max_value_depth": 2,
            }
        )
        rows = [
            {"id": "ok", "s": "four", "a": [1, 2]},
            {"id": "s", "s": "fives"},
            {"id": "a", "a": [1, 2, 3]},
            {"id": "d", "d": {"e": {"f": 1}}},
            {"id": "n", "a": [1], "b": [2], "c": 3},
        ]
        r = await send(client, json.dumps({"contacts": rows}))
        assert rejects(r) == [
            (1, "string_too_long", "s"),
            (2, "array_too_long", "a"),
            (3, "too_deep", "d.e"),
            (4, "too_many_elements", ""),
        ]


class TestHugeBodies:
    async def test_a_million_integers_are_refused_before_parsing(self, client: httpx.AsyncClient) -> None:
        text = '{"contacts":[{"id":"big","a":[' + ",".join(["1234567"] * 1_000_000) + "]}]}"
        r = await send(client, text)
        assert r.status_code == 413, r.text
        assert r.json()["code"] == "too_many_elements"

    async def test_an_array_over_the_row_limit_is_a_row_reject(self, client: httpx.AsyncClient) -> None:
        r = await send(
            client, json.dumps({"contacts": [{"id": "ok"}, {"id": "big", "a": list(range(10_001))}]})
        )
        assert rejects(r) == [(1, "array_too_long", "a")]

    async def test_deep_nesting_is_refused(self, client: httpx.AsyncClient) -> None:
        r = await send(client, '{"contacts":[{"id":"d","x":' + "[" * 100_000 + "]" * 100_000 + "}]}")
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "json_too_deep"
