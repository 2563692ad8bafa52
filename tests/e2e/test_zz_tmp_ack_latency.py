"""Temporary: ack latency of the webhook (not committed)."""
import statistics
import time
import uuid

from tests.e2e.test_webhooks import item, register
from tests.support.functions_host import Stack


def test_ack_latency(stack: Stack) -> None:
    t = stack.new_tenant("unidirectional")
    subs = [register(stack, t.id, t.address(f"room{i}"), t.graph_tenant_id) for i in range(20)]
    genuine = {"value": [item(s, c, t.graph_tenant_id) for s, c in subs]}
    forged = {"value": [{"subscriptionId": str(uuid.uuid4()), "clientState": "x", "tenantId": "y"}
                        for _ in range(1000)]}
    out = {}
    for name, body in (("genuine20", genuine), ("forged1000", forged)):
        times = []
        for _ in range(200):
            s = time.perf_counter()
            r = stack.http.post("/api/graph/notifications", json=body)
            times.append(time.perf_counter() - s)
            assert r.status_code == 202
        times.sort()
        out[name] = (statistics.median(times), times[int(len(times) * 0.99) - 1], max(times))
    print("\nLATENCY", {k: tuple(round(x * 1000, 1) for x in v) for k, v in out.items()})
