"""Azure Functions entry point: turns telemetry on, builds the FunctionApp and registers
blueprints. Nothing else."""

import azure.functions as func

from bookker_sync import telemetry
from bookker_sync.functions import BLUEPRINTS
from bookker_sync.settings import get_settings

telemetry.configure()  # key=value redacted logs; App Insights export if its setting is set
get_settings()  # fail at start-up with one message naming every missing or invalid setting

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
