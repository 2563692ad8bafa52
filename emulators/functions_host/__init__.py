"""A local Azure Functions runtime for the Python v2 programming model.

Azure Functions Core Tools (`func start`) cannot be installed here, so this host
loads ``function_app.app`` and serves it the way the real host does: HTTP triggers,
queue triggers over Azurite (base64, visibility timeout, dequeueCount, poison queues),
NCRONTAB timers and the admin endpoint. It is dev/test code and never deployed.
"""
