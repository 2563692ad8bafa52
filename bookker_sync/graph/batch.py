"""JSON $batch: up to 20 requests in one HTTP call (Microsoft Graph docs: JSON batching,
throttling limits). Each inner request is throttled on its own, so inner 429/5xx come back per
item; callers decide what to retry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiota_abstractions.method import Method

from bookker_sync.graph.transport import GraphTransport, request

MAX_BATCH = 20
_TEMPLATE = "{+baseurl}/$batch"


@dataclass(frozen=True)
class BatchItem:
    id: str
    method: str
    url: str  # relative to the version root, e.g. "/subscriptions/{id}"
    body: dict[str, Any] | None = None
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchResult:
    id: str
    status: int
    body: dict[str, Any] | None
    retry_after: float = 0.0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str:
        error = (self.body or {}).get("error") or {}
        return str(error.get("code") or "")


async def send_batch(
    transport: GraphTransport, gate: str, items: list[BatchItem]
) -> list[BatchResult]:
    if not items:
        return []
    if len(items) > MAX_BATCH:
        raise ValueError(f"a $batch holds at most {MAX_BATCH} requests")
    requests = []
    for item in items:
        entry: dict[str, Any] = {"id": item.id, "method": item.method, "url": item.url}
        if item.body is not None:
            entry["body"] = item.body
            entry["headers"] = {"Content-Type": "application/json"}
        if item.depends_on:
            entry["dependsOn"] = list(item.depends_on)
        requests.append(entry)
    info = request(Method.POST, _TEMPLATE, {})
    answer = await transport.send(gate, info, {"requests": requests}) or {}
    by_id = {str(r.get("id")): r for r in answer.get("responses") or []}
    results = []
    for item in items:
        found = by_id.get(item.id, {})
        headers = {str(k).lower(): v for k, v in (found.get("headers") or {}).items()}
        try:
            retry_after = float(headers.get("retry-after", 0) or 0)
        except (TypeError, ValueError):
            retry_after = 1.0
        body = found.get("body")
        results.append(BatchResult(
            id=item.id, status=int(found.get("status") or 0),
            body=body if isinstance(body, dict) else None, retry_after=retry_after,
        ))  # fmt: skip
    return results
