"""Request-scoped dependencies shared by every router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from audiences.config import Settings
from audiences.db import Database


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Db = Annotated[Database, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_app_settings)]
