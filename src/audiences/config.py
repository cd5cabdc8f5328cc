"""Settings, all from environment variables prefixed `AUDIENCES_` (see .env.example)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIENCES_", env_file=".env", extra="ignore")

    mongodb_uri: str | None = None
    database: str = "audiences"
    data_dir: Path = Path("./.audiences-data")
    # Tests run the embedded backend on its in-memory engine instead of SQLite.
    embedded_in_memory: bool = False

    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None

    query_timeout_ms: int = Field(default=15_000, ge=1)
    max_batch: int = Field(default=10_000, ge=1)
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # CSV uploads are streamed to the database in chunks, so they may be far larger.
    max_upload_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=1024)
    # Free-form values (contact fields, event properties): per string, per array, per
    # row (every nested value counts) and nesting depth. A row over a limit is rejected.
    max_string_length: int = Field(default=65_536, ge=1)
    max_array_length: int = Field(default=10_000, ge=1)
    max_row_elements: int = Field(default=20_000, ge=1)
    max_value_depth: int = Field(default=8, ge=1, le=64)
    # Any JSON request body: values in all (bounded from the bytes before parsing).
    max_json_elements: int = Field(default=1_000_000, ge=1_000)
    log_level: str = "INFO"

    default_project_key: str = "default"
    snapshot_ttl_days: int = Field(default=7, ge=1)
    sweep_interval_s: int = Field(default=300, ge=0)
    webhook_allow_private: bool = False

    @property
    def embedded(self) -> bool:
        return not self.mongodb_uri

    def resolved_jwt_secret(self) -> str:
        """HS256 secret; in embedded mode one is generated once and kept in `data_dir`."""
        if self.jwt_secret:
            return self.jwt_secret
        if not self.embedded:
            raise RuntimeError(
                "AUDIENCES_JWT_SECRET (or AUDIENCES_JWT_PUBLIC_KEY / AUDIENCES_JWT_JWKS_URL) "
                "must be set when AUDIENCES_MONGODB_URI is set"
            )
        path = self.data_dir / "jwt-secret"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        path.write_text(secret)
        path.chmod(0o600)
        return secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
