"""Sends Graph requests built by msgraph-sdk request builders and returns raw JSON.

Raw JSON (not SDK models) keeps every field of every event losslessly (full fidelity).
Per mailbox at most N requests run at once (Outlook allows 4 per app per mailbox);
429/503/504 and network errors are retried with Retry-After honoured. Every request
is counted for metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from azure.core.exceptions import ClientAuthenticationError
from kiota_abstractions.api_error import APIError
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.graph_service_client import GraphServiceClient

from bookker_sync import telemetry
from bookker_sync.graph.errors import (
    GraphChangedError,
    GraphError,
    GraphNotFoundError,
    GraphThrottledError,
    GraphUnavailableError,
    SyncStateNotFoundError,
)

log = logging.getLogger(__name__)
ERROR_MAP: dict[str, Any] = {"XXX": ODataError}
MAX_RETRY_AFTER_SECONDS = 30.0


@dataclass
class GraphStats:
    """What this process sent to Graph (read by metrics, status and benchmarks)."""

    requests: int = 0
    throttled: int = 0
    retries: int = 0
    by_status: dict[int, int] = field(default_factory=lambda: defaultdict(int))


class GraphTransport:
    def __init__(self, client: GraphServiceClient, max_concurrency: int, max_retries: int) -> None:
        self.client = client
        self._max_concurrency = max_concurrency
        self._max_retries = max_retries
        self._gates: dict[str, asyncio.Semaphore] = {}
        self.stats = GraphStats()

    def _gate(self, mailbox: str) -> asyncio.Semaphore:
        key = mailbox.lower()
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = asyncio.Semaphore(self._max_concurrency)
        return gate

    async def send(
        self,
        mailbox: str,
        info: RequestInformation,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Send and return the JSON body (None for 202/204)."""
        if body is not None:
            info.set_stream_content(
                json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"
            )
        for name, value in (headers or {}).items():
            info.headers.try_add(name, value)
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._gate(mailbox):
                    self.stats.requests += 1
                    adapter: Any = self.client.request_adapter  # typed as returning None
                    raw = await adapter.send_primitive_async(info, "bytes", ERROR_MAP)
                self.stats.by_status[200] += 1
                telemetry.count_graph_request(200)
                return _parse(raw)
            except APIError as exc:
                error = _to_graph_error(exc)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                error = GraphUnavailableError(0, "NetworkError", str(exc))
            except ClientAuthenticationError as exc:
                # No token: unknown tenant, consent revoked, wrong secret. Not transient:
                # callers treat it like a 401 from Graph (needs consent / 502).
                error = GraphError(401, "AuthenticationFailed", str(exc).splitlines()[0][:300])
            self.stats.by_status[error.status] += 1
            telemetry.count_graph_request(error.status)
            if error.status == 429:
                self.stats.throttled += 1
            if not error.transient or attempt > self._max_retries:
                raise error
            delay = _retry_delay(error, attempt)
            if delay > MAX_RETRY_AFTER_SECONDS:
                raise error
            self.stats.retries += 1
            log.info("Graph %s on %s: retry %d in %.1fs", error.status, mailbox, attempt, delay)
            await asyncio.sleep(delay)


def request(
    method: Method, url_template: str, path_parameters: Mapping[str, Any]
) -> RequestInformation:
    info = RequestInformation(method, url_template, dict(path_parameters))
    info.headers.try_add("Accept", "application/json")
    return info


def _parse(raw: Any) -> dict[str, Any] | None:
    if not raw:
        return None
    data = json.loads(raw)
    return data if isinstance(data, dict) else {"value": data}


def _to_graph_error(exc: APIError) -> GraphError:
    status = int(exc.response_status_code or 0)
    code, message = "unknown", str(exc)
    if isinstance(exc, ODataError) and exc.error is not None:
        code = exc.error.code or code
        message = exc.error.message or message
    if status == 410 or code.lower() == "syncstatenotfound":
        return SyncStateNotFoundError(status, code, message)
    if status == 404:
        return GraphNotFoundError(status, code, message)
    if status == 412 or (status == 409 and code.lower() == "errorirresolvableconflict"):
        return GraphChangedError(status, code, message)
    if status == 429:
        return GraphThrottledError(status, code, message, _retry_after(exc.response_headers))
    if status >= 500 or status == 0:
        error = GraphUnavailableError(status, code, message)
        error.retry_after = _retry_after(exc.response_headers)  # type: ignore[attr-defined]
        return error
    return GraphError(status, code, message)


def _retry_after(headers: Mapping[str, Any] | None) -> float:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            text = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(0.0, float(text))
            except (TypeError, ValueError):
                return 1.0
    return 0.0


def _retry_delay(error: GraphError, attempt: int) -> float:
    told = float(getattr(error, "retry_after", 0.0) or 0.0)
    if told > 0:
        return told
    # No Retry-After: exponential backoff with jitter, 0.2 s, 0.4 s, 0.8 s, ...
    return float(min(0.2 * 2 ** (attempt - 1), 10.0) * (0.5 + random.random()))
