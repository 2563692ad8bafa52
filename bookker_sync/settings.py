"""Typed settings read from app settings / environment variables.

Names are the ones in ``local.settings.json.example`` (and in ``infra/`` app settings).
A missing or invalid value fails at start-up with one message naming every bad setting.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class SettingsError(RuntimeError):
    """Raised when settings are missing or invalid; the message names each bad setting."""


class StorageSettings(BaseModel):
    """Where tables and queues live.

    Either a connection string (Azurite, or an account key) in ``AzureWebJobsStorage``, or
    identity-based: ``AzureWebJobsStorage__accountName`` (+ optional ``__tableServiceUri``,
    ``__queueServiceUri``, ``__clientId``) used with DefaultAzureCredential — the same
    setting names the Functions host itself uses for identity-based connections.
    """

    model_config = ConfigDict(frozen=True)

    connection_string: str | None = None
    account_name: str | None = None
    table_service_uri: str | None = None
    queue_service_uri: str | None = None
    managed_identity_client_id: str | None = None

    @model_validator(mode="after")
    def _one_way_to_connect(self) -> StorageSettings:
        if not self.connection_string and not self.account_name:
            raise ValueError(
                "set AzureWebJobsStorage (connection string) or "
                "AzureWebJobsStorage__accountName (managed identity)"
            )
        return self

    @property
    def uses_identity(self) -> bool:
        return not self.connection_string

    def table_endpoint(self) -> str:
        return self.table_service_uri or f"https://{self.account_name}.table.core.windows.net"

    def queue_endpoint(self) -> str:
        return self.queue_service_uri or f"https://{self.account_name}.queue.core.windows.net"


class GraphSettings(BaseModel):
    """How the app reaches Microsoft Graph (or the local emulator)."""

    model_config = ConfigDict(frozen=True)

    client_id: str = Field(min_length=1)
    credential: Literal["secret", "certificate", "managedIdentity"] = "secret"
    client_secret: str | None = None
    certificate_path: str | None = None
    # The certificate + private key itself (PEM text, or base64 of PEM or PKCS#12): on
    # Flex Consumption there is no file to point at, so it comes as a setting (a Key
    # Vault reference in Azure).
    certificate: str | None = None
    base_url: str = "https://graph.microsoft.com/v1.0"
    authority: str = "https://login.microsoftonline.com"
    ca_bundle: str | None = None
    max_concurrency_per_mailbox: int = Field(default=4, ge=1, le=4)
    max_retries: int = Field(default=5, ge=0, le=20)

    @model_validator(mode="after")
    def _credential_material(self) -> GraphSettings:
        if self.credential == "secret" and not self.client_secret:
            raise ValueError("GRAPH_CLIENT_SECRET is required when GRAPH_CREDENTIAL=secret")
        if self.credential == "certificate" and not (self.certificate_path or self.certificate):
            raise ValueError(
                "GRAPH_CERTIFICATE (PEM or base64) or GRAPH_CERTIFICATE_PATH is required "
                "when GRAPH_CREDENTIAL=certificate"
            )
        if self.certificate:
            certificate_bytes(self.certificate)  # a clear error now, not at the first token
        return self


def certificate_bytes(value: str) -> bytes:
    """GRAPH_CERTIFICATE as the bytes azure-identity takes: PEM text as it is, else
    base64 of a PEM or PKCS#12 (.pfx) file."""
    text = value.strip()
    if "-----BEGIN" in text:
        return text.replace("\\n", "\n").encode("utf-8")
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "GRAPH_CERTIFICATE must be PEM text or base64 (of PEM or PKCS#12)"
        ) from None
    if not raw:
        raise ValueError("GRAPH_CERTIFICATE is empty")
    return raw


class SyncSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    horizon_past_days: int = Field(default=1, ge=0, le=30)
    horizon_future_days: int = Field(default=365, ge=1, le=1825)
    reconcile_interval_minutes: int = Field(default=15, ge=1, le=1440)
    renewal_margin_hours: int = Field(default=24, ge=1, le=150)
    subscription_lifetime_minutes: int = Field(default=10_080, ge=45, le=10_080)
    lease_seconds: int = Field(default=60, ge=10, le=3600)
    # A full listing of each room with a fresh window, at most this often apart (spread).
    full_listing_hours: int = Field(default=24, ge=1, le=720)


ApiAuthMode = Literal["none", "key", "entra"]
# Used only under API_AUTH=none (a local stack): no real secret exists there.
LOCAL_SECRET_KEY = "bookker-sync-local-only-secret-key-not-for-azure"  # noqa: S105
MIN_SECRET_KEY_CHARS = 32


class SecuritySettings(BaseModel):
    """Who may call the API, and the app's own secret.

    ``API_AUTH``: ``none`` (local stacks: every caller may do everything), ``key``
    (function keys, checked by the Functions host) or ``entra`` (bearer tokens from
    ``API_AUTH_ISSUER`` for ``API_AUTH_AUDIENCE``, checked by the app). ``APP_SECRET_KEY``
    keys the HMACs of subscription clientStates and of admin-consent ``state``
    parameters; required unless ``API_AUTH=none``.
    """

    model_config = ConfigDict(frozen=True)

    api_auth: ApiAuthMode = "none"
    issuer: str | None = Field(default=None, pattern=r"^https://")
    audience: str | None = Field(default=None, min_length=1)
    secret_key: str | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _complete(self) -> SecuritySettings:
        if self.api_auth == "entra" and not (self.issuer and self.audience):
            raise ValueError("API_AUTH=entra needs API_AUTH_ISSUER and API_AUTH_AUDIENCE")
        if self.secret_key is None and self.api_auth != "none":
            raise ValueError(f"APP_SECRET_KEY is required when API_AUTH={self.api_auth}")
        if self.secret_key is not None and len(self.secret_key) < MIN_SECRET_KEY_CHARS:
            raise ValueError(f"APP_SECRET_KEY must be at least {MIN_SECRET_KEY_CHARS} characters")
        return self

    @property
    def key(self) -> bytes:
        return (self.secret_key or LOCAL_SECRET_KEY).encode()


class EventSettings(BaseModel):
    """The events told to Bookker (pull feed and push) and how long data is kept."""

    model_config = ConfigDict(frozen=True)

    retention_days: int = Field(default=30, ge=1, le=3650)
    event_json_retention_days: int = Field(default=90, ge=1, le=3650)
    # Local stack only: push to http://127.0.0.1:* / http://localhost:*.
    allow_local_http: bool = False


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    storage: StorageSettings
    graph: GraphSettings
    sync: SyncSettings
    security: SecuritySettings = SecuritySettings()
    events: EventSettings = Field(default_factory=EventSettings)
    webhook_base_url: str = Field(pattern=r"^https?://")

    @property
    def notification_url(self) -> str:
        return f"{self.webhook_base_url.rstrip('/')}/graph/notifications"

    @property
    def lifecycle_url(self) -> str:
        return f"{self.webhook_base_url.rstrip('/')}/graph/lifecycle"

    @property
    def consent_redirect_url(self) -> str:
        """Where Entra sends a customer's admin after admin consent (registered on the app)."""
        return f"{self.webhook_base_url.rstrip('/')}/consent/callback"


# Setting name -> (section, field). The single list of what the app reads.
SETTING_NAMES: dict[str, tuple[str, str]] = {
    "AzureWebJobsStorage": ("storage", "connection_string"),
    "AzureWebJobsStorage__accountName": ("storage", "account_name"),
    "AzureWebJobsStorage__tableServiceUri": ("storage", "table_service_uri"),
    "AzureWebJobsStorage__queueServiceUri": ("storage", "queue_service_uri"),
    "AzureWebJobsStorage__clientId": ("storage", "managed_identity_client_id"),
    "GRAPH_CLIENT_ID": ("graph", "client_id"),
    "GRAPH_CREDENTIAL": ("graph", "credential"),
    "GRAPH_CLIENT_SECRET": ("graph", "client_secret"),
    "GRAPH_CERTIFICATE_PATH": ("graph", "certificate_path"),
    "GRAPH_CERTIFICATE": ("graph", "certificate"),
    "GRAPH_BASE_URL": ("graph", "base_url"),
    "GRAPH_AUTHORITY": ("graph", "authority"),
    "GRAPH_CA_BUNDLE": ("graph", "ca_bundle"),
    "GRAPH_MAX_CONCURRENCY_PER_MAILBOX": ("graph", "max_concurrency_per_mailbox"),
    "GRAPH_MAX_RETRIES": ("graph", "max_retries"),
    "SYNC_HORIZON_PAST_DAYS": ("sync", "horizon_past_days"),
    "SYNC_HORIZON_FUTURE_DAYS": ("sync", "horizon_future_days"),
    "RECONCILE_INTERVAL_MINUTES": ("sync", "reconcile_interval_minutes"),
    "RENEWAL_MARGIN_HOURS": ("sync", "renewal_margin_hours"),
    "SUBSCRIPTION_LIFETIME_MINUTES": ("sync", "subscription_lifetime_minutes"),
    "SYNC_LEASE_SECONDS": ("sync", "lease_seconds"),
    "SYNC_FULL_LISTING_HOURS": ("sync", "full_listing_hours"),
    "WEBHOOK_BASE_URL": ("", "webhook_base_url"),
    "API_AUTH": ("security", "api_auth"),
    "API_AUTH_ISSUER": ("security", "issuer"),
    "API_AUTH_AUDIENCE": ("security", "audience"),
    "APP_SECRET_KEY": ("security", "secret_key"),
    "EVENT_RETENTION_DAYS": ("events", "retention_days"),
    "EVENT_JSON_RETENTION_DAYS": ("events", "event_json_retention_days"),
    "EVENTS_ALLOW_LOCAL_HTTP": ("events", "allow_local_http"),
}
# Settings the runtime itself reads (host.json bindings / NCRONTAB %NAME% expressions).
RUNTIME_SETTING_NAMES = (
    "FUNCTIONS_WORKER_RUNTIME",
    "RECONCILE_SCHEDULE",
    "RENEW_SCHEDULE",
    "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT",
)
REQUIRED_SETTING_NAMES = ("GRAPH_CLIENT_ID", "WEBHOOK_BASE_URL")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from ``env`` (default: os.environ).

    Raises SettingsError naming every missing or invalid setting at once.
    """
    source = os.environ if env is None else env
    sections: dict[str, dict[str, str]] = {
        "storage": {}, "graph": {}, "sync": {}, "security": {}, "events": {},
    }  # fmt: skip
    top: dict[str, object] = {}
    field_to_name: dict[tuple[str, str], str] = {}
    for name, (section, field) in SETTING_NAMES.items():
        field_to_name[(section, field)] = name
        value = source.get(name)
        if value is None or value == "":
            continue
        (sections[section] if section else top)[field] = value
    problems = [f"{name} is missing" for name in REQUIRED_SETTING_NAMES if not source.get(name)]
    try:
        settings = Settings.model_validate({**sections, **top})
    except ValidationError as exc:
        problems.extend(_describe(exc, field_to_name))
        settings = None
    if problems:
        unique = list(dict.fromkeys(problems))
        raise SettingsError("invalid settings: " + "; ".join(unique))
    assert settings is not None
    return settings


def _describe(exc: ValidationError, field_to_name: Mapping[tuple[str, str], str]) -> list[str]:
    out: list[str] = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if err["type"] == "missing":
            continue  # reported by name via REQUIRED_SETTING_NAMES
        key = (loc[0], loc[1]) if len(loc) >= 2 else ("", loc[0]) if loc else ("", "")
        name = field_to_name.get(key) or _SECTION_SETTING.get(loc[0] if loc else "", "settings")
        message = str(err["msg"]).removeprefix("Value error, ")
        out.append(f"{name}: {message}")
    return out


# Errors about a whole section are reported under the setting that usually fixes them.
_SECTION_SETTING = {
    "storage": "AzureWebJobsStorage",
    "graph": "GRAPH_CREDENTIAL",
    "security": "API_AUTH",
}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once. Tests call ``get_settings.cache_clear()``."""
    return load_settings()
