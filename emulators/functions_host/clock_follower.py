"""Keeps the app's clock in step with an external virtual clock (the Graph emulator's).

Polls ``GET <url>`` → ``{"now": iso}`` and hands the offset from real time to a hook
in the app (``module:function`` taking seconds), before every invocation and twice a
second in the background.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp

log = logging.getLogger("functions_host.clock")


def load_callable(target: str) -> Callable[..., object]:
    """``module:function`` of the app, imported now so a typo fails at start-up."""
    module_name, _, attr = target.partition(":")
    hook = getattr(importlib.import_module(module_name), attr)
    if not callable(hook):
        raise TypeError(f"{target} is not callable")
    return hook  # type: ignore[no-any-return]


def load_hook(target: str) -> Callable[[float], None]:
    hook: Callable[[float], None] = load_callable(target)  # type: ignore[assignment]
    return hook


class ClockFollower:
    def __init__(
        self, url: str | None, hook: Callable[[float], None] | None, ca_path: str | None = None
    ) -> None:
        self._url = url
        self._hook = hook
        self._offset = timedelta(0)
        self._ssl = ssl.create_default_context(cafile=ca_path) if ca_path else None
        self._session: aiohttp.ClientSession | None = None
        self._stopping = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return bool(self._url)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    async def sync(self) -> None:
        if not self._url:
            return
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        try:
            ssl_option: ssl.SSLContext | bool = self._ssl if self._ssl is not None else True
            async with self._session.get(self._url, ssl=ssl_option) as response:
                data = await response.json()
            virtual = datetime.fromisoformat(str(data["now"]).replace("Z", "+00:00"))
        except Exception as exc:  # emulator briefly unavailable: keep the last offset
            log.debug("clock sync failed: %s", exc)
            return
        self._offset = virtual - datetime.now(UTC)
        if self._hook is not None:
            self._hook(self._offset.total_seconds())

    async def run(self) -> None:
        while not self._stopping.is_set():
            await self.sync()
            try:
                await asyncio.wait_for(self._stopping.wait(), 0.5)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping.set()
        if self._session is not None:
            await self._session.close()
