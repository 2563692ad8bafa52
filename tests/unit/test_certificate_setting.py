"""GRAPH_CERTIFICATE: the certificate + private key as a setting (PEM text, or base64 of
PEM or PKCS#12), for hosts with no file for it (Flex Consumption + Key Vault reference)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from azure.identity.aio import CertificateCredential
from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12

from bookker_sync.graph.client import build_credential
from bookker_sync.settings import SettingsError, certificate_bytes, load_settings
from tests.emulator.test_identity import make_cert

BASE = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "GRAPH_CLIENT_ID": "app",
    "GRAPH_CREDENTIAL": "certificate",
    "WEBHOOK_BASE_URL": "https://example.test/api",
}


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> str:
    cert = make_cert(Path(tmp_path_factory.mktemp("cert")))
    return cert.key_pem + cert.pem


def test_pem_text_is_taken_as_it_is_even_on_one_line(pem: str) -> None:
    assert certificate_bytes(pem) == pem.strip().encode()
    one_line = pem.strip().replace("\n", "\\n")  # as pasted into a portal field
    assert certificate_bytes(one_line) == pem.strip().encode()


def test_base64_of_pem_or_pkcs12_is_decoded(pem: str, tmp_path: Path) -> None:
    assert certificate_bytes(base64.b64encode(pem.encode()).decode()) == pem.encode()
    cert = make_cert(tmp_path, "pfx")
    pfx = pkcs12.serialize_key_and_certificates(b"bookker", cert.key, cert.cert, None,
                                                NoEncryption())  # fmt: skip
    wrapped = base64.encodebytes(pfx).decode()  # with line breaks, as `base64` writes it
    assert certificate_bytes(wrapped) == pfx


@pytest.mark.parametrize("bad", ["not a certificate!", "   "])
def test_anything_else_is_a_settings_error_naming_the_setting(bad: str) -> None:
    with pytest.raises(SettingsError, match="GRAPH_CERTIFICATE"):
        load_settings({**BASE, "GRAPH_CERTIFICATE": bad})


def test_certificate_mode_needs_the_certificate_or_its_path() -> None:
    with pytest.raises(SettingsError, match=r"GRAPH_CERTIFICATE .*GRAPH_CERTIFICATE_PATH"):
        load_settings(BASE)


async def test_the_setting_builds_a_certificate_credential(pem: str) -> None:
    settings = load_settings({**BASE, "GRAPH_CERTIFICATE": base64.b64encode(pem.encode()).decode()})
    credential = build_credential(settings.graph, "tenant")
    assert isinstance(credential, CertificateCredential)
    await credential.close()
