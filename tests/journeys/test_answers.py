"""Dry-run, evaluate and members answer the same question the same way, at one `asOf`.

The expected sets are computed here with plain Python over the fixture data (not with the
service's evaluator), so the pipeline and the evaluator are both checked against an
independent reading of the seed's examples.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from audiences.clock import parse_instant
from audiences.journeys.schemas import ACTIVE_NOT_CHURNED, PRO_OR_ADMIN, TRIAL_ACTIVE_NOT_CONVERTED
from tests.conftest import AS_OF
from tests.journeys.conftest import CONTACTS, EVENTS

CONTACT_IDS = [c["id"] for c in CONTACTS]
TRIAL, CHURNED, SUPPRESSED = {"u1", "u2", "u3"}, {"u4"}, {"u5", "ghost"}


def fired(user: str, name: str, *, days: float | None, as_of: dt.datetime = AS_OF) -> int:
    start = as_of - dt.timedelta(days=days) if days is not None else None
    return sum(
        1
        for e in EVENTS
        if e["userId"] == user
        and e["name"] == name
        and parse_instant(e["ts"]) <= as_of
        and (start is None or parse_instant(e["ts"]) >= start)
    )


def contact(user: str) -> dict[str, Any]:
    return next(c for c in CONTACTS if c["id"] == user)


def active(user: str) -> bool:
    return fired(user, "feature.used", days=7) >= 1 or fired(user, "session_started", days=7) >= 1


SEEDS: list[tuple[str, dict[str, Any], Callable[[str], bool]]] = [
    (
        "trial-active-not-converted",
        TRIAL_ACTIVE_NOT_CONVERTED,
        lambda u: (
            u in TRIAL
            and fired(u, "feature.used", days=7) >= 1
            and fired(u, "subscription.upgraded", days=None) == 0
        ),
    ),
    (
        "pro-or-admin",
        PRO_OR_ADMIN,
        lambda u: contact(u).get("tier") == "pro" or contact(u).get("is_admin") is True,
    ),
    ("active-not-churned", ACTIVE_NOT_CHURNED, lambda u: active(u) and not (u in CHURNED or u in SUPPRESSED)),
]


def expected(rule: Callable[[str], bool]) -> list[str]:
    return sorted(u for u in CONTACT_IDS if rule(u))


async def _save(client: httpx.AsyncClient, audience_id: str, predicate: dict[str, Any]) -> None:
    r = await client.post(
        "/api/audiences", json={"id": audience_id, "name": audience_id, "predicate": predicate}
    )
    assert r.status_code == 201, r.text


class TestDryRun:
    @pytest.mark.parametrize(("label", "predicate", "rule"), SEEDS, ids=[s[0] for s in SEEDS])
    async def test_seed_examples_count_what_plain_python_counts(
        self, workspace: httpx.AsyncClient, label: str, predicate: dict[str, Any], rule: Callable[[str], bool]
    ) -> None:
        r = await workspace.post(
            "/api/audiences/dry-run",
            json={"predicate": predicate, "asOf": "2026-04-24T12:00:00Z", "sampleSize": 100},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        want = expected(rule)
        assert want, "the fixture should make every example select someone"
        assert body["count"] == len(want)
        assert [s["id"] for s in body["sample"]] == want
        assert body["asOf"] == "2026-04-24T12:00:00.000Z"
        assert isinstance(body["tookMs"], float)
        assert body["tookMs"] >= 0

    async def test_seed_answers_are_what_the_fixture_was_built_for(self) -> None:
        assert [expected(rule) for _, _, rule in SEEDS] == [["u1"], ["u1", "u2", "u4"], ["u1", "u2"]]

    async def test_sample_is_full_contacts_in_id_order_limited_by_sample_size(
        self, workspace: httpx.AsyncClient
    ) -> None:
        r = await workspace.post("/api/audiences/dry-run", json={"predicate": PRO_OR_ADMIN, "sampleSize": 2})
        body = r.json()
        assert body["count"] == 3
        assert body["sample"] == [
            {"id": "u1", "tier": "pro", "is_admin": False, "country": "US", "score": 42},
            {"id": "u2", "tier": "free", "is_admin": True, "country": "DE", "score": 7},
        ]

    async def test_sample_size_zero_only_counts(self, workspace: httpx.AsyncClient) -> None:
        body = (
            await workspace.post("/api/audiences/dry-run", json={"predicate": PRO_OR_ADMIN, "sampleSize": 0})
        ).json()
        assert (body["count"], body["sample"]) == (3, [])

    async def test_as_of_defaults_to_now_and_moves_windows(
        self, workspace: httpx.AsyncClient, clock: Any
    ) -> None:
        predicate = {
            "kind": "event_fired",
            "eventName": "feature.used",
            "window": {"type": "last_n_days", "days": 7},
        }
        now = (await workspace.post("/api/audiences/dry-run", json={"predicate": predicate})).json()
        assert (now["asOf"], [s["id"] for s in now["sample"]]) == (
            "2026-04-24T12:00:00.000Z",
            ["u1", "u2", "u4"],
        )
        # Two days later u2's event (6.9 days old) has left the window, and u3's event
        # from after the old asOf has entered it.
        clock.advance(dt.timedelta(days=2))
        later = (await workspace.post("/api/audiences/dry-run", json={"predicate": predicate})).json()
        assert [s["id"] for s in later["sample"]] == ["u1", "u3", "u4"]
        pinned = (
            await workspace.post(
                "/api/audiences/dry-run", json={"predicate": predicate, "asOf": "2026-04-24T12:00:00Z"}
            )
        ).json()
        assert [s["id"] for s in pinned["sample"]] == ["u1", "u2", "u4"]

    async def test_invalid_predicates_are_400_and_nothing_is_saved(
        self, workspace: httpx.AsyncClient
    ) -> None:
        r = await workspace.post("/api/audiences/dry-run", json={"predicate": {"kind": "or", "clauses": []}})
        assert (r.status_code, r.json()["code"]) == (400, "empty_clauses")
        assert (await workspace.get("/api/audiences")).json() == []

    async def test_a_bad_as_of_is_refused(self, workspace: httpx.AsyncClient) -> None:
        r = await workspace.post(
            "/api/audiences/dry-run", json={"predicate": PRO_OR_ADMIN, "asOf": "yesterday"}
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == "invalid_as_of"


class TestEvaluate:
    async def test_explains_each_leaf_with_the_fact_that_decided_it(
        self, workspace: httpx.AsyncClient
    ) -> None:
        predicate = {
            "kind": "and",
            "clauses": [
                {
                    "kind": "event_fired",
                    "eventName": "checkout_started",
                    "window": {"type": "last_n_days", "days": 7},
                    "atLeast": 2,
                },
                {"kind": "attribute", "fieldPath": "tier", "operator": "equals", "value": "pro"},
            ],
        }
        await _save(workspace, "aud-checkout", predicate)
        r = await workspace.post("/api/audiences/aud-checkout/evaluate", json={"subjectId": "u1"})
        assert r.status_code == 200
        assert r.json() == {
            "matched": False,
            "asOf": "2026-04-24T12:00:00.000Z",
            "explanation": {
                "kind": "and",
                "matched": False,
                "reason": "1 of 2 clauses matched; needs all",
                "clauses": [
                    {
                        "kind": "event_fired",
                        "matched": False,
                        "eventName": "checkout_started",
                        "count": 1,
                        "needed": 2,
                        "window": "last 7 days",
                        "reason": "checkout_started fired 1 time in last 7 days, needs 2",
                    },
                    {
                        "kind": "attribute",
                        "matched": True,
                        "fieldPath": "tier",
                        "operator": "equals",
                        "expected": "pro",
                        "actual": "pro",
                        "reason": "tier is 'pro'; condition: tier equals 'pro'",
                    },
                ],
            },
        }
        u4 = (await workspace.post("/api/audiences/aud-checkout/evaluate", json={"subjectId": "u4"})).json()
        assert u4["matched"] is True
        assert u4["explanation"]["clauses"][0]["count"] == 2

    async def test_explains_cohorts_and_negations(self, workspace: httpx.AsyncClient) -> None:
        await _save(workspace, "aud-seed3", ACTIVE_NOT_CHURNED)
        body = (await workspace.post("/api/audiences/aud-seed3/evaluate", json={"subjectId": "u4"})).json()
        assert body["matched"] is False
        active_leaf, negation = body["explanation"]["clauses"]
        assert (active_leaf["cohortType"], active_leaf["matched"]) == ("dynamic", True)
        assert (
            active_leaf["clause"]["clauses"][0]["reason"]
            == "feature.used fired 1 time in last 7 days, needs 1"
        )
        assert negation["matched"] is False
        churned = negation["clause"]["clauses"][0]
        assert churned == {
            "kind": "in_cohort",
            "matched": True,
            "cohortId": "churned",
            "cohortType": "static",
            "reason": "listed in static cohort churned",
        }

    async def test_a_missing_attribute_is_named_missing(self, workspace: httpx.AsyncClient) -> None:
        await _save(
            workspace,
            "aud-tier",
            {"kind": "attribute", "fieldPath": "tier", "operator": "equals", "value": "pro"},
        )
        leaf = (await workspace.post("/api/audiences/aud-tier/evaluate", json={"subjectId": "u6"})).json()[
            "explanation"
        ]
        assert (leaf["matched"], leaf["missing"], leaf["actual"]) == (False, True, None)
        assert leaf["reason"] == "tier is missing; condition: tier equals 'pro'"

    async def test_unknown_subject_is_subject_not_found(self, workspace: httpx.AsyncClient) -> None:
        await _save(workspace, "aud-x", PRO_OR_ADMIN)
        for subject in ("nobody", "ghost"):  # ghost has events but is not a contact
            r = await workspace.post("/api/audiences/aud-x/evaluate", json={"subjectId": subject})
            assert (r.status_code, r.json()["code"]) == (404, "subject_not_found")

    async def test_unknown_audience_is_audience_not_found(self, workspace: httpx.AsyncClient) -> None:
        r = await workspace.post("/api/audiences/aud-none/evaluate", json={"subjectId": "u1"})
        assert (r.status_code, r.json()["code"]) == (404, "audience_not_found")

    async def test_as_of_pins_the_windows(self, workspace: httpx.AsyncClient) -> None:
        await _save(workspace, "aud-seed1", TRIAL_ACTIVE_NOT_CONVERTED)
        late = {"subjectId": "u3", "asOf": "2026-04-24T13:00:00Z"}
        body = (await workspace.post("/api/audiences/aud-seed1/evaluate", json=late)).json()
        assert (body["matched"], body["asOf"]) == (True, "2026-04-24T13:00:00.000Z")
        body = (await workspace.post("/api/audiences/aud-seed1/evaluate", json={"subjectId": "u3"})).json()
        assert body["matched"] is False


class TestMembersAgreeWithEvaluate:
    @pytest.mark.parametrize(("label", "predicate", "rule"), SEEDS, ids=[s[0] for s in SEEDS])
    async def test_evaluate_agrees_with_members_for_every_subject(
        self, workspace: httpx.AsyncClient, label: str, predicate: dict[str, Any], rule: Callable[[str], bool]
    ) -> None:
        await _save(workspace, "aud-x", predicate)
        members = (await workspace.get("/api/audiences/aud-x/members")).json()
        member_ids = {m["id"] for m in members["items"]}
        for subject in CONTACT_IDS:
            r = await workspace.post("/api/audiences/aud-x/evaluate", json={"subjectId": subject})
            assert r.json()["matched"] is (subject in member_ids), subject
        assert sorted(member_ids) == expected(rule)


class TestMembers:
    async def test_pages_with_a_keyset_cursor(self, workspace: httpx.AsyncClient) -> None:
        await _save(workspace, "aud-all", {"kind": "attribute", "fieldPath": "id", "operator": "exists"})
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 4}
            if cursor:
                params["cursor"] = cursor
            body = (await workspace.get("/api/audiences/aud-all/members", params=params)).json()
            seen += [m["id"] for m in body["items"]]
            pages += 1
            cursor = body["nextCursor"]
            if cursor is None:
                break
        assert (seen, pages) == (CONTACT_IDS, 2)

    async def test_pages_with_events_in_the_predicate(self, workspace: httpx.AsyncClient) -> None:
        predicate = {"kind": "not", "clause": {"kind": "event_fired", "eventName": "checkout_started"}}
        await _save(workspace, "aud-no-checkout", predicate)
        first = (await workspace.get("/api/audiences/aud-no-checkout/members", params={"limit": 2})).json()
        second = (
            await workspace.get(
                "/api/audiences/aud-no-checkout/members", params={"cursor": first["nextCursor"]}
            )
        ).json()
        assert [m["id"] for m in first["items"] + second["items"]] == ["u2", "u3", "u5", "u6"]
        assert second["nextCursor"] is None

    async def test_the_cursor_keeps_the_first_pages_as_of(
        self, workspace: httpx.AsyncClient, clock: Any
    ) -> None:
        predicate = {
            "kind": "event_fired",
            "eventName": "feature.used",
            "window": {"type": "last_n_days", "days": 7},
        }
        await _save(workspace, "aud-fu", predicate)
        first = (await workspace.get("/api/audiences/aud-fu/members", params={"limit": 1})).json()
        clock.advance(dt.timedelta(days=30))  # everything would have left the window
        second = (
            await workspace.get("/api/audiences/aud-fu/members", params={"cursor": first["nextCursor"]})
        ).json()
        assert second["asOf"] == first["asOf"] == "2026-04-24T12:00:00.000Z"
        assert [m["id"] for m in first["items"] + second["items"]] == ["u1", "u2", "u4"]

    async def test_a_forged_cursor_is_refused(self, workspace: httpx.AsyncClient) -> None:
        await _save(workspace, "aud-x", PRO_OR_ADMIN)
        r = await workspace.get("/api/audiences/aud-x/members", params={"cursor": "not-a-cursor"})
        assert (r.status_code, r.json()["code"]) == (400, "invalid_cursor")

    async def test_streams_every_member_as_ndjson(self, workspace: httpx.AsyncClient) -> None:
        await _save(workspace, "aud-x", PRO_OR_ADMIN)
        r = await workspace.get(
            "/api/audiences/aud-x/members",
            headers={"Accept": "application/x-ndjson"},
            params={"asOf": "2026-04-24"},
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        assert r.headers["x-as-of"] == "2026-04-24T00:00:00.000Z"
        lines = [json.loads(line) for line in r.text.splitlines()]
        assert [line["id"] for line in lines] == ["u1", "u2", "u4"]
        assert lines[0] == {"id": "u1", "tier": "pro", "is_admin": False, "country": "US", "score": 42}

    async def test_limit_is_bounded(self, workspace: httpx.AsyncClient) -> None:
        await _save(workspace, "aud-x", PRO_OR_ADMIN)
        r = await workspace.get("/api/audiences/aud-x/members", params={"limit": 5000})
        assert r.status_code == 400
