"""Function blueprints: thin HTTP / queue / timer entry points over bookker_sync.sync."""

import azure.functions as func

from bookker_sync.functions.health import bp as health_bp

BLUEPRINTS: list[func.Blueprint] = [health_bp]
