"""The OpenAPI document declares the problem+json answers each operation can give."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audiences.errors import PROBLEM_JSON
from audiences.routes import allowed_methods, route_table


@pytest.fixture
async def document(raw_client: httpx.AsyncClient) -> dict[str, Any]:
    r = await raw_client.get("/openapi.json")
    assert r.status_code == 200
    return dict(r.json())


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, item in document["paths"].items() for m, op in item.items()]


class TestProblemResponses:
    async def test_no_operation_documents_422(self, document: dict[str, Any]) -> None:
        assert [f"{m} {p}" for m, p, op in _operations(document) if "422" in op["responses"]] == []
        assert "HTTPValidationError" not in document["components"]["schemas"]

    async def test_every_tenant_operation_documents_auth_problems(self, document: dict[str, Any]) -> None:
        tenant = [(m, p, op) for m, p, op in _operations(document) if p.startswith("/api/")]
        assert len(tenant) > 50
        for method, path, op in tenant:
            assert {"400", "401", "403"} <= set(op["responses"]), f"{method} {path}"
            assert op["security"] == [{"bearerAuth": []}]
            orgid = [p for p in op.get("parameters", []) if p["name"] == "orgid"]
            assert [p["required"] for p in orgid] == [True], f"{method} {path}"

    async def test_operations_with_a_path_id_document_404(self, document: dict[str, Any]) -> None:
        for method, path, op in _operations(document):
            if "{" in path:
                assert "404" in op["responses"], f"{method} {path}"

    async def test_operations_with_a_body_document_400_and_413(self, document: dict[str, Any]) -> None:
        for method, path, op in _operations(document):
            if "requestBody" in op:
                assert {"400", "413"} <= set(op["responses"]), f"{method} {path}"

    async def test_problem_answers_are_problem_json_with_the_schema_and_an_example(
        self, document: dict[str, Any]
    ) -> None:
        problem = document["components"]["schemas"]["Problem"]
        assert set(problem["required"]) == {"type", "title", "status", "detail", "code", "errors"}
        for method, path, op in _operations(document):
            if path == "/readyz":
                continue
            for status, response in op["responses"].items():
                if int(status) < 400:
                    continue
                content = response["content"]
                assert list(content) == [PROBLEM_JSON], f"{method} {path} {status}"
                assert content[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}
                example = content[PROBLEM_JSON]["example"]
                assert example["status"] == int(status)
                assert set(problem["required"]) <= set(example)

    async def test_feature_conflicts_are_documented(self, document: dict[str, Any]) -> None:
        paths = document["paths"]
        assert "409" in paths["/api/audiences"]["post"]["responses"]
        assert "409" in paths["/api/cohorts/{cohort_id}"]["delete"]["responses"]
        assert "409" in paths["/api/webhooks"]["post"]["responses"]
        assert (
            "cohort_in_use" in paths["/api/cohorts/{cohort_id}"]["delete"]["responses"]["409"]["description"]
        )

    async def test_index_creation_documents_201_and_200(self, document: dict[str, Any]) -> None:
        assert {"200", "201", "409"} <= set(document["paths"]["/api/collection/index"]["post"]["responses"])

    async def test_readyz_keeps_its_own_503_body(self, document: dict[str, Any]) -> None:
        assert list(document["paths"]["/readyz"]["get"]["responses"]["503"]["content"]) == [
            "application/json"
        ]

    async def test_401_documents_www_authenticate(self, document: dict[str, Any]) -> None:
        response = document["paths"]["/api/audiences"]["get"]["responses"]["401"]
        assert response["headers"]["WWW-Authenticate"]["required"] is True


class TestRouteTable:
    async def test_it_lists_every_documented_operation(self, app: FastAPI, document: dict[str, Any]) -> None:
        served = {(m, op.path) for op in route_table(app) if op.include_in_schema for m in op.methods}
        documented = {(m, p) for m, p, _ in _operations(document)}
        assert served == documented

    async def test_allow_names_every_method_of_the_resource(self, app: FastAPI) -> None:
        assert allowed_methods(app, "/api/crm/contacts/c1") == ["DELETE", "GET"]
        # `validate` is its own resource, not an audience id.
        assert allowed_methods(app, "/api/audiences/validate") == ["POST"]

    async def test_405_carries_allow(self, client: httpx.AsyncClient) -> None:
        r = await client.put("/api/crm/contacts/c1", json={})
        assert r.status_code == 405
        assert r.headers["content-type"] == PROBLEM_JSON
        assert r.headers["allow"] == "DELETE, GET"
