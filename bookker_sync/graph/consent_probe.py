"""Does a directory really have our app? Asked of Entra, not of whoever says so.

The admin-consent redirect names the directory in its ``tenant`` query parameter, but
that redirect passes through the admin's browser: anyone holding a valid ``state`` (a
Bookker customer's admin) could send any directory GUID back. Entra answers the app's
client-credentials request for a directory only when the app's service principal is
there, i.e. when an admin of THAT directory consented
(learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow: an
unconsented tenant answers AADSTS700016 / AADSTS7000229; an unknown one AADSTS90002).
"""

from __future__ import annotations

from azure.core.exceptions import ClientAuthenticationError

from bookker_sync.graph.client import GRAPH_SCOPE, build_credential
from bookker_sync.settings import GraphSettings


async def app_has_consent(settings: GraphSettings, directory: str) -> bool:
    """True when Entra issues the app a Graph token in ``directory``. A fresh credential
    each time: the directory is untrusted input and is not cached."""
    credential = build_credential(settings, directory)
    try:
        await credential.get_token(GRAPH_SCOPE)
        return True
    except ClientAuthenticationError:
        return False
    finally:
        await credential.close()
