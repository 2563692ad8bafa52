"""HTTP triggers and the admin API on one aiohttp server, as `func start` serves them."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import azure.functions as func
from aiohttp import web

from emulators.functions_host.invoker import Invoker
from emulators.functions_host.registry import FunctionSpec
from emulators.functions_host.routes import Route, compile_route

AdminRunner = Callable[[FunctionSpec, str | None], Awaitable[dict[str, Any]]]
# The real host's request body limit and the app setting that changes it (bytes):
# learn.microsoft.com/azure/azure-functions/functions-app-settings
# #functions_request_body_size_limit (default 104857600, 100 MB).
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
DEFAULT_BODY_LIMIT = 100 * 1024 * 1024


def request_body_limit(env: Mapping[str, str]) -> int:
    raw = (env.get(BODY_LIMIT_SETTING) or "").strip()
    if not raw:
        return DEFAULT_BODY_LIMIT
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{BODY_LIMIT_SETTING} must be a positive number of bytes, not {raw!r}")
    return int(raw)


class HttpHost:
    def __init__(
        self,
        specs: list[FunctionSpec],
        invoker: Invoker,
        route_prefix: str,
        run_non_http: AdminRunner,
        function_key: str | None = None,
        master_key: str | None = None,
        max_body_bytes: int = 100 * 1024 * 1024,
    ) -> None:
        self._invoker = invoker
        self._prefix = route_prefix
        self._run_non_http = run_non_http
        self._function_key = function_key
        self._master_key = master_key
        self._max_body = max_body_bytes
        self._specs = {s.name: s for s in specs}
        # Literal segments first, as ASP.NET routing prefers the most specific route.
        http = [s for s in specs if s.trigger_type == "httpTrigger"]
        self._routes: list[tuple[Route, FunctionSpec]] = sorted(
            ((compile_route(s.trigger.get("route") or s.name), s) for s in http),
            key=lambda pair: -pair[0].literal_segments,
        )

    def app(self) -> web.Application:
        application = web.Application(client_max_size=self._max_body)
        application.router.add_route("POST", "/admin/functions/{name}", self._admin_run)
        application.router.add_route("GET", "/admin/functions", self._admin_list)
        application.router.add_route("GET", "/admin/host/status", self._admin_status)
        # [\s\S]: a path with an encoded newline (%0A) still reaches the functions, as in
        # Azure (aiohttp's own 404 would answer text/plain instead of the app's JSON).
        application.router.add_route("*", "/{tail:[\\s\\S]*}", self._dispatch)
        return application

    # -- HTTP triggers -------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        prefix = f"/{self._prefix}" if self._prefix else ""
        if prefix and not (path == prefix or path.startswith(prefix + "/")):
            return _json_error(404, "NotFound", f"no function serves {path}")
        relative = path[len(prefix) :].strip("/")
        allowed_elsewhere = False
        for route, spec in self._routes:
            params = route.match(relative)
            if params is None:
                continue
            methods = [m.upper() for m in spec.trigger.get("methods") or []]
            if methods and request.method.upper() not in methods:
                allowed_elsewhere = True
                continue
            if not self._authorised(request, str(spec.trigger.get("authLevel", "function"))):
                return web.Response(status=401)
            return await self._invoke_http(request, spec, params)
        if allowed_elsewhere:
            return _json_error(405, "MethodNotAllowed", f"{request.method} not allowed on {path}")
        return _json_error(404, "NotFound", f"no function serves {path}")

    async def _invoke_http(
        self, request: web.Request, spec: FunctionSpec, params: dict[str, str]
    ) -> web.StreamResponse:
        # A declared length past the limit is refused before reading a byte; a chunked
        # body is cut off by aiohttp once it passes client_max_size (413 either way).
        if request.content_length is not None and request.content_length > self._max_body:
            return _json_error(413, "PayloadTooLarge", "request body too large")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _json_error(413, "PayloadTooLarge", "request body too large")
        fn_request = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            params=dict(request.query),
            route_params=params,
            body=body,
        )
        outcome = await self._invoker.invoke(spec, fn_request)
        if not outcome.ok:
            return web.Response(status=500)  # what the real host answers on an exception
        return _to_aiohttp(outcome.result)

    def _authorised(self, request: web.Request, level: str) -> bool:
        level = level.lower()
        if level == "anonymous":
            return True
        supplied = request.headers.get("x-functions-key") or request.query.get("code") or ""
        keys = [self._master_key] if level == "admin" else [self._function_key, self._master_key]
        configured = [k for k in keys if k]
        if not configured:
            return True  # locally, keys are enforced only when configured
        return any(hmac.compare_digest(supplied.encode(), k.encode()) for k in configured)

    # -- admin ---------------------------------------------------------------------
    def _admin_ok(self, request: web.Request) -> bool:
        if not self._master_key:
            return True
        supplied = request.headers.get("x-functions-key") or request.query.get("code") or ""
        return secrets.compare_digest(supplied.encode(), self._master_key.encode())

    async def _admin_run(self, request: web.Request) -> web.StreamResponse:
        if not self._admin_ok(request):
            return web.Response(status=401)
        spec = self._specs.get(request.match_info["name"])
        if spec is None:
            return _json_error(404, "NotFound", f"no function {request.match_info['name']}")
        if spec.trigger_type == "httpTrigger":
            return _json_error(400, "BadRequest", "HTTP functions are called on their route")
        raw = await request.read()
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            return _json_error(400, "BadRequest", 'body must be JSON: {"input": "..."}')
        given = payload.get("input") if isinstance(payload, dict) else None
        if given is not None and not isinstance(given, str):
            given = json.dumps(given)
        result = await self._run_non_http(spec, given)
        # The real host answers 202 and runs in the background; ?wait=true (ours) waits.
        if request.query.get("wait", "").lower() in ("1", "true"):
            return web.json_response(await result["wait"](), status=200)
        return web.Response(status=202)

    async def _admin_list(self, request: web.Request) -> web.StreamResponse:
        if not self._admin_ok(request):
            return web.Response(status=401)
        return web.json_response(
            [
                {"name": s.name, "trigger": s.trigger_type, **_public(s)}
                for s in self._specs.values()
            ]
        )

    async def _admin_status(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"state": "Running", "functions": len(self._specs)})


def _public(spec: FunctionSpec) -> dict[str, Any]:
    keep = ("route", "methods", "authLevel", "queueName", "schedule", "runOnStartup")
    return {k: spec.trigger[k] for k in keep if k in spec.trigger}


def _to_aiohttp(result: Any) -> web.StreamResponse:
    if result is None:
        return web.Response(status=204)
    if isinstance(result, str):
        return web.Response(status=200, text=result)
    if not isinstance(result, func.HttpResponse):
        return web.Response(status=500)
    headers = {k: v for k, v in result.headers.items() if k.lower() != "content-length"}
    body = result.get_body() or b""
    content_type = None
    if not any(k.lower() == "content-type" for k in headers):
        mimetype = result.mimetype or "text/plain"
        content_type = f"{mimetype}; charset={result.charset}" if result.charset else mimetype
        headers["Content-Type"] = content_type
    return web.Response(status=result.status_code, body=body, headers=headers)


def _json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)
