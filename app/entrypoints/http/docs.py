"""A human page for the API at /docs: Swagger UI over /openapi.json.

Swagger UI's files come from a PyPI package (swagger-ui-py) and are served by this service, so
the page needs no CDN. The page starts Swagger UI from a script file rather than an inline one,
so that its Content-Security-Policy can forbid inline scripts.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui
from flask import Blueprint, Response, url_for

from app.entrypoints.http.contract import Answer, contract

ASSETS = Path(swagger_ui.__file__).parent / "static"

blueprint = Blueprint("docs", __name__, static_folder=ASSETS, static_url_path="/docs/assets")

# Swagger UI styles elements inline and shows images as data: URLs; it loads nothing from
# elsewhere, and runs no script but its own files.
_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


@blueprint.get("/docs")
@contract(
    "This description, as a page to read and try (Swagger UI).",
    [Answer(200, "HTML.", {"type": "string"}, "text/html")],
)
def reference() -> Response:
    html = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>accounts-service API</title>
  <link rel="stylesheet" href="{url_for(".static", filename="swagger-ui.css")}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{url_for(".static", filename="swagger-ui-bundle.js")}"></script>
  <script src="{url_for(".start")}"></script>
</body>
</html>
"""
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": _PAGE_CSP})


@blueprint.get("/docs/start.js")
def start() -> Response:
    script = (
        f'window.ui = SwaggerUIBundle({{url: "{url_for("openapi.openapi")}", '
        'dom_id: "#swagger-ui", deepLinking: true});\n'
    )
    return Response(script, mimetype="text/javascript")
