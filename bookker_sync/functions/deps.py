"""How blueprints get their Services: settings from the environment, one set per loop."""

from __future__ import annotations

from bookker_sync.settings import get_settings
from bookker_sync.sync.services import Services, services_for


def services() -> Services:
    return services_for(get_settings())
