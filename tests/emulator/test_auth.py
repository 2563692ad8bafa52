"""Token endpoint, discovery, token lifetime and tenant scoping."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from .conftest import CLIENT_ID, OTHER_TENANT, SECRET, TENANT, World
from .sdk import bearer

SCOPE = "https://graph.microsoft.com/.default"


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _credential(world: World, tenant: str, client: str, secret: str) -> ClientSecretCredential:
    return ClientSecretCredential(
        tenant,
        client,
        secret,
        authority=world.emu.base_url,
        disable_instance_discovery=True,
        connection_verify=world.emu.ca_path,
    )


def test_client_secret_credential_gets_a_token(world: World) -> None:
    token = _credential(world, TENANT, CLIENT_ID, SECRET).get_token(SCOPE)
    claims = _claims(token.token)
    assert claims["tid"] == TENANT and claims["appid"] == CLIENT_ID
    assert 3500 < token.expires_on - time.time() <= 3600
    disco = world.emu.http.get(f"/{TENANT}/v2.0/.well-known/openid-configuration").json()
    assert disco["token_endpoint"] == f"{world.emu.base_url}/{TENANT}/oauth2/v2.0/token"
    assert disco["issuer"] == f"{world.emu.base_url}/{TENANT}/v2.0"


def test_wrong_secret_is_an_aad_invalid_client(world: World) -> None:
    with pytest.raises(ClientAuthenticationError) as err:
        _credential(world, TENANT, CLIENT_ID, "wrong").get_token(SCOPE)
    assert "AADSTS7000215" in str(err.value)
    raw = world.emu.http.post(
        f"/{TENANT}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": "wrong",
            "scope": SCOPE,
        },
    )
    assert raw.status_code == 401
    body = raw.json()
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215: ")
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(body)


@pytest.mark.parametrize(
    ("tenant", "client", "scope", "status", "error"),
    [
        ("no-such-tenant", CLIENT_ID, SCOPE, 400, "invalid_request"),
        (TENANT, "no-such-app", SCOPE, 400, "unauthorized_client"),
        (TENANT, CLIENT_ID, "https://graph.microsoft.com/Calendars.Read", 400, "invalid_scope"),
    ],
)
def test_other_token_errors(world: World, tenant, client, scope, status, error) -> None:
    raw = world.emu.http.post(
        f"/{tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client,
            "client_secret": SECRET,
            "scope": scope,
        },
    )
    assert (raw.status_code, raw.json()["error"]) == (status, error)


async def test_cross_tenant_mailbox_is_forbidden(world: World) -> None:
    with pytest.raises(ODataError) as err:
        await world.client().users.by_user_id(world.fabrikam_user).events.get()
    assert err.value.response_status_code == 403
    assert err.value.error.code == "ErrorAccessDenied"
    with pytest.raises(ODataError) as err:
        await world.other_client().users.by_user_id(world.alice).calendar_view.delta.get()
    assert err.value.response_status_code == 403
    mine = await world.other_client().users.by_user_id(world.fabrikam_user).events.get()
    assert mine.value == []


def test_tokens_expire_on_real_time_not_the_virtual_clock(world: World) -> None:
    world.emu.add_tenant("short-lived", "app", "pw", tokenLifetimeSeconds=2)
    world.emu.add_mailbox("short-lived", "dave@short.example", "Dave")
    auth = bearer(world.emu, "short-lived", "app", "pw")
    url = f"{world.emu.graph_url}/users/dave@short.example/events"
    with httpx.Client(verify=world.emu.ssl_context()) as http:
        assert http.get(url, headers={"Authorization": auth}).status_code == 200
        world.emu.clock_advance(86400)
        assert http.get(url, headers={"Authorization": auth}).status_code == 200
        time.sleep(2.2)
        expired = http.get(url, headers={"Authorization": auth})
        assert expired.status_code == 401
        assert expired.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert "expired" in expired.json()["error"]["message"]
        assert expired.headers["WWW-Authenticate"].startswith("Bearer")
        assert http.get(url).status_code == 401
        forged = auth[:-4] + ("AAAA" if not auth.endswith("AAAA") else "BBBB")
        assert http.get(url, headers={"Authorization": forged}).status_code == 401


def test_token_of_other_tenant_app_cannot_use_this_tenant_secret(world: World) -> None:
    with pytest.raises(ClientAuthenticationError):
        _credential(world, OTHER_TENANT, CLIENT_ID, SECRET).get_token(SCOPE)
