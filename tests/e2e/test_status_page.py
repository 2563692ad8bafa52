"""GET /api/status in headless Chromium (Debian's chromium, driven by Playwright).

A real tenant through the real stack: a room whose subscription works and whose
Outlook traffic (one accepted booking, one declined) arrives by Graph notifications,
and a "ghost" space whose room mailbox does not exist, so its subscription fails for
real. The page must render the table, show the ghost room as failing (checked in the
DOM and in the screenshot's pixels), show the decline with its reason, and keep
hostile names inert.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.repositories import Repositories
from tests.support.browser import mean_color
from tests.support.functions_host import Stack, wait_for
from tests.support.outlook import Outlook

HOSTILE_TENANT = "<img src=x onerror=\"document.title='pwned'\"> Contoso & Co"
HOSTILE_ROOM = "<script>document.title='pwned'</script>Focus"


def subscription_states(stack: Stack, tenant_id: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        clients = build_clients(StorageSettings(connection_string=stack.azurite.connection_string))
        try:
            records = await Repositories(clients.tables).subscriptions.list(tenant_id)
            return {r.space_id: r.state.value for r in records}
        finally:
            await clients.close()

    # In a thread: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


@pytest.fixture(scope="module")
def tenant_with_a_failing_room(stack: Stack) -> Any:
    t = stack.new_tenant()
    r = stack.api("PUT", f"tenants/{t.id}", {"graphTenantId": t.graph_tenant_id,
                  "mode": "bidirectional", "displayName": HOSTILE_TENANT})  # fmt: skip
    assert r.status_code == 200, r.text
    alice = t.add_user("alice")
    room = t.address("focus")
    stack.emulator.add_mailbox(t.graph_tenant_id, room, "Focus", "room")
    t.add_ghost_space("ghost", "Ghost Room", HOSTILE_TENANT)  # no mailbox
    r = stack.api(
        "PUT", f"tenants/{t.id}/spaces/focus", {"name": HOSTILE_ROOM, "resourceEmail": room}
    )
    assert r.status_code == 201, r.text
    wait_for(lambda: subscription_states(stack, t.id) == {"focus": "active", "ghost": "failing"})
    # Outlook traffic, delivered to the app by Graph notifications.
    stranger = t.address("mallory")
    stack.emulator.add_mailbox(t.graph_tenant_id, stranger, "Mallory", "user")
    outlook = Outlook(stack, t)
    day = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    outlook.book_room(alice, room, day, day + timedelta(hours=1), "Planning")
    outlook.book_room(stranger, room, day + timedelta(hours=3), day + timedelta(hours=4), "Party")
    stack.emulator.control("POST", "notifications/flush")

    def page() -> str:
        html = stack.api("GET", "status", params={"tenant": t.id}).text
        done = "not a Bookker user" in html and "confirmed" in html
        return html if done else ""

    wait_for(page, timeout=30)
    return t


def test_status_page_renders_and_shows_the_failing_room(
    stack: Stack, browser: Any, tenant_with_a_failing_room: Any, tmp_path: Path
):
    t = tenant_with_a_failing_room
    stranger = t.address("mallory")
    page = browser.new_page(viewport={"width": 1500, "height": 900})
    response = page.goto(f"{stack.host.base_url}/api/status?tenant={t.id}")
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]

    # The table renders: one row per room, the right verdicts.
    assert page.locator("table.rooms").is_visible()
    assert page.locator("tr.room").count() == 2
    ghost, focus = page.locator("tr[data-room=ghost]"), page.locator("tr[data-room=focus]")
    assert ghost.get_attribute("data-state") == "failing"
    assert ghost.locator(".badge").inner_text() == "failing"
    assert "ErrorInvalidUser" in ghost.locator("ul.reasons").inner_text()
    assert focus.get_attribute("data-state") == "in-sync"
    assert focus.locator(".badge").inner_text() == "in sync"
    assert "expires in" in focus.inner_text()
    declines = focus.locator("ul.declines").inner_text()
    assert "not a Bookker user" in declines
    assert "declined" in declines and stranger in declines, declines  # whose meeting
    assert "confirmed" in focus.locator("ul.changes").inner_text()

    # The lag chart: wide, with axes and labels, one visible point per sync run.
    chart = page.locator("figure.lag-chart[data-room=focus] svg.lag-timeline")
    box = chart.bounding_box()
    assert box is not None and box["width"] >= 600 and box["height"] >= 150, box
    runs = chart.locator("g.run circle").count()
    assert runs >= 1
    text = chart.text_content() or ""
    assert f"{runs} run" in text and "now" in text and "lag" in text and "app clock" in text
    chart_shot = tmp_path / "lag-chart.png"
    chart.screenshot(path=str(chart_shot))
    dot = chart.locator("g.run circle").last.bounding_box()
    assert dot is not None and dot["width"] >= 6  # a point you can see, not a hairline

    # Hostile names are text, not markup.
    assert HOSTILE_TENANT in page.locator(f"section[data-tenant='{t.id}'] h2").inner_text()
    assert HOSTILE_ROOM in focus.locator("strong").inner_text()
    assert page.locator("img").count() == 0 and page.locator("main script").count() == 0
    assert page.title() == "Bookker Sync — status"

    # The screenshot: the failing room is drawn red, the healthy one green.
    shot = tmp_path / "status-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    red = mean_color(browser, ghost.locator(".badge").screenshot())
    green = mean_color(browser, focus.locator(".badge").screenshot())
    assert red[0] > red[1] + 15 and red[0] > red[2] + 15, red
    assert green[1] > green[0] + 10 and green[1] > green[2] + 10, green
    row = mean_color(browser, ghost.locator("td").first.screenshot())
    assert row[0] > row[1], row  # the failing row's red edge and tint
    page.close()
