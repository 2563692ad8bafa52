"""Function blueprints: thin HTTP / queue / timer entry points over bookker_sync.sync."""

import azure.functions as func

from bookker_sync.functions.api_docs import bp as docs_bp
from bookker_sync.functions.bookings_api import bp as bookings_bp
from bookker_sync.functions.consent import bp as consent_bp
from bookker_sync.functions.events_api import bp as events_bp
from bookker_sync.functions.health import bp as health_bp
from bookker_sync.functions.openapi import bp as openapi_bp
from bookker_sync.functions.queue_functions import bp as queues_bp
from bookker_sync.functions.status_page import bp as status_bp
from bookker_sync.functions.timers import bp as timers_bp
from bookker_sync.functions.webhooks import bp as webhooks_bp

BLUEPRINTS: list[func.Blueprint] = [
    health_bp,
    bookings_bp,
    consent_bp,
    events_bp,
    openapi_bp,
    docs_bp,
    webhooks_bp,
    queues_bp,
    timers_bp,
    status_bp,
]
