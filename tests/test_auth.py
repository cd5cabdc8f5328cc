"""Auth and tenancy (CONTRACT §4): every failure has its status and problem+json body."""

from __future__ import annotations

import datetime as dt

import httpx
import jwt
import pytest

from audiences.config import Settings
from tests.conftest import SECRET

PROTECTED = "/api/crm/contacts/c1"


def _claims(**over: object) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, object] = {"sub": "u1", "orgs": ["acme"], "exp": now + dt.timedelta(hours=1)}
    claims.update(over)
    return claims


def _assert_problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status
    assert body["code"] == code
    assert set(body) >= {"type", "title", "status", "detail", "code", "errors"}


class TestBearerToken:
    async def test_missing_token_is_401_with_www_authenticate(self, raw_client: httpx.AsyncClient) -> None:
        r = await raw_client.get(PROTECTED, headers={"orgid": "acme"})
        _assert_problem(r, 401, "missing_token")
        assert r.headers["www-authenticate"].startswith("Bearer")

    async def test_malformed_header_is_401(self, raw_client: httpx.AsyncClient) -> None:
        r = await raw_client.get(PROTECTED, headers={"orgid": "acme", "Authorization": "Basic abc"})
        _assert_problem(r, 401, "invalid_token")
        assert r.headers["www-authenticate"].startswith("Bearer")

    async def test_garbage_token_is_401(self, raw_client: httpx.AsyncClient) -> None:
        r = await raw_client.get(PROTECTED, headers={"orgid": "acme", "Authorization": "Bearer not.a.jwt"})
        _assert_problem(r, 401, "invalid_token")

    async def test_bad_signature_is_401(self, raw_client: httpx.AsyncClient) -> None:
        token = jwt.encode(_claims(), "another-secret-" + "y" * 40, algorithm="HS256")
        r = await raw_client.get(PROTECTED, headers={"orgid": "acme", "Authorization": f"Bearer {token}"})
        _assert_problem(r, 401, "invalid_token")

    async def test_expired_token_is_401(self, raw_client: httpx.AsyncClient) -> None:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        token = jwt.encode(_claims(exp=past), SECRET, algorithm="HS256")
        r = await raw_client.get(PROTECTED, headers={"orgid": "acme", "Authorization": f"Bearer {token}"})
        _assert_problem(r, 401, "token_expired")
        assert r.headers["www-authenticate"].startswith("Bearer")

    async def test_alg_none_is_refused(self, raw_client: httpx.AsyncClient) -> None:
        token = jwt.encode(_claims(), None, algorithm="none")
        r = await raw_client.get(PROTECTED, headers={"orgid": "acme", "Authorization": f"Bearer {token}"})
        _assert_problem(r, 401, "invalid_token")

    async def test_algorithm_confusion_is_refused(self, raw_client: httpx.AsyncClient) -> None:
        # An HS384 token signed with the right secret is still refused: the algorithm is fixed.
        token = jwt.encode(_claims(), SECRET, algorithm="HS384")
        r = await raw_client.get(PROTECTED, headers={"orgid": "acme", "Authorization": f"Bearer {token}"})
        _assert_problem(r, 401, "invalid_token")

    async def test_token_without_orgs_is_401(self, raw_client: httpx.AsyncClient) -> None:
        claims = _claims()
        del claims["orgs"]
        token = jwt.encode(claims, SECRET, algorithm="HS256")
        r = await raw_client.get(PROTECTED, headers={"orgid": "acme", "Authorization": f"Bearer {token}"})
        _assert_problem(r, 401, "invalid_token")

    async def test_token_without_exp_is_401(self, raw_client: httpx.AsyncClient) -> None:
        claims = _claims()
        del claims["exp"]
        token = jwt.encode(claims, SECRET, algorithm="HS256")
        r = await raw_client.get(PROTECTED, headers={"orgid": "acme", "Authorization": f"Bearer {token}"})
        _assert_problem(r, 401, "invalid_token")


class TestOrgHeader:
    async def test_missing_orgid_is_400(self, raw_client: httpx.AsyncClient, token: object) -> None:
        t = jwt.encode(_claims(), SECRET, algorithm="HS256")
        r = await raw_client.get(PROTECTED, headers={"Authorization": f"Bearer {t}"})
        _assert_problem(r, 400, "orgid_required")

    async def test_org_not_in_token_is_403(self, raw_client: httpx.AsyncClient) -> None:
        t = jwt.encode(_claims(), SECRET, algorithm="HS256")
        r = await raw_client.get(PROTECTED, headers={"Authorization": f"Bearer {t}", "orgid": "globex"})
        _assert_problem(r, 403, "org_forbidden")

    async def test_scope_is_enforced(self, raw_client: httpx.AsyncClient) -> None:
        t = jwt.encode(_claims(scope="audiences:read"), SECRET, algorithm="HS256")
        r = await raw_client.post(
            "/api/crm/contacts:batch",
            json={"contacts": [{"id": "c1"}]},
            headers={"Authorization": f"Bearer {t}", "orgid": "acme"},
        )
        _assert_problem(r, 403, "insufficient_scope")

    async def test_valid_token_and_org_pass(self, raw_client: httpx.AsyncClient) -> None:
        t = jwt.encode(_claims(), SECRET, algorithm="HS256")
        r = await raw_client.get(PROTECTED, headers={"Authorization": f"Bearer {t}", "orgid": "acme"})
        _assert_problem(r, 404, "contact_not_found")


class TestOrgIdAlphabet:
    """Issue 13, finding 6: storage keys are `<orgId>:<id>`, so org `a:b` with contact `c`
    and org `a` with contact `b:c` would share `a:b:c`. Org ids are refused outside
    `[A-Za-z0-9][A-Za-z0-9_.-]{0,63}` before anything is read or written."""

    async def test_an_org_id_with_a_colon_cannot_reach_another_orgs_keys(
        self, raw_client: httpx.AsyncClient
    ) -> None:
        t = jwt.encode(_claims(orgs=["a", "a:b"]), SECRET, algorithm="HS256")
        as_a = {"Authorization": f"Bearer {t}", "orgid": "a"}
        as_ab = {"Authorization": f"Bearer {t}", "orgid": "a:b"}
        stored = await raw_client.post(
            "/api/crm/contacts:batch", json={"contacts": [{"id": "b:c"}]}, headers=as_a
        )
        assert stored.json()["accepted"] == 1
        _assert_problem(await raw_client.get("/api/crm/contacts/c", headers=as_ab), 400, "invalid_orgid")
        r = await raw_client.post(
            "/api/crm/contacts:batch", json={"contacts": [{"id": "c", "owner": "a:b"}]}, headers=as_ab
        )
        _assert_problem(r, 400, "invalid_orgid")
        assert "owner" not in (await raw_client.get("/api/crm/contacts/b:c", headers=as_a)).json()

    @pytest.mark.parametrize("org", ["a:b", "-lead", ".x", "x" * 65, "sp ace", "ünï", "a/b"])
    async def test_org_ids_outside_the_alphabet_are_400(
        self, raw_client: httpx.AsyncClient, org: str
    ) -> None:
        t = jwt.encode(_claims(orgs=[org]), SECRET, algorithm="HS256")
        headers = {"Authorization": f"Bearer {t}", "orgid": org.encode()}
        _assert_problem(await raw_client.get(PROTECTED, headers=headers), 400, "invalid_orgid")

    @pytest.mark.parametrize("org", ["acme", "Org_1", "eu.acme-2", "9", "x" * 64])
    async def test_org_ids_inside_the_alphabet_pass(self, raw_client: httpx.AsyncClient, org: str) -> None:
        t = jwt.encode(_claims(orgs=[org]), SECRET, algorithm="HS256")
        r = await raw_client.get(PROTECTED, headers={"Authorization": f"Bearer {t}", "orgid": org})
        _assert_problem(r, 404, "contact_not_found")


class TestOpenRoutes:
    @pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs"])
    async def test_needs_no_token(self, raw_client: httpx.AsyncClient, path: str) -> None:
        r = await raw_client.get(path)
        assert r.status_code == 200

    async def test_readyz_reports_the_database(self, raw_client: httpx.AsyncClient) -> None:
        r = await raw_client.get("/readyz")
        assert r.json() == {"status": "ok", "database": "embedded (memory)"}


class TestSecretHandling:
    def test_real_mongodb_without_secret_refuses_to_start(self) -> None:
        settings = Settings(mongodb_uri="mongodb://localhost:27017", jwt_secret=None)
        with pytest.raises(RuntimeError, match="AUDIENCES_JWT_SECRET"):
            settings.resolved_jwt_secret()

    def test_embedded_secret_is_generated_once_and_kept(self, tmp_path: object) -> None:
        settings = Settings(mongodb_uri=None, jwt_secret=None, data_dir=tmp_path)  # type: ignore[arg-type]
        first = settings.resolved_jwt_secret()
        assert len(first) >= 32
        assert Settings(mongodb_uri=None, jwt_secret=None, data_dir=tmp_path).resolved_jwt_secret() == first  # type: ignore[arg-type]
