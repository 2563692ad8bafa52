"""GET /api/docs in headless Chromium (Debian's chromium, driven by Playwright): the
app's own Swagger UI over its own /api/openapi.json.

The page must render every operation's summary and the named Error schema, load
everything it needs from the app itself (no request leaves 127.0.0.1, no CSP
violation), and draw something (the screenshot is not blank). Its assets are served
with exact content types and cache headers; nothing else of the package is served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from bookker_sync.functions.openapi_text import OPERATIONS
from tests.support.browser import ink_share
from tests.support.functions_host import Stack


def test_docs_page_renders_every_operation_from_the_app_alone(
    stack: Stack, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    response = page.goto(f"{stack.host.base_url}/api/docs")
    assert response is not None and response.status == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"

    # Swagger UI has loaded /api/openapi.json and drawn one block per operation.
    page.wait_for_selector(".opblock-summary-description", timeout=30_000)
    assert page.locator(".opblock").count() == len(OPERATIONS)
    shown = page.locator(".opblock-summary-description").all_inner_texts()
    assert sorted(shown) == sorted(summary for _, summary, _ in OPERATIONS.values())
    tags = page.locator("h3.opblock-tag")
    assert [tags.nth(i).get_attribute("data-tag") for i in range(tags.count())] == [
        "Configuration",
        "Bookings",
        "Events",
    ]
    assert "Bookker Sync API" in page.locator(".info .title").inner_text()

    # An operation opens on its description and its documented error answers.
    page.locator("#operations-Bookings-createBooking .opblock-summary").click()
    block = page.locator("#operations-Bookings-createBooking")
    block.locator(".opblock-description-wrapper").first.wait_for()
    assert "Checks the space's and the user's rules" in block.inner_text()
    assert block.locator("tr.response[data-code='413']").count() == 1

    # The named Error schema is in the page's schema list.
    models = page.locator("section.models")
    models.scroll_into_view_if_needed()
    assert {"Error", "ErrorDetail", "Violation"} <= set(
        models.locator(".model-title").all_inner_texts()
    )

    shot = tmp_path / "api-docs.png"
    page.screenshot(path=str(shot), full_page=True)
    png = shot.read_bytes()
    assert len(png) > 20_000
    assert ink_share(browser, png) > 0.02  # text and coloured method badges, not blank
    page.close()

    # Everything came from the app itself: nothing from a CDN or validator.swagger.io.
    remote = [u for u in requested if urlsplit(u).scheme not in ("data", "blob")
              and urlsplit(u).hostname != "127.0.0.1"]  # fmt: skip
    assert not remote, remote
    assert f"{stack.host.base_url}/api/openapi.json" in requested
    assert f"{stack.host.base_url}/api/docs/swagger-ui-bundle.js" in requested
    assert not problems, problems  # CSP violations would show here


@pytest.mark.parametrize(
    ("file", "content_type"),
    [
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
        ("bookker-docs.js", "text/javascript; charset=utf-8"),
        ("swagger-ui.css", "text/css; charset=utf-8"),
        ("favicon-32x32.png", "image/png"),
    ],
)
def test_assets_have_exact_types_and_cache_headers(
    stack: Stack, file: str, content_type: str
) -> None:
    r = stack.http.get(f"/api/docs/{file}")
    assert r.status_code == 200, r.text[:200]
    assert r.headers["content-type"] == content_type
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "public, max-age=86400"
    assert len(r.content) > 200


@pytest.mark.parametrize(
    "file",
    ["index.html", "index.j2", "swagger-ui.js.map", "oauth2-redirect.html",
     "..%2F__init__.py", quote("../../swagger_ui_bundle/__init__.py", safe=""), "%2e%2e"],
)  # fmt: skip
def test_nothing_else_is_served(stack: Stack, file: str) -> None:
    r = stack.http.get(f"/api/docs/{file}")
    assert r.status_code == 404, (r.status_code, r.text[:200])
    assert r.json()["error"]["code"] == "NotFound"


def test_the_page_and_its_assets_are_anonymous(stack: Stack) -> None:
    """The local host runs without keys, so read the functions' declared auth level."""
    functions = {f["name"]: f for f in stack.http.get("/admin/functions").json()}
    for name in ("api_docs", "api_docs_asset", "openapi"):
        assert functions[name]["authLevel"].lower() == "anonymous", functions[name]
    assert functions["api_docs_asset"]["route"] == "docs/{file}"
    assert stack.http.get("/api/docs/").status_code == 200  # trailing slash too
