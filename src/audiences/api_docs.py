"""`/docs` (Swagger UI) and `/redoc` served with their assets from the `fastapi-offline`
package, so the reference works on a machine without internet (FastAPI's defaults load
them from a CDN)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

STATIC = "/docs/static"
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}


def _asset_dir() -> Path:
    return Path(str(importlib.resources.files(fastapi_offline) / "static"))


def install_offline_docs(app: FastAPI) -> None:
    """Add `/docs`, `/docs/oauth2-redirect`, `/redoc` and their assets under `/docs/static/`.
    Create the app with `docs_url=None, redoc_url=None`."""
    assets = _asset_dir()
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} — API reference"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            # The online validator badge would call out to swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=f"{STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{STATIC}/favicon.png",
            with_google_fonts=False,
        )

    for name, media_type in _ASSETS.items():
        path = assets / name
        if not path.is_file():
            raise RuntimeError(f"fastapi-offline no longer ships {name}")

        async def asset(path: Path = path, media_type: str = media_type) -> FileResponse:
            return FileResponse(
                path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
            )

        app.add_api_route(f"{STATIC}/{name}", asset, methods=["GET"], include_in_schema=False)
