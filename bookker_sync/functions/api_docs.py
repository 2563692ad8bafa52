"""GET /api/docs: the OpenAPI document (/api/openapi.json) as a page for people,
rendered by Swagger UI.

Swagger UI's JS and CSS come from the swagger-ui-bundle package and are served by this
app (GET /api/docs/{file}): no CDN, and the page's CSP lets it load nothing from
anywhere else. Anonymous, like openapi.json: it shows what the API accepts, no data.
"""

from __future__ import annotations

import functools
import html
from importlib.resources.abc import Traversable
from typing import Final
from urllib.parse import urlsplit

import azure.functions as func
from swagger_ui_bundle import swagger_ui_path

from bookker_sync.functions.responses import error_response

bp = func.Blueprint()  # type: ignore[no-untyped-call]

_JS: Final = "text/javascript; charset=utf-8"  # RFC 9239
ASSETS: Final[dict[str, str]] = {
    # Only these files, each with its content type: nothing else of the package is served.
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": _JS,
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
INIT_JS: Final = "bookker-docs.js"
_COMMON: Final = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
PAGE_HEADERS: Final = {
    **_COMMON,
    # Scripts and styles from this app only. Swagger UI sets style attributes (hence
    # 'unsafe-inline' for styles, never for scripts), draws SVG data: images, and calls
    # the API itself for "Try it out" (connect-src 'self').
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",
}
ASSET_HEADERS: Final = {**_COMMON, "Cache-Control": "public, max-age=86400"}
_ROOT: Final[Traversable] = swagger_ui_path  # the package's Swagger UI dist folder

# The page's one script of ours: start Swagger UI on the document named in the page.
# validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
_INIT = """\
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    displayOperationId: false,
    docExpansion: "list",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""

_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bookker Sync API</title>
<link rel="stylesheet" href="{base}/swagger-ui.css">
<link rel="icon" type="image/png" href="{base}/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="{base}/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui" data-spec="{spec}"></div>
<script src="{base}/swagger-ui-bundle.js"></script>
<script src="{base}/{init}"></script>
</body>
</html>
"""


@bp.route(route="docs", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_docs(req: func.HttpRequest) -> func.HttpResponse:
    # Links from the request's own path: /api/docs and /api/docs/ both work, under any
    # route prefix.
    base = urlsplit(req.url).path.rstrip("/")
    spec = base.removesuffix("/docs") + "/openapi.json"
    page = _PAGE.format(base=html.escape(base), spec=html.escape(spec), init=INIT_JS)
    return func.HttpResponse(
        page, status_code=200, mimetype="text/html", charset="utf-8", headers=PAGE_HEADERS
    )


@bp.route(route="docs/{file}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_docs_asset(req: func.HttpRequest) -> func.HttpResponse:
    name = str(req.route_params.get("file", ""))
    if name == INIT_JS:
        body, content_type = _INIT.encode(), _JS
    elif name in ASSETS:
        body, content_type = _asset(name), ASSETS[name]
    else:
        return error_response(404, "NotFound", "no such file of the API docs page")
    return func.HttpResponse(
        body, status_code=200, headers={**ASSET_HEADERS, "Content-Type": content_type}
    )


@functools.cache
def _asset(name: str) -> bytes:
    return (_ROOT / name).read_bytes()
