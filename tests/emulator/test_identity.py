"""Certificate credentials, API tokens verifiable through JWKS, admin consent."""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import msal
import pytest
import requests
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.support.graph_emulator import GraphEmulator

from .conftest import CLIENT_ID, OTHER_TENANT, SECRET, TENANT, World

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
CERT_APP = "cert-app"
API_ID = "6f1c5b8e-0000-4000-8000-00000000b00c"
API_URI = "api://bookker-sync"
DIRECTORY = "33333333-3333-3333-3333-333333333333"


@dataclass
class Cert:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    path: Path

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def x5t(self) -> str:
        digest = self.cert.fingerprint(hashes.SHA1())  # noqa: S303 - x5t is SHA-1
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_cert(directory: Path, name: str = "bookker-sync", days: int = 30) -> Cert:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=2))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    out = Cert(key, cert, directory / f"{name}.pem")
    out.path.write_text(out.key_pem + out.pem)  # what CertificateCredential reads
    return out


def sdk_client(emu: GraphEmulator, credential: TokenCredential) -> Any:
    from msgraph import GraphServiceClient
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph_core import GraphClientFactory
    from msgraph_core.authentication import AzureIdentityAuthenticationProvider

    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=[GRAPH_SCOPE], allowed_hosts=["localhost"]
    )
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=emu.ssl_context(), timeout=30)
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = emu.graph_url
    return GraphServiceClient(request_adapter=adapter)


def cert_credential(emu: GraphEmulator, cert: Cert, tenant: str = TENANT) -> CertificateCredential:
    return CertificateCredential(
        tenant,
        CERT_APP,
        str(cert.path),
        authority=emu.base_url,
        disable_instance_discovery=True,
        connection_verify=emu.ca_path,
    )


def token_endpoint(emu: GraphEmulator, tenant: str = TENANT) -> str:
    return f"{emu.base_url}/{tenant}/oauth2/v2.0/token"


def post_assertion(emu: GraphEmulator, assertion: str, client_id: str = CERT_APP) -> Any:
    return emu.http.post(
        f"/{TENANT}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": GRAPH_SCOPE,
        },
    )


def assertion(emu: GraphEmulator, cert: Cert, **changes: Any) -> str:
    """A hand-made RS256 assertion like MSAL's; ``changes`` override claims (None drops)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": token_endpoint(emu),
        "iss": CERT_APP,
        "sub": CERT_APP,
        "exp": now + 600,
        "iat": now,
        "nbf": now,
        "jti": str(uuid.uuid4()),
    }
    key = changes.pop("signing_key", cert.key)
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return jwt.encode(claims, key, algorithm="RS256", headers={"x5t": cert.x5t()})


@pytest.fixture
def cert(tmp_path: Path) -> Cert:
    return make_cert(tmp_path)


@pytest.fixture
def cert_world(world: World, cert: Cert) -> World:
    world.emu.add_tenant(TENANT, CERT_APP, None, certificates=[cert.pem])
    return world


# -- certificate credentials ---------------------------------------------------------


async def test_certificate_credential_token_calls_graph_through_the_sdk(
    cert_world: World, cert: Cert
) -> None:
    client = sdk_client(cert_world.emu, cert_credential(cert_world.emu, cert))
    events = await client.users.by_user_id(cert_world.alice).events.get()
    assert events.value == []
    rooms = await client.places.graph_room.get()
    assert {r.email_address for r in rooms.value} >= {cert_world.room1}


def test_msal_ps256_assertion_with_sha256_thumbprint_is_accepted(
    cert_world: World, cert: Cert
) -> None:
    # MSAL given the public certificate (no SHA-1 thumbprint) signs PS256 + x5t#S256.
    http = requests.Session()
    http.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    http.verify = cert_world.emu.ca_path
    app = msal.ConfidentialClientApplication(
        CERT_APP,
        client_credential={"private_key": cert.key_pem, "public_certificate": cert.pem},
        authority=f"{cert_world.emu.base_url}/{TENANT}",
        instance_discovery=False,
        validate_authority=False,
        http_client=http,
    )
    result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in result, result


def test_certificates_can_be_added_to_a_registered_app(world: World, cert: Cert) -> None:
    world.emu.add_tenant(TENANT, CERT_APP, "a-secret")
    with pytest.raises(ClientAuthenticationError) as err:
        cert_credential(world.emu, cert).get_token(GRAPH_SCOPE)
    assert "AADSTS700027" in str(err.value)
    added = world.emu.control(
        "POST", f"tenants/{TENANT}/certificates", {"pem": cert.pem, "clientId": CERT_APP}
    )
    sha1 = cert.cert.fingerprint(hashes.SHA1())  # noqa: S303 - the portal's thumbprint
    assert added["certificates"] == [sha1.hex().upper()]
    assert cert_credential(world.emu, cert).get_token(GRAPH_SCOPE).token
    bad = world.emu.http.post(
        f"/_emulator/tenants/{TENANT}/certificates", json={"pem": "nope", "clientId": CERT_APP}
    )
    assert bad.status_code == 400


def test_unregistered_certificate_is_invalid_client(cert_world: World, tmp_path: Path) -> None:
    stranger = make_cert(tmp_path, "stranger")
    with pytest.raises(ClientAuthenticationError) as err:
        cert_credential(cert_world.emu, stranger).get_token(GRAPH_SCOPE)
    assert "AADSTS700027" in str(err.value)


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({}, 200, None),
        ({"aud": "https://login.microsoftonline.com/x/oauth2/v2.0/token"}, 401, 700023),
        ({"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 4000}, 401, 700024),
        ({"nbf": int(time.time()) + 3600}, 401, 700024),
        ({"iss": "someone-else"}, 401, 50048),
        ({"iss": "someone-else", "sub": "someone-else"}, 401, 700021),
        ({"jti": None}, 400, 90014),
        ({"exp": None}, 400, 90014),
    ],
)
def test_assertion_claims_are_checked(
    cert_world: World, cert: Cert, changes: dict[str, Any], status: int, code: int | None
) -> None:
    raw = post_assertion(cert_world.emu, assertion(cert_world.emu, cert, **changes))
    assert raw.status_code == status, raw.text
    if code is not None:
        body = raw.json()
        assert body["error"] == ("invalid_client" if status == 401 else "invalid_request")
        assert body["error_codes"] == [code]
        assert body["error_description"].startswith(f"AADSTS{code}: ")


def test_assertion_signed_by_another_key_fails_signature(cert_world: World, cert: Cert) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raw = post_assertion(cert_world.emu, assertion(cert_world.emu, cert, signing_key=other))
    assert (raw.status_code, raw.json()["error_codes"]) == (401, [700027])
    assert "signature" in raw.json()["error_description"]
    assert post_assertion(cert_world.emu, "not.a.jwt").status_code == 400
    # The same assertion may be presented again (MSAL reuses one for minutes).
    once = assertion(cert_world.emu, cert)
    assert post_assertion(cert_world.emu, once).status_code == 200
    assert post_assertion(cert_world.emu, once).status_code == 200


def test_client_credential_form_errors(cert_world: World, cert: Cert) -> None:
    base = {"grant_type": "client_credentials", "client_id": CERT_APP, "scope": GRAPH_SCOPE}
    cases = [
        ({}, 401, 7000218),
        ({"client_secret": "x", "client_assertion": assertion(cert_world.emu, cert),
          "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
         400, 9002313),
        ({"client_assertion": assertion(cert_world.emu, cert)}, 400, 900144),
        ({"client_secret": "guess"}, 401, 7000215),  # the app has no secret
    ]  # fmt: skip
    for extra, status, code in cases:
        raw = cert_world.emu.http.post(f"/{TENANT}/oauth2/v2.0/token", data={**base, **extra})
        assert (raw.status_code, raw.json()["error_codes"]) == (status, [code]), extra


def test_expired_certificate_is_refused(world: World, tmp_path: Path) -> None:
    old = make_cert(tmp_path, "old", days=-1)
    world.emu.add_tenant(TENANT, CERT_APP, None, certificates=[old.pem])
    raw = post_assertion(world.emu, assertion(world.emu, old))
    assert (raw.status_code, raw.json()["error_codes"]) == (401, [700027])
    assert "expired" in raw.json()["error_description"]


def test_tenant_needs_a_secret_or_certificates(world: World) -> None:
    resp = world.emu.http.post(
        "/_emulator/tenants", json={"tenantId": TENANT, "clientId": "nothing"}
    )
    assert resp.status_code == 400
    resp = world.emu.http.post(
        "/_emulator/tenants",
        json={"tenantId": TENANT, "clientId": "x", "certificates": ["-----BEGIN junk"]},
    )
    assert resp.status_code == 400


# -- API tokens ----------------------------------------------------------------------


def register_caller(emu: GraphEmulator, client_id: str, roles: list[str], **extra: Any) -> Any:
    body = {
        "tenantId": TENANT,
        "clientId": client_id,
        "clientSecret": "caller-secret",
        "roles": roles,
        "audience": API_ID,
        "identifierUris": [API_URI],
        **extra,
    }
    return emu.control("POST", "apps", body)


def verify_with_jwks(emu: GraphEmulator, token: str) -> dict[str, Any]:
    disco = emu.http.get(f"/{TENANT}/v2.0/.well-known/openid-configuration").json()
    jwks = jwt.PyJWKClient(disco["jwks_uri"], ssl_context=emu.ssl_context())
    key = jwks.get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=API_ID, issuer=disco["issuer"]
    )
    return claims


def test_api_token_verifies_with_the_published_jwks_and_carries_roles(world: World) -> None:
    registered = register_caller(world.emu, "ops-client", ["Bookings.ReadWrite", "Ops.Read"])
    assert registered["roles"] == ["Bookings.ReadWrite", "Ops.Read"]
    credential = ClientSecretCredential(
        TENANT,
        "ops-client",
        "caller-secret",
        authority=world.emu.base_url,
        disable_instance_discovery=True,
        connection_verify=world.emu.ca_path,
    )
    for scope in (f"{API_URI}/.default", f"{API_ID}/.default"):
        claims = verify_with_jwks(world.emu, credential.get_token(scope).token)
        assert claims["roles"] == ["Bookings.ReadWrite", "Ops.Read"]
        assert claims["iss"] == f"{world.emu.base_url}/{TENANT}/v2.0"
        assert (claims["aud"], claims["tid"], claims["azp"]) == (API_ID, TENANT, "ops-client")
        assert (claims["ver"], claims["idtyp"], claims["azpacr"]) == ("2.0", "app", "1")
        assert claims["sub"] == claims["oid"]
        assert claims["nbf"] <= time.time() < claims["exp"]
    header = jwt.get_unverified_header(credential.get_token(f"{API_URI}/.default").token)
    assert header["alg"] == "RS256" and header["kid"]


def test_api_token_for_a_client_without_roles_has_no_roles_claim(world: World) -> None:
    register_caller(world.emu, "ops-client", ["Ops.Read"])
    world.emu.control(
        "POST", "apps", {"tenantId": TENANT, "clientId": "plain", "clientSecret": "pw"}
    )
    raw = world.emu.http.post(
        f"/{TENANT}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "plain",
            "client_secret": "pw",
            "scope": f"{API_URI}/.default",
        },
    )
    assert raw.status_code == 200, raw.text
    claims = verify_with_jwks(world.emu, raw.json()["access_token"])
    assert "roles" not in claims and claims["azp"] == "plain"
    unknown = world.emu.http.post(
        f"/{TENANT}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "plain",
            "client_secret": "pw",
            "scope": "api://nobody/.default",
        },
    )
    assert (unknown.status_code, unknown.json()["error_codes"]) == (400, [500011])


def test_api_token_by_certificate_and_forged_token_fails(world: World, cert: Cert) -> None:
    register_caller(world.emu, CERT_APP, ["Ops.Read"], certificates=[cert.pem])
    listed = world.emu.control("GET", f"apps?tenantId={TENANT}")["value"]
    assert any(a["clientId"] == CERT_APP and a["certificates"] for a in listed)
    token = cert_credential(world.emu, cert).get_token(f"{API_URI}/.default").token
    claims = verify_with_jwks(world.emu, token)
    assert claims["azpacr"] == "2" and claims["roles"] == ["Ops.Read"]
    forged = jwt.encode(
        {**claims, "roles": ["Admin"]}, cert.key, algorithm="RS256",
        headers=jwt.get_unverified_header(token),
    )  # fmt: skip
    with pytest.raises(jwt.InvalidSignatureError):
        verify_with_jwks(world.emu, forged)


def test_discovery_issuer_and_keys_for_multi_tenant_documents(world: World) -> None:
    disco = world.emu.http.get("/organizations/v2.0/.well-known/openid-configuration").json()
    assert disco["issuer"] == f"{world.emu.base_url}/{{tenantid}}/v2.0"
    keys = world.emu.http.get(f"/{TENANT}/discovery/v2.0/keys").json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["use"] == "sig"
    assert keys[0]["issuer"] == f"{world.emu.base_url}/{TENANT}/v2.0"


# -- admin consent -------------------------------------------------------------------

CALLBACK = "https://localhost:7071/api/consent/callback"


def consent(emu: GraphEmulator, tenant: str, **params: str) -> httpx.Response:
    query = {
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "state": "signed-state",
        "scope": GRAPH_SCOPE,
        **params,
    }
    return emu.http.get(f"/{tenant}/v2.0/adminconsent", params=query, follow_redirects=False)


def redirected(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def graph_token(emu: GraphEmulator, tenant: str) -> str:
    credential = ClientSecretCredential(
        tenant,
        CLIENT_ID,
        SECRET,
        authority=emu.base_url,
        disable_instance_discovery=True,
        connection_verify=emu.ca_path,
    )
    return credential.get_token(GRAPH_SCOPE).token


def test_admin_consent_accept_binds_the_directory(world: World) -> None:
    with pytest.raises(ClientAuthenticationError):
        graph_token(world.emu, DIRECTORY)  # the app is not in that directory yet
    world.emu.control("POST", "consent", {"tenantId": DIRECTORY, "decision": "accept"})
    params = redirected(consent(world.emu, DIRECTORY))
    assert params == {
        "admin_consent": "True",
        "tenant": DIRECTORY,
        "scope": GRAPH_SCOPE,
        "state": "signed-state",
    }
    assert graph_token(world.emu, DIRECTORY)  # its service principal now exists there
    grants = world.emu.control("GET", "consent")["grants"]
    assert [(g["tenantId"], g["clientId"], g["decision"]) for g in grants] == [
        (DIRECTORY, CLIENT_ID, "accept")
    ]


def test_admin_consent_decline_redirects_access_denied(world: World) -> None:
    world.emu.control("POST", "consent", {"tenantId": OTHER_TENANT, "decision": "decline"})
    params = redirected(consent(world.emu, OTHER_TENANT))
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("AADSTS65004: User declined to consent")
    assert (params["admin_consent"], params["state"]) == ("True", "signed-state")
    assert "tenant" not in params
    with pytest.raises(ClientAuthenticationError):
        graph_token(world.emu, OTHER_TENANT)


def test_admin_consent_for_organizations_uses_the_default_directory(world: World) -> None:
    refused = consent(world.emu, "organizations")
    assert (refused.status_code, refused.json()["error_codes"]) == (400, [50059])
    world.emu.control("POST", "consent", {"tenantId": DIRECTORY, "default": True})
    assert redirected(consent(world.emu, "organizations"))["tenant"] == DIRECTORY
    assert redirected(consent(world.emu, "common"))["tenant"] == DIRECTORY
    # A known directory that nobody configured approves.
    assert redirected(consent(world.emu, OTHER_TENANT))["tenant"] == OTHER_TENANT


def test_admin_consent_errors(world: World) -> None:
    unknown = consent(world.emu, "44444444-4444-4444-4444-444444444444")
    assert unknown.json()["error_codes"] == [90002]
    assert consent(world.emu, TENANT, client_id="nobody").json()["error_codes"] == [700016]
    missing = world.emu.http.get(f"/{TENANT}/v2.0/adminconsent", params={"client_id": CLIENT_ID})
    assert (missing.status_code, missing.json()["error_codes"]) == (400, [900144])
    no_scope = redirected(
        world.emu.http.get(
            f"/{TENANT}/v2.0/adminconsent",
            params={"client_id": CLIENT_ID, "redirect_uri": CALLBACK, "state": "s"},
        )
    )
    assert no_scope["error"] == "invalid_request" and no_scope["state"] == "s"
    world.emu.control(
        "POST",
        "apps",
        {"tenantId": TENANT, "clientId": "strict", "clientSecret": "x",
         "redirectUris": ["https://example.test/cb"]},
    )  # fmt: skip
    mismatch = consent(world.emu, TENANT, client_id="strict")
    assert (mismatch.status_code, mismatch.json()["error_codes"]) == (400, [50011])
    bad = world.emu.http.post("/_emulator/consent", json={"tenantId": TENANT, "decision": "maybe"})
    assert bad.status_code == 400
