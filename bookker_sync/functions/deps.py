"""How blueprints get their Services: settings from the environment, one set per loop.

The blueprints import only what declaring their triggers needs; each use case (and the
SDKs behind it) is imported inside the function that runs it. Importing function_app is
what a cold instance does first, before it can answer Graph's validation request
(10 s) or a notification (3 s): bench/cold_start.py measures it, and
tests/unit/test_cold_start.py keeps the Graph SDK off the webhook path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bookker_sync.settings import get_settings

if TYPE_CHECKING:
    from bookker_sync.sync.services import Services


def services() -> Services:
    from bookker_sync.sync.services import services_for  # storage SDKs: on first use

    return services_for(get_settings())
