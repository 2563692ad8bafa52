"""Keyed digests and consent states (domain/signing.py), the strict address grammar
(domain/addresses.py) and the security settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookker_sync.domain.addresses import is_strict_address
from bookker_sync.domain.signing import (
    CLIENT_STATE,
    CONSENT_STATE,
    InvalidStateError,
    digest_matches,
    is_guid,
    keyed_digest,
    sign_consent_state,
    verify_consent_state,
)
from bookker_sync.settings import SettingsError, load_settings

KEY = b"k" * 32
NOW = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)


def test_a_digest_checks_the_value_but_does_not_reveal_it() -> None:
    digest = keyed_digest(KEY, CLIENT_STATE, "state-123")
    assert "state-123" not in digest and len(digest) == 43
    assert digest_matches(KEY, CLIENT_STATE, "state-123", digest)
    assert not digest_matches(KEY, CLIENT_STATE, "state-124", digest)
    # A table dump gives the digest: sending it as the clientState doesn't pass.
    assert not digest_matches(KEY, CLIENT_STATE, digest, digest)
    assert not digest_matches(b"x" * 32, CLIENT_STATE, "state-123", digest)  # other key
    assert keyed_digest(KEY, CONSENT_STATE, "state-123") != digest  # other purpose
    assert not digest_matches(KEY, CLIENT_STATE, "", "")  # nothing stored: nothing passes


@given(st.text(max_size=200))
def test_any_text_digests_even_lone_surrogates(value: str) -> None:
    assert digest_matches(KEY, CLIENT_STATE, value, keyed_digest(KEY, CLIENT_STATE, value))


def test_consent_state_round_trip_and_expiry() -> None:
    state = sign_consent_state(KEY, "contoso", NOW + timedelta(hours=1))
    assert verify_consent_state(KEY, state, NOW) == "contoso"
    assert sign_consent_state(KEY, "contoso", NOW) != sign_consent_state(KEY, "contoso", NOW)
    with pytest.raises(InvalidStateError, match="expired"):
        verify_consent_state(KEY, state, NOW + timedelta(hours=1))
    with pytest.raises(InvalidStateError, match="signature"):
        verify_consent_state(b"y" * 32, state, NOW)


def test_a_state_naming_another_tenant_cannot_be_made_from_one_we_issued() -> None:
    import base64
    import json

    state = sign_consent_state(KEY, "mallory", NOW + timedelta(hours=1))
    body, mac = state.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["t"] = "contoso"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    for bad in (f"{forged}.{mac}", "", ".", "x" * 600, state + "x", mac):
        with pytest.raises(InvalidStateError):
            verify_consent_state(KEY, bad, NOW)


@pytest.mark.parametrize("text", [
    "8f2c1a4e-5b6d-4c3e-9a7f-1d2e3f4a5b6c", "8F2C1A4E-5B6D-4C3E-9A7F-1D2E3F4A5B6C",
])  # fmt: skip
def test_guids(text: str) -> None:
    assert is_guid(text)


@pytest.mark.parametrize("text", [
    "common", "organizations", "contoso.onmicrosoft.com", "../../x", "", "x" * 36,
    "8f2c1a4e-5b6d-4c3e-9a7f-1d2e3f4a5b6c\n", "8f2c1a4e5b6d4c3e9a7f1d2e3f4a5b6c", 12,
    "{8f2c1a4e-5b6d-4c3e-9a7f-1d2e3f4a5b6c}",
])  # fmt: skip
def test_not_guids(text: object) -> None:
    assert not is_guid(text)


@pytest.mark.parametrize("address", [
    "room-1@contoso.com", "First.Last+tag@sub.contoso.co.uk", "o'brien@contoso.ie",
    "a_b@x-y.example",
])  # fmt: skip
def test_strict_addresses(address: str) -> None:
    assert is_strict_address(address)


@pytest.mark.parametrize("address", [
    "a@b.example/messages?$x", "a@b.example/../../x", "a b@c.example", "a@b", "@c.example",
    "a@", "a..b@c.example", ".a@c.example", "a.@c.example", "a@-c.example", "a@c-.example",
    "a%2f@c.example", "a?b@c.example", "a$b@c.example", "a#b@c.example", "a/b@c.example",
    "a@b.example\n", "a\x00@b.example", '"a"@b.example', "a@b@c.example",
    "x" * 65 + "@c.example", "a@" + "b" * 250 + ".example", "ä@c.example",
])  # fmt: skip
def test_not_strict_addresses(address: str) -> None:
    assert not is_strict_address(address)


BASE = {"GRAPH_CLIENT_ID": "app", "GRAPH_CLIENT_SECRET": "s", "WEBHOOK_BASE_URL": "https://x/api",
        "AzureWebJobsStorage": "UseDevelopmentStorage=true"}  # fmt: skip


def test_api_auth_defaults_to_none_with_the_local_key() -> None:
    settings = load_settings(BASE)
    assert settings.security.api_auth == "none"
    assert settings.consent_redirect_url == "https://x/api/consent/callback"


@pytest.mark.parametrize(("extra", "message"), [
    ({"API_AUTH": "key"}, "APP_SECRET_KEY is required when API_AUTH=key"),
    ({"API_AUTH": "entra", "APP_SECRET_KEY": "k" * 32}, "needs API_AUTH_ISSUER"),
    ({"API_AUTH": "key", "APP_SECRET_KEY": "short"}, "at least 32"),
    ({"API_AUTH": "basic"}, "API_AUTH"),
    ({"API_AUTH": "entra", "APP_SECRET_KEY": "k" * 32, "API_AUTH_ISSUER": "http://x",
      "API_AUTH_AUDIENCE": "api://a"}, "API_AUTH_ISSUER"),
])  # fmt: skip
def test_security_settings_are_checked(extra: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**BASE, **extra})


def test_the_secret_key_is_never_in_the_settings_repr() -> None:
    settings = load_settings({**BASE, "API_AUTH": "key", "APP_SECRET_KEY": "s3cret" * 6})
    assert "s3cret" not in repr(settings)
    assert settings.security.key == ("s3cret" * 6).encode()
