"""The CLI tells time by the app's clock, so "expires in 3 days" means what it means on
the status page.

In Azure that is real time. In the local stack the Functions host moves the app's
clock with the Graph emulator's virtual clock: it reads ``FUNCTIONS_HOST_CLOCK_URL``
(``{"now": iso}``) and hands the offset to ``bookker_sync.clock``. The CLI reads the
same setting (from the environment or local.settings.json), once at start, and sets
the same offset; without it, nothing changes.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime

from bookker_sync.clock import set_offset_seconds
from bookker_sync.settings import SettingsError

CLOCK_URL = "FUNCTIONS_HOST_CLOCK_URL"
CLOCK_CA = "FUNCTIONS_HOST_CLOCK_CA"
TIMEOUT_SECONDS = 5.0


def follow_app_clock(env: Mapping[str, str]) -> None:
    url = (env.get(CLOCK_URL) or "").strip()
    if not url:
        return
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"{CLOCK_URL} must be an http(s) URL, not {url!r}")
    context = ssl.create_default_context(cafile=env.get(CLOCK_CA) or None)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS, context=context) as answer:  # noqa: S310 (scheme checked above)
            virtual = datetime.fromisoformat(str(json.load(answer)["now"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SettingsError(f"cannot read the app's clock at {CLOCK_URL}={url}: {exc}") from exc
    if virtual.tzinfo is None:
        raise SettingsError(f"{CLOCK_URL}={url} answered a time without a UTC offset")
    set_offset_seconds((virtual - datetime.now(UTC)).total_seconds())
