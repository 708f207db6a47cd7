"""``GET /docs``: Swagger UI on the service's own OpenAPI document, from the assets the
``swagger-ui-py`` package ships (Swagger UI 5, which reads OpenAPI 3.1: the 4.x of
``swagger-ui-bundle`` refused the document; served under ``/docs/assets``). The page names
no other host, so it works offline and behind a firewall; FastAPI's default page loads
Swagger UI from a CDN and stays blank without one."""

from __future__ import annotations

import html
import json
from pathlib import Path

import swagger_ui
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

SWAGGER_UI = Path(swagger_ui.__file__).parent / "static"
DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: {openapi},
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
}});
</script>
</body>
</html>
"""


def add_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve the page at ``/docs`` and Swagger UI's files under ``/docs/assets`` (neither is
    in the OpenAPI document). ``validatorUrl: null``: Swagger UI would otherwise ask an
    online validator for a badge."""
    app.mount(ASSETS_PATH, StaticFiles(directory=SWAGGER_UI), name="swagger-ui")

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        page = _PAGE.format(
            title=html.escape(f"{app.title} API"),
            assets=html.escape(root + ASSETS_PATH),
            # JSON in a script: "</" escaped so the text cannot close the script element.
            openapi=json.dumps(root + openapi_url).replace("</", "<\\/"),
        )
        return HTMLResponse(page)
