"""Tenant isolation, generated from the route table.

Org `acme` creates one resource of each kind; then every route with a path parameter is
called, with every method it serves, by org `globex` with acme's ids. Each call must
answer 404 problem+json, and acme's resources must read the same afterwards. A route
with a path parameter that `ROUTES` does not map fails the test by name, so new routes
are covered or fail loudly.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from audiences.errors import PROBLEM_JSON
from audiences.routes import route_table

# Each path-parameter route → the kind of acme's resource each of its parameters names.
ROUTES: dict[str, dict[str, str]] = {
    "/api/crm/contacts/{contact_id}": {"contact_id": "contact"},
    "/api/crm/contacts/{contact_id}/audiences": {"contact_id": "contact"},
    "/api/crm/audiences/segments/{segment_id}": {"segment_id": "segment"},
    "/api/crm/audiences/segments/{segment_id}/members": {"segment_id": "segment"},
    "/api/crm/audiences/segments/{segment_id}/snapshots": {"segment_id": "segment"},
    "/api/crm/audiences/segments/{segment_id}/export": {"segment_id": "segment"},
    "/api/crm/audiences/segments/{segment_id}/insights": {"segment_id": "segment"},
    "/api/crm/audiences/segments/{segment_id}/changes": {"segment_id": "segment"},
    "/api/crm/audiences/segments/{segment_id}/membership-status": {"segment_id": "segment"},
    "/api/crm/audiences/segments/{first_id}/overlap/{second_id}": {
        "first_id": "segment",
        "second_id": "static_segment",
    },
    "/api/crm/audiences/snapshots/{snapshot_id}": {"snapshot_id": "snapshot"},
    "/api/crm/audiences/snapshots/{snapshot_id}/members": {"snapshot_id": "snapshot"},
    "/api/crm/audiences/custom/{audience_id}": {"audience_id": "custom"},
    "/api/crm/audiences/custom/{audience_id}/refresh": {"audience_id": "lookalike"},
    "/api/crm/audiences/custom/{audience_id}/upload": {"audience_id": "custom"},
    "/api/crm/audiences/custom/{audience_id}/export": {"audience_id": "custom"},
    "/api/audiences/{audience_id}": {"audience_id": "journey"},
    "/api/audiences/{audience_id}/evaluate": {"audience_id": "journey"},
    "/api/audiences/{audience_id}/members": {"audience_id": "journey"},
    "/api/audiences/{audience_id}/changes": {"audience_id": "journey"},
    "/api/audiences/{audience_id}/membership-status": {"audience_id": "journey"},
    "/api/cohorts/{cohort_id}": {"cohort_id": "cohort"},
    "/api/webhooks/{webhook_id}": {"webhook_id": "webhook"},
    "/api/webhooks/{webhook_id}/deliveries": {"webhook_id": "webhook"},
}

US = {"datatype": "contact", "where": {"country": "US"}}
PREDICATE = {"kind": "attribute", "fieldPath": "tier", "operator": "equals", "value": "pro"}

# A valid request for each (method, route), so that only tenancy can make it fail.
REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/api/crm/audiences/segments/{segment_id}"): {"json": {"name": "theirs", "filter": US}},
    ("PATCH", "/api/crm/audiences/segments/{segment_id}"): {"json": {"name": "theirs"}},
    ("GET", "/api/crm/audiences/segments/{segment_id}/export"): {"params": {"platform": "facebook"}},
    ("PATCH", "/api/crm/audiences/custom/{audience_id}"): {"json": {"name": "theirs"}},
    ("POST", "/api/crm/audiences/custom/{audience_id}/upload"): {
        "files": {"file": ("people.csv", b"email\nada@example.com\n", "text/csv")}
    },
    ("GET", "/api/crm/audiences/custom/{audience_id}/export"): {"params": {"platform": "facebook"}},
    ("PUT", "/api/audiences/{audience_id}"): {"json": {"name": "theirs", "predicate": PREDICATE}},
    ("PATCH", "/api/audiences/{audience_id}"): {"json": {"name": "theirs"}},
    ("POST", "/api/audiences/{audience_id}/evaluate"): {"json": {"subjectId": "c1"}},
    ("PUT", "/api/cohorts/{cohort_id}"): {"json": {"name": "theirs", "subjectIds": ["c1"]}},
    ("PATCH", "/api/cohorts/{cohort_id}"): {"json": {"name": "theirs"}},
}


async def _created(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


async def create_resources(c: httpx.AsyncClient) -> dict[str, str]:
    """One resource of each kind in the client's org; kind → id."""
    contacts = [{"id": "c1", "country": "US", "tier": "pro", "email": "ada@example.com"}, {"id": "c2"}]
    assert (await c.post("/api/crm/contacts:batch", json={"contacts": contacts})).status_code == 200
    segment = await _created(await c.post("/api/crm/audiences/segments", json={"name": "US", "filter": US}))
    static = await _created(
        await c.post(
            "/api/crm/audiences/segments", json={"name": "Two", "type": "static", "contactIds": ["c1", "c2"]}
        )
    )
    snapshot = await _created(await c.post(f"/api/crm/audiences/segments/{segment['id']}/snapshots"))
    custom = await _created(
        await c.post("/api/crm/audiences/custom", json={"type": "customer_match", "name": "Match"})
    )
    lookalike = await _created(
        await c.post(
            "/api/crm/audiences/custom",
            json={
                "type": "lookalike",
                "name": "Like US",
                "seedAudienceId": segment["id"],
                "ratio": 0.05,
                "country": "US",
            },
        )
    )
    journey = await _created(await c.post("/api/audiences", json={"name": "Pro", "predicate": PREDICATE}))
    cohort = await _created(await c.post("/api/cohorts", json={"name": "Few", "subjectIds": ["c1"]}))
    webhook = await _created(
        await c.post("/api/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["audience.entered"]})
    )
    return {
        "contact": "c1",
        "segment": segment["id"],
        "static_segment": static["id"],
        "snapshot": snapshot["snapshotId"],
        "custom": custom["id"],
        "lookalike": lookalike["id"],
        "journey": journey["id"],
        "cohort": cohort["id"],
        "webhook": webhook["id"],
    }


READBACK = {
    "contact": "/api/crm/contacts/{}",
    "segment": "/api/crm/audiences/segments/{}",
    "static_segment": "/api/crm/audiences/segments/{}",
    "snapshot": "/api/crm/audiences/snapshots/{}",
    "custom": "/api/crm/audiences/custom/{}",
    "lookalike": "/api/crm/audiences/custom/{}",
    "journey": "/api/audiences/{}",
    "cohort": "/api/cohorts/{}",
    "webhook": "/api/webhooks/{}",
}


async def read_all(c: httpx.AsyncClient, ids: dict[str, str]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for kind, template in READBACK.items():
        r = await c.get(template.format(ids[kind]))
        assert r.status_code == 200, r.text
        state[kind] = r.json()
    return state


class TestCrossTenant:
    async def test_every_path_id_route_answers_another_orgs_ids_with_404(
        self, app: FastAPI, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        with_ids = [op for op in route_table(app) if "{" in op.path]
        unmapped = sorted({op.path for op in with_ids} - set(ROUTES))
        assert unmapped == [], f"add these routes to tests/test_cross_tenant.py ROUTES: {unmapped}"

        ids = await create_resources(client)
        before = await read_all(client, ids)
        covered: list[str] = []
        leaks: list[str] = []
        for op in sorted(with_ids, key=lambda o: o.path):
            url = op.path.format(**{param: ids[kind] for param, kind in ROUTES[op.path].items()})
            for method in sorted(op.methods):
                r = await other_client.request(method, url, **REQUESTS.get((method, op.path), {}))
                covered.append(f"{method} {op.path}")
                if r.status_code != 404 or r.headers["content-type"] != PROBLEM_JSON:
                    leaks.append(f"{method} {op.path} → {r.status_code} {r.text[:200]}")
        print("cross-tenant routes covered:", *covered, sep="\n  ")
        assert leaks == []
        assert len(covered) == sum(len(op.methods) for op in with_ids)
        assert await read_all(client, ids) == before

        # Control: the same requests from acme itself succeed, so each 404 above came from
        # tenancy, not from a malformed request (deletes left out: they end the resources).
        failures: list[str] = []
        for op in sorted(with_ids, key=lambda o: o.path):
            url = op.path.format(**{param: ids[kind] for param, kind in ROUTES[op.path].items()})
            for method in sorted(op.methods - {"DELETE"}):
                r = await client.request(method, url, **REQUESTS.get((method, op.path), {}))
                if not 200 <= r.status_code < 300:
                    failures.append(f"{method} {op.path} → {r.status_code} {r.text[:200]}")
        assert failures == []
