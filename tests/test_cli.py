"""The `audiences` command: token and demo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from audiences.cli import app
from audiences.config import get_settings

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("AUDIENCES_MONGODB_URI", raising=False)
    monkeypatch.setenv("AUDIENCES_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AUDIENCES_JWT_SECRET", "cli-secret-" + "z" * 40)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


class TestToken:
    def test_prints_a_signed_token_for_the_orgs_and_scopes(self, env: Path) -> None:
        result = runner.invoke(app, ["token", "--org", "acme", "--org", "beta", "--scope", "audiences:read"])
        assert result.exit_code == 0, result.output
        claims = jwt.decode(result.stdout.strip(), "cli-secret-" + "z" * 40, algorithms=["HS256"])
        assert claims["orgs"] == ["acme", "beta"]
        assert claims["scope"] == "audiences:read"
        assert claims["exp"] - claims["iat"] == 3600

    def test_rejects_unknown_scopes_and_bad_ttl(self, env: Path) -> None:
        assert runner.invoke(app, ["token", "--org", "a", "--scope", "root"]).exit_code != 0
        assert runner.invoke(app, ["token", "--org", "a", "--ttl", "forever"]).exit_code != 0

    def test_rejects_org_ids_outside_the_alphabet(self, env: Path) -> None:
        assert runner.invoke(app, ["token", "--org", "a:b"]).exit_code != 0


class TestDemo:
    def test_loads_contacts_and_events_and_prints_a_curl(self, env: Path) -> None:
        result = runner.invoke(app, ["demo", "--contacts", "40", "--events-per-contact", "3"])
        assert result.exit_code == 0, result.output
        assert "Loaded 40 contacts" in result.output
        assert "documents/s" in result.output
        assert "curl -s -X POST http://127.0.0.1:8000/api/crm/audiences/estimate-reach" in result.stdout
        assert (env / "audiences.sqlite3").exists()
