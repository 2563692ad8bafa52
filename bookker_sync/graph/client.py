"""GraphServiceClient per customer tenant, pointed at Graph or at the local emulator.

Credentials: client secret, certificate, or managed identity federated to the app
registration (workload identity federation: the Function App's identity signs the
client assertion, so no secret exists at all). Base URL, authority and CA bundle are
settings, so the same code reaches the emulator.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlparse

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from azure.identity import ManagedIdentityCredential
from azure.identity.aio import (
    CertificateCredential,
    ClientAssertionCredential,
    ClientSecretCredential,
)
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware.options import RetryHandlerOption
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import GraphClientFactory

from bookker_sync.settings import GraphSettings, certificate_bytes

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_PUBLIC_AUTHORITY = "login.microsoftonline.com"
_FEDERATION_AUDIENCE = "api://AzureADTokenExchange/.default"


def build_credential(settings: GraphSettings, graph_tenant_id: str) -> AsyncTokenCredential:
    authority = settings.authority.rstrip("/")
    common: dict[str, Any] = {"authority": authority}
    if urlparse(authority if "://" in authority else f"https://{authority}").hostname != (
        _PUBLIC_AUTHORITY
    ):
        # A non-Microsoft authority (the emulator) has no instance-discovery endpoint.
        common["disable_instance_discovery"] = True
    if settings.ca_bundle:
        common["connection_verify"] = settings.ca_bundle
    if settings.credential == "certificate":
        if settings.certificate:  # the PEM itself (Flex Consumption: no file for it)
            return CertificateCredential(
                graph_tenant_id, settings.client_id,
                certificate_data=certificate_bytes(settings.certificate), **common,
            )  # fmt: skip
        return CertificateCredential(
            graph_tenant_id, settings.client_id, settings.certificate_path, **common
        )
    if settings.credential == "managedIdentity":
        identity = ManagedIdentityCredential()  # sync: the assertion callback is sync

        def assertion() -> str:
            token: str = identity.get_token(_FEDERATION_AUDIENCE).token
            return token

        return ClientAssertionCredential(graph_tenant_id, settings.client_id, assertion, **common)
    assert settings.client_secret is not None  # validated by settings
    return ClientSecretCredential(
        graph_tenant_id, settings.client_id, settings.client_secret, **common
    )


def build_graph_client(
    settings: GraphSettings,
    graph_tenant_id: str,
    credential: AsyncTokenCredential | None = None,
) -> GraphServiceClient:
    credential = credential or build_credential(settings, graph_tenant_id)
    host = urlparse(settings.base_url).hostname or "graph.microsoft.com"
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=[GRAPH_SCOPE], allowed_hosts=[host]
    )
    # Retries are ours (graph/transport.py: per-mailbox limits, Retry-After, metrics);
    # the SDK's RetryHandler is switched off so requests are never retried twice over.
    options = {RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0, should_retry=False)}
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(
            verify=ssl.create_default_context(cafile=settings.ca_bundle)
            if settings.ca_bundle
            else True,
            timeout=httpx.Timeout(30.0, connect=10.0),
        ),
        options=options,
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = settings.base_url.rstrip("/")
    return GraphServiceClient(request_adapter=adapter)
