"""GET /custom-types and the CRUD routes of custom audiences."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.custom_audiences.conftest import BASE, CreateFn

PIXEL = {
    "type": "retargeting_pixel",
    "name": "Cart visitors",
    "pixelId": "px_shop",
    "eventNames": ["add_to_cart"],
    "windowDays": 30,
}


class TestCustomTypes:
    async def test_lists_the_four_types_with_their_fields_and_platforms(
        self, client: httpx.AsyncClient
    ) -> None:
        r = await client.get(f"{BASE}/custom-types")
        assert r.status_code == 200
        types = {t["type"]: t for t in r.json()["types"]}
        assert list(types) == ["file_upload", "customer_match", "lookalike", "retargeting_pixel"]
        lookalike = {f["name"]: f for f in types["lookalike"]["fields"]}
        assert {n for n, f in lookalike.items() if f["required"]} == {
            "name",
            "seedAudienceId",
            "ratio",
            "country",
        }
        assert lookalike["ratio"]["type"] == "number"
        pixel = {f["name"] for f in types["retargeting_pixel"]["fields"] if f["required"]}
        assert pixel == {"name", "pixelId", "eventNames", "windowDays"}
        for spec in types.values():
            assert [p["platform"] for p in spec["platforms"]] == ["facebook", "google", "tiktok", "linkedin"]
            assert all(p["syncsAs"] for p in spec["platforms"])

    async def test_upload_types_list_their_csv_columns_and_customer_match_its_exports(
        self, client: httpx.AsyncClient
    ) -> None:
        types = {t["type"]: t for t in (await client.get(f"{BASE}/custom-types")).json()["types"]}
        columns = [c["name"] for c in types["file_upload"]["uploadColumns"]]
        assert columns == ["email", "phone", "firstName", "lastName", "country", "zip", "externalId"]
        assert types["customer_match"]["exportPlatforms"] == ["facebook", "google", "tiktok", "linkedin"]
        assert "uploadColumns" not in types["lookalike"]
        assert types["retargeting_pixel"]["membership"] == "live"

    async def test_needs_a_token(self, raw_client: httpx.AsyncClient) -> None:
        r = await raw_client.get(f"{BASE}/custom-types", headers={"orgid": "acme"})
        assert r.status_code == 401


class TestCreate:
    async def test_creates_a_file_upload_audience_with_a_cus_id(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            f"{BASE}/custom", json={"type": "file_upload", "name": " Leads ", "description": "x"}
        )
        assert r.status_code == 201
        body = r.json()
        assert body["id"].startswith("cus_")
        assert len(body["id"]) > 8
        assert body["name"] == "Leads"
        assert body["description"] == "x"
        assert body["membership"] == "stored"
        assert body["memberCount"] == 0
        assert body["stats"] == {"rows": 0, "pending": 0, "uploads": 0}
        assert body["createdAt"] == body["updatedAt"] == "2026-04-24T12:00:00.000Z"
        assert "ratio" not in body

    async def test_creates_a_live_retargeting_pixel_audience(self, client: httpx.AsyncClient) -> None:
        r = await client.post(f"{BASE}/custom", json=PIXEL)
        assert r.status_code == 201
        body = r.json()
        assert {k: body[k] for k in ("pixelId", "eventNames", "windowDays")} == {
            "pixelId": "px_shop",
            "eventNames": ["add_to_cart"],
            "windowDays": 30,
        }
        assert body["membership"] == "live"
        assert body["memberCount"] is None

    async def test_unknown_type_is_unknown_custom_type(self, client: httpx.AsyncClient) -> None:
        r = await client.post(f"{BASE}/custom", json={"type": "carrier_pigeon", "name": "x"})
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "unknown_custom_type"
        assert r.json()["errors"][0]["path"] == "type"

    async def test_missing_type_and_fields_are_field_required_with_paths(
        self, client: httpx.AsyncClient
    ) -> None:
        r = await client.post(f"{BASE}/custom", json={"name": "x"})
        assert r.status_code == 400
        assert r.json()["errors"] == [
            {"code": "field_required", "path": "type", "message": "`type` is required"}
        ]
        r = await client.post(f"{BASE}/custom", json={"type": "lookalike"})
        assert r.status_code == 400
        found = {(e["code"], e["path"]) for e in r.json()["errors"]}
        assert found == {
            ("field_required", "name"),
            ("field_required", "seedAudienceId"),
            ("field_required", "ratio"),
            ("field_required", "country"),
        }

    async def test_ratio_out_of_range_is_invalid_ratio(self, client: httpx.AsyncClient) -> None:
        for ratio in (0.005, 0.25, "lots"):
            r = await client.post(
                f"{BASE}/custom",
                json={
                    "type": "lookalike",
                    "name": "x",
                    "seedAudienceId": "seg_1",
                    "ratio": ratio,
                    "country": "DE",
                },
            )
            assert r.status_code == 400
            assert r.json()["code"] == "invalid_ratio"
            assert [e["path"] for e in r.json()["errors"]] == ["ratio"]

    async def test_every_problem_is_reported_at_once(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            f"{BASE}/custom",
            json={
                "type": "retargeting_pixel",
                "name": "",
                "pixelId": "px",
                "eventNames": ["ok", ""],
                "windowDays": 0,
                "colour": "red",
            },
        )
        assert r.status_code == 400
        found = {(e["code"], e["path"]) for e in r.json()["errors"]}
        assert found == {
            ("invalid_name", "name"),
            ("invalid_event_names", "eventNames[1]"),
            ("invalid_window_days", "windowDays"),
            ("unknown_field", "colour"),
        }

    async def test_country_must_be_iso(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            f"{BASE}/custom",
            json={
                "type": "lookalike",
                "name": "x",
                "seedAudienceId": "s",
                "ratio": 0.05,
                "country": "Atlantis",
            },
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == "invalid_country"

    async def test_unknown_seed_is_seed_audience_not_found(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            f"{BASE}/custom",
            json={
                "type": "lookalike",
                "name": "x",
                "seedAudienceId": "cus_nope",
                "ratio": 0.05,
                "country": "DE",
            },
        )
        assert r.status_code == 400
        assert r.json()["code"] == "seed_audience_not_found"
        assert r.json()["errors"][0]["path"] == "seedAudienceId"

    async def test_a_body_that_is_not_an_object_is_rejected(self, client: httpx.AsyncClient) -> None:
        r = await client.post(f"{BASE}/custom", json=["file_upload"])
        assert r.status_code == 400

    async def test_needs_the_write_scope(self, token: Callable[..., str], client: httpx.AsyncClient) -> None:
        read_only = token("acme", scopes=["audiences:read"])
        r = await client.post(
            f"{BASE}/custom",
            json={"type": "file_upload", "name": "x"},
            headers={"Authorization": f"Bearer {read_only}"},
        )
        assert r.status_code == 403


class TestReadListDelete:
    async def test_get_returns_what_was_created(
        self, client: httpx.AsyncClient, create_custom: CreateFn
    ) -> None:
        created = await create_custom(PIXEL)
        r = await client.get(f"{BASE}/custom/{created['id']}")
        assert r.status_code == 200
        assert r.json() == created

    async def test_unknown_id_is_custom_audience_not_found(self, client: httpx.AsyncClient) -> None:
        r = await client.get(f"{BASE}/custom/cus_missing")
        assert r.status_code == 404
        assert r.json()["code"] == "custom_audience_not_found"

    async def test_lists_in_pages_filtered_by_type(
        self, client: httpx.AsyncClient, create_custom: CreateFn
    ) -> None:
        made = [await create_custom({"type": "file_upload", "name": f"f{i}"}) for i in range(3)]
        await create_custom(PIXEL)
        first = (await client.get(f"{BASE}/custom", params={"type": "file_upload", "limit": 2})).json()
        assert first["hasMore"] is True
        second = (
            await client.get(
                f"{BASE}/custom", params={"type": "file_upload", "limit": 2, "cursor": first["nextCursor"]}
            )
        ).json()
        assert second["hasMore"] is False
        assert second["nextCursor"] is None
        listed = [a["id"] for a in first["items"] + second["items"]]
        assert listed == sorted(a["id"] for a in made)
        everything = (await client.get(f"{BASE}/custom")).json()["items"]
        assert len(everything) == 4

    async def test_list_rejects_an_unknown_type_and_a_forged_cursor(self, client: httpx.AsyncClient) -> None:
        r = await client.get(f"{BASE}/custom", params={"type": "nope"})
        assert r.status_code == 400
        assert r.json()["code"] == "unknown_custom_type"
        r = await client.get(f"{BASE}/custom", params={"cursor": "%%%"})
        assert r.status_code == 400
        assert r.json()["code"] == "invalid_cursor"

    async def test_delete_removes_it(self, client: httpx.AsyncClient, create_custom: CreateFn) -> None:
        created = await create_custom({"type": "file_upload", "name": "x"})
        assert (await client.delete(f"{BASE}/custom/{created['id']}")).status_code == 204
        assert (await client.get(f"{BASE}/custom/{created['id']}")).status_code == 404
        assert (await client.delete(f"{BASE}/custom/{created['id']}")).status_code == 404


class TestPatch:
    async def test_renames_and_changes_a_live_definition(
        self, client: httpx.AsyncClient, create_custom: CreateFn
    ) -> None:
        created = await create_custom(PIXEL)
        r = await client.patch(
            f"{BASE}/custom/{created['id']}", json={"name": "Renamed", "windowDays": 7, "description": None}
        )
        assert r.status_code == 200
        body = r.json()
        assert (body["name"], body["windowDays"], body["pixelId"], body["description"]) == (
            "Renamed",
            7,
            "px_shop",
            None,
        )
        assert (await client.get(f"{BASE}/custom/{created['id']}")).json() == body

    async def test_type_cannot_change_and_fields_of_other_types_are_unknown(
        self, client: httpx.AsyncClient, create_custom: CreateFn
    ) -> None:
        created = await create_custom({"type": "file_upload", "name": "x"})
        r = await client.patch(f"{BASE}/custom/{created['id']}", json={"type": "lookalike"})
        assert r.status_code == 400
        assert r.json()["code"] == "type_immutable"
        r = await client.patch(f"{BASE}/custom/{created['id']}", json={"ratio": 0.1})
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == "unknown_field"

    async def test_required_fields_cannot_be_nulled(
        self, client: httpx.AsyncClient, create_custom: CreateFn
    ) -> None:
        created = await create_custom(PIXEL)
        r = await client.patch(f"{BASE}/custom/{created['id']}", json={"name": None, "pixelId": None})
        assert r.status_code == 400
        assert {(e["code"], e["path"]) for e in r.json()["errors"]} == {
            ("invalid_name", "name"),
            ("invalid_pixel_id", "pixelId"),
        }


class TestTenantIsolation:
    async def test_another_org_sees_404_everywhere(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient, create_custom: CreateFn
    ) -> None:
        created = await create_custom({"type": "customer_match", "name": "acme only"})
        path = f"{BASE}/custom/{created['id']}"
        assert (await other_client.get(path)).status_code == 404
        assert (await other_client.patch(path, json={"name": "mine"})).status_code == 404
        assert (await other_client.delete(path)).status_code == 404
        upload = await other_client.post(
            f"{path}/upload", files={"file": ("a.csv", b"email\na@example.com\n")}
        )
        assert upload.status_code == 404
        assert (await other_client.get(f"{path}/export", params={"platform": "google"})).status_code == 404
        assert (await other_client.post(f"{path}/refresh")).status_code == 404
        assert (await other_client.get(f"{BASE}/custom")).json()["items"] == []
        assert (await client.get(path)).json()["name"] == "acme only"


class TestOpenApi:
    async def test_request_bodies_have_examples_and_the_create_schema_lists_every_type(
        self, client: httpx.AsyncClient
    ) -> None:
        spec = (await client.get("/openapi.json")).json()
        create = spec["paths"][f"{BASE}/custom"]["post"]["requestBody"]["content"]["application/json"]
        assert set(create["examples"]) == {"file_upload", "customer_match", "lookalike", "retargeting_pixel"}
        kinds = [s["properties"]["type"]["const"] for s in create["schema"]["oneOf"]]
        assert kinds == ["file_upload", "customer_match", "lookalike", "retargeting_pixel"]
        patch = spec["paths"][f"{BASE}/custom/{{audience_id}}"]["patch"]["requestBody"]["content"]
        assert patch["application/json"]["examples"]
        upload = spec["paths"][f"{BASE}/custom/{{audience_id}}/upload"]["post"]
        assert "multipart/form-data" in upload["requestBody"]["content"]
