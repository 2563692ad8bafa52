"""The Entra ID admin-consent request (learn.microsoft.com/entra/identity-platform/
v2-admin-consent): ``GET {authority}/{tenant}/v2.0/adminconsent?client_id=&
redirect_uri=&state=&scope=``. Entra answers by redirecting the admin's browser to
``redirect_uri`` with ``admin_consent=True&tenant=<directory>&state=`` (or ``error=``)."""

from __future__ import annotations

from urllib.parse import urlencode

# The app's application permissions on Microsoft Graph, all of them (v2 requires a scope).
GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
# The authority path for "whichever directory the signed-in admin belongs to".
ANY_ORGANIZATION = "organizations"


def admin_consent_url(
    authority: str, directory: str | None, client_id: str, redirect_uri: str, state: str
) -> str:
    query = urlencode({
        "client_id": client_id, "redirect_uri": redirect_uri, "state": state,
        "scope": GRAPH_DEFAULT_SCOPE,
    })  # fmt: skip
    return f"{authority.rstrip('/')}/{directory or ANY_ORGANIZATION}/v2.0/adminconsent?{query}"
