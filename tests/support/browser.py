"""Headless Debian chromium through Playwright (never `playwright install`): the
browser fixture and pixel checks of screenshots shared by the page tests."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():  # a missing browser is a broken setup, never a skip
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


_STATS = """async (src) => {
    const img = new Image(); img.src = src; await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let r = 0, g = 0, b = 0, ink = 0;
    for (let i = 0; i < d.length; i += 4) {
        r += d[i]; g += d[i+1]; b += d[i+2];
        const off = Math.abs(d[i] - d[0]) + Math.abs(d[i+1] - d[1]) + Math.abs(d[i+2] - d[2]);
        if (off > 60) ink++;
    }
    const n = d.length / 4; return [r / n, g / n, b / n, ink / n];
}"""


def _stats(browser: Any, png: bytes) -> list[float]:
    """Decoded by the browser itself (canvas): mean R, G, B and the share of pixels
    that differ clearly from the top-left one (the background)."""
    page = browser.new_page()
    try:
        src = "data:image/png;base64," + base64.b64encode(png).decode()
        return list(page.evaluate(_STATS, src))
    finally:
        page.close()


def mean_color(browser: Any, png: bytes) -> tuple[float, float, float]:
    """Average RGB of a screenshot."""
    r, g, b, _ = _stats(browser, png)
    return r, g, b


def ink_share(browser: Any, png: bytes) -> float:
    """How much of a screenshot is not background: 0 for a blank page."""
    return _stats(browser, png)[3]
