"""The admin consent endpoint (learn.microsoft.com/entra/identity-platform/v2-admin-consent).

``GET /{tenant}/v2.0/adminconsent?client_id&redirect_uri&state&scope`` (and the v1.0
``/{tenant}/adminconsent`` without ``scope``). On Entra an administrator signs in and
approves or cancels; here ``POST /_emulator/consent`` decides, per directory:

- approve → 302 to ``redirect_uri`` with ``admin_consent=True&tenant=<directory>``
  ``&scope=…&state=…`` (the documented success answer). The app's registration is
  then present in that directory (its service principal), so the client-credentials
  grant works there with the app's own secret or certificate.
- cancel → 302 with ``error=access_denied&error_description=AADSTS65004: User
  declined to consent to access the app.…&error_uri=…&admin_consent=True&state=…`` and
  no ``tenant``: what Entra sends when the admin presses Cancel
  (github.com/MicrosoftDocs/azure-docs/issues/114009; the docs' own error sample
  shows ``consent_required``, same AADSTS65004).

Which directory answers: the ``{tenant}`` path segment when it names a directory;
for ``organizations`` / ``common`` the directory set with ``default: true`` (the admin
who would sign in there). A directory with no decision approves. Problems that Entra
shows on its own error page (unknown tenant or app, missing ``client_id`` /
``redirect_uri``, a redirect URI not registered for the app) are a 400 with the AAD
error JSON instead of a redirect.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

from aiohttp import web

from .auth import aad_error
from .directory import Directory

Decision = Literal["accept", "decline"]
GENERIC_TENANTS = ("organizations", "common")


@dataclass
class ConsentBook:
    """What the emulated administrators decide, and what they granted."""

    decisions: dict[str, Decision] = field(default_factory=dict)
    default_directory: str | None = None
    grants: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        self.decisions.clear()
        self.default_directory = None
        self.grants.clear()

    def to_json(self) -> dict[str, Any]:
        return {
            "decisions": dict(self.decisions),
            "defaultDirectory": self.default_directory,
            "grants": list(self.grants),
        }


class AdminConsent:
    def __init__(self, directory: Callable[[], Directory], book: Callable[[], ConsentBook]) -> None:
        self._directory = directory
        self._book = book

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/{tenant}/v2.0/adminconsent", self.admin_consent),
            web.get("/{tenant}/adminconsent", self.admin_consent),
        ]

    async def admin_consent(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        segment = request.match_info["tenant"]
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        for name, value in (("client_id", client_id), ("redirect_uri", redirect_uri)):
            if not value:
                return aad_error(
                    400,
                    "invalid_request",
                    900144,
                    f"The request body must contain the following parameter: '{name}'.",
                )
        book, directory = self._book(), self._directory()
        target = book.default_directory if segment in GENERIC_TENANTS else segment
        if target is None:
            return aad_error(
                400,
                "invalid_request",
                50059,
                "No tenant-identifying information found in either the request or implied by "
                "any provided credentials. (Emulator: set the directory that answers for "
                f"'{segment}' with POST /_emulator/consent {{tenantId, default: true}}.)",
            )
        if target not in directory.tenants and target not in book.decisions:
            return aad_error(
                400,
                "invalid_request",
                90002,
                f"Tenant '{target}' not found. Check to make sure you have the correct "
                "tenant ID and are signing into the correct cloud.",
            )
        app = directory.find_app(client_id)
        if app is None:
            return aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{target}'.",
            )
        if app.redirect_uris and redirect_uri not in app.redirect_uris:
            return aad_error(
                400,
                "invalid_request",
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not match "
                f"the redirect URIs configured for the application '{client_id}'.",
            )
        state = q.get("state")
        scope = q.get("scope")
        if scope is None and request.path.endswith("/v2.0/adminconsent"):
            return _redirect(
                redirect_uri,
                {
                    "error": "invalid_request",
                    "error_description": _description(
                        900144, "The request body must contain the following parameter: 'scope'."
                    ),
                    "state": state,
                },
            )
        decision = book.decisions.get(target, "accept")
        book.grants.append(
            {
                "tenantId": target,
                "clientId": client_id,
                "scope": scope,
                "decision": decision,
                "at": datetime.now(UTC).isoformat(),
            }
        )
        if decision == "decline":
            return _redirect(
                redirect_uri,
                {
                    "error": "access_denied",
                    "error_description": _description(
                        65004, "User declined to consent to access the app."
                    ),
                    "error_uri": "https://login.microsoftonline.com/error?code=65004",
                    "admin_consent": "True",
                    "state": state,
                },
            )
        existing = directory.tenants.get(target)
        if existing is None or client_id not in existing.apps:
            directory.add_app(target, app)  # the app's service principal in that directory
        return _redirect(
            redirect_uri,
            {"admin_consent": "True", "tenant": target, "scope": scope, "state": state},
        )


def _description(code: int, text: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return (
        f"AADSTS{code}: {text}\r\nTrace ID: {uuid.uuid4()}\r\n"
        f"Correlation ID: {uuid.uuid4()}\r\nTimestamp: {stamp}"
    )


def _redirect(uri: str, params: dict[str, str | None]) -> web.Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    joiner = "&" if "?" in uri else "?"
    return web.Response(status=302, headers={"Location": f"{uri}{joiner}{query}"})
