"""Hostile event rows (issue 13, findings 1 and 3): bad properties and ids are rejected by
index with a code and a path; the other rows are stored."""

from __future__ import annotations

import httpx
import pytest


async def send(client: httpx.AsyncClient, rows: str) -> httpx.Response:
    r = await client.post(
        "/api/events:batch",
        content=('{"events":[' + rows + "]}").encode(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    return r


GOOD = '{"eventId":"e1","userId":"u1","name":"seen","ts":"2026-04-01T00:00:00Z"}'


class TestHostileEvents:
    @pytest.mark.parametrize(
        ("row", "code", "path"),
        [
            ('{"userId":"u1","name":"seen","properties":{"v":1e999}}', "non_finite_number", "properties.v"),
            (
                '{"userId":"u1","name":"seen","properties":{"v":[18446744073709551616]}}',
                "integer_out_of_range",
                "properties.v[0]",
            ),
            ('{"userId":"u1","name":"seen","properties":{"v":"\\udbff"}}', "invalid_unicode", "properties.v"),
            ('{"userId":"u\\ud800","name":"seen"}', "invalid_userid", "userId"),
            ('{"eventId":"e\\ud800","userId":"u1","name":"seen"}', "invalid_eventid", "eventId"),
            ('{"userId":"u1","name":"s\\udfff"}', "invalid_name", "name"),
        ],
    )
    async def test_a_bad_row_is_rejected_and_the_rest_stored(
        self, client: httpx.AsyncClient, row: str, code: str, path: str
    ) -> None:
        r = await send(client, f"{GOOD},{row}")
        body = r.json()
        assert (body["accepted"], [(x["index"], x["code"], x["path"]) for x in body["rejected"]]) == (
            1,
            [(1, code, path)],
        )
        again = await send(client, GOOD)
        assert again.json()["duplicates"] == 1
