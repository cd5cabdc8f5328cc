"""Predicate validation on save and `POST /api/audiences/validate`: the seed's codes, every
problem at once with its JSON path, nothing invalid stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from audiences.journeys.schemas import PRO_OR_ADMIN

SEED_REJECTIONS = [
    (
        "event_name_required",
        {"kind": "event_fired", "window": {"type": "last_n_days", "days": 7}},
        "predicate.eventName",
    ),
    (
        "field_path_required",
        {"kind": "attribute", "operator": "equals", "value": "pro"},
        "predicate.fieldPath",
    ),
    ("cohort_not_found", {"kind": "in_cohort", "cohortId": "no-such-cohort"}, "predicate.cohortId"),
    ("empty_clauses", {"kind": "and", "clauses": []}, "predicate.clauses"),
    ("empty_clauses", {"kind": "or", "clauses": []}, "predicate.clauses"),
]
SEVERAL = {
    "kind": "and",
    "clauses": [
        {"kind": "in_cohort", "cohortId": "trial"},
        {"kind": "event_fired", "window": {"type": "last_n_days", "days": 0}, "atLeast": 0},
        {"kind": "or", "clauses": []},
        {"kind": "attribute", "operator": "bigger", "value": 3},
        {"kind": "not"},
        {"kind": "in_cohort", "cohortId": "nope"},
        {"kind": "attribute", "fieldPath": "tier", "operator": "equals"},
        {"kind": "teleport"},
        {"kind": "event_not_fired", "eventName": "x", "colour": "red"},
    ],
}
SEVERAL_ERRORS = [
    ("event_name_required", "predicate.clauses[1].eventName"),
    ("invalid_window", "predicate.clauses[1].window.days"),
    ("invalid_at_least", "predicate.clauses[1].atLeast"),
    ("empty_clauses", "predicate.clauses[2].clauses"),
    ("field_path_required", "predicate.clauses[3].fieldPath"),
    ("invalid_operator", "predicate.clauses[3].operator"),
    ("clause_required", "predicate.clauses[4].clause"),
    ("cohort_not_found", "predicate.clauses[5].cohortId"),
    ("value_required", "predicate.clauses[6].value"),
    ("unknown_kind", "predicate.clauses[7].kind"),
    ("unknown_field", "predicate.clauses[8].colour"),
]


def _problems(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["code"], e["path"]) for e in body["errors"]]


class TestSaveRejectsInvalidPredicates:
    @pytest.mark.parametrize(("code", "predicate", "path"), SEED_REJECTIONS)
    async def test_seed_rejections_answer_400_with_their_code(
        self, client: httpx.AsyncClient, code: str, predicate: dict[str, Any], path: str
    ) -> None:
        r = await client.post("/api/audiences", json={"name": "Bad", "predicate": predicate})
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["code"] == code
        assert _problems(body) == [(code, path)]

    async def test_reports_every_problem_at_once_with_paths(self, workspace: httpx.AsyncClient) -> None:
        r = await workspace.post("/api/audiences", json={"name": "Bad", "predicate": SEVERAL})
        assert r.status_code == 400
        assert _problems(r.json()) == SEVERAL_ERRORS
        assert r.json()["detail"] == f"{len(SEVERAL_ERRORS)} problems found"

    async def test_nothing_invalid_is_stored(self, workspace: httpx.AsyncClient) -> None:
        for _, predicate, _ in SEED_REJECTIONS:
            await workspace.post(
                "/api/audiences", json={"id": "aud-bad", "name": "Bad", "predicate": predicate}
            )
        await workspace.post("/api/audiences", json={"id": "aud-bad", "name": "Bad", "predicate": SEVERAL})
        assert (await workspace.get("/api/audiences")).json() == []
        assert (await workspace.get("/api/audiences/aud-bad")).status_code == 404

    async def test_subject_type_other_than_end_user_is_refused_with_the_predicate_problems(
        self, client: httpx.AsyncClient
    ) -> None:
        r = await client.post(
            "/api/audiences",
            json={"name": "x", "subjectType": "account", "predicate": {"kind": "and", "clauses": []}},
        )
        assert r.status_code == 400
        assert _problems(r.json()) == [
            ("unsupported_subject_type", "subjectType"),
            ("empty_clauses", "predicate.clauses"),
        ]

    async def test_predicates_deeper_than_20_levels_are_refused(self, client: httpx.AsyncClient) -> None:
        predicate: dict[str, Any] = {"kind": "attribute", "fieldPath": "tier", "operator": "exists"}
        for _ in range(20):
            predicate = {"kind": "not", "clause": predicate}
        r = await client.post("/api/audiences", json={"name": "deep", "predicate": predicate})
        assert r.status_code == 400
        assert r.json()["code"] == "predicate_too_deep"
        assert r.json()["errors"][0]["path"] == "predicate" + ".clause" * 20

    async def test_twenty_levels_are_allowed(self, client: httpx.AsyncClient) -> None:
        predicate: dict[str, Any] = {"kind": "attribute", "fieldPath": "tier", "operator": "exists"}
        for _ in range(19):
            predicate = {"kind": "not", "clause": predicate}
        r = await client.post("/api/audiences", json={"name": "deep", "predicate": predicate})
        assert r.status_code == 201

    async def test_more_than_200_nodes_are_refused(self, client: httpx.AsyncClient) -> None:
        leaf = {"kind": "attribute", "fieldPath": "tier", "operator": "exists"}
        r = await client.post(
            "/api/audiences", json={"name": "big", "predicate": {"kind": "or", "clauses": [leaf] * 200}}
        )
        assert (r.status_code, r.json()["code"]) == (400, "predicate_too_large")

    async def test_a_predicate_that_is_not_an_object_is_an_unknown_kind(
        self, client: httpx.AsyncClient
    ) -> None:
        r = await client.post("/api/audiences", json={"name": "x", "predicate": "tier = pro"})
        assert _problems(r.json()) == [("unknown_kind", "predicate")]

    async def test_missing_predicate_is_a_request_error(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/api/audiences", json={"name": "x"})
        assert r.status_code == 400
        assert _problems(r.json()) == [("field_required", "predicate")]


class TestValidateEndpoint:
    async def test_a_valid_predicate(self, workspace: httpx.AsyncClient) -> None:
        r = await workspace.post("/api/audiences/validate", json={"predicate": PRO_OR_ADMIN})
        assert r.status_code == 200
        assert r.json() == {"valid": True, "errors": []}

    async def test_lists_the_problems_with_200(self, workspace: httpx.AsyncClient) -> None:
        r = await workspace.post("/api/audiences/validate", json={"predicate": SEVERAL})
        assert r.status_code == 200
        body = r.json()
        assert body["valid"] is False
        assert _problems(body) == SEVERAL_ERRORS
        assert all(e["message"] for e in body["errors"])

    async def test_cohorts_are_looked_up_in_the_callers_org(
        self, workspace: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        predicate = {"kind": "in_cohort", "cohortId": "trial"}
        assert (await workspace.post("/api/audiences/validate", json={"predicate": predicate})).json()[
            "valid"
        ]
        r = await other_client.post("/api/audiences/validate", json={"predicate": predicate})
        assert _problems(r.json()) == [("cohort_not_found", "predicate.cohortId")]
