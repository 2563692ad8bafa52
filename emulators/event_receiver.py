"""Bookker's side of the event push, for the demo and the tests: an HTTP receiver on
127.0.0.1 that records every POST, and checks each one's Standard Webhooks signature
with the ``standardwebhooks`` library itself (the one Bookker would use).

While ``down`` it answers 503, so a test can show that pushes are retried in order.
"""

from __future__ import annotations

import base64
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form (``whsec_`` + base64 of 32 bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class EventReceiver:
    """Records every POST (headers lower-cased, raw body); answers 503 while ``down``."""

    def __init__(self, path: str = "/hooks/bookker") -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.down = False
        self.path = path
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if receiver.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # quiet: the demo prints its own
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """Every event received, each checked against its signature (raises
        ``WebhookVerificationError`` if one fails, ValueError if its id header lies)."""
        hook = Webhook(secret)
        with self._lock:
            posts = list(self.posts)
        out = []
        for headers, body in posts:
            event: dict[str, Any] = hook.verify(body, headers)
            if headers["webhook-id"] != event["id"]:
                raise ValueError(f"webhook-id {headers['webhook-id']} is not the event's id")
            out.append(event)
        return out

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> EventReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
