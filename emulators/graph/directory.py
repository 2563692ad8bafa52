"""Tenants, app registrations and mailboxes (users and rooms)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes

MailboxKind = Literal["user", "room"]


@dataclass
class App:
    """An app registration (its service principal in every directory it is in).

    ``audience`` / ``identifier_uris`` name the API the app may get tokens for besides
    Graph, with ``roles`` (app roles assigned to it on that API). One ``App`` object is
    shared by every directory that consented to it, as one registration is in Entra.
    """

    client_id: str
    secret: str | None
    certificates: list[x509.Certificate] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    audience: str | None = None
    identifier_uris: list[str] = field(default_factory=list)
    redirect_uris: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "clientId": self.client_id,
            "hasSecret": self.secret is not None,
            "certificates": [thumbprint_hex(c) for c in self.certificates],
            "roles": list(self.roles),
            "audience": self.audience,
            "identifierUris": list(self.identifier_uris),
            "redirectUris": list(self.redirect_uris),
        }


def thumbprint_hex(cert: x509.Certificate) -> str:
    """The SHA-1 thumbprint as the Entra portal shows it (upper-case hex)."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - an identifier


@dataclass
class Tenant:
    tenant_id: str
    apps: dict[str, App] = field(default_factory=dict)
    token_lifetime: int | None = None  # seconds; None → the server default


@dataclass
class RoomPolicy:
    """The Exchange calendar-processing settings the attendant honours.

    Defaults are Exchange Online's for room mailboxes (learn.microsoft.com/powershell/
    module/exchange/set-calendarprocessing): AutomateProcessing AutoAccept,
    AllowConflicts False, BookingWindowInDays 180, DeleteSubject True with
    AddOrganizerToSubject True, DeleteComments True, EnforceSchedulingHorizon True,
    MaximumConflictInstances 0, ConflictPercentageAllowed 0, MaximumDurationInMinutes
    1440 ("When the value is set to 0, the maximum duration of a meeting is unlimited"),
    RemoveCanceledMeetings False ("Canceled meetings aren't deleted. This is the default
    value."). The cmdlet "is effective only on resource mailboxes": user mailboxes
    ignore the policy.
    """

    allow_conflicts: bool = False
    booking_window_days: int = 180
    delete_subject: bool = True
    delete_comments: bool = True
    enforce_scheduling_horizon: bool = True
    maximum_conflict_instances: int = 0
    conflict_percentage_allowed: int = 0
    auto_accept: bool = True
    maximum_duration_minutes: int = 1440
    remove_canceled_meetings: bool = False

    FIELDS = {
        "allowConflicts": "allow_conflicts",
        "bookingWindowInDays": "booking_window_days",
        "deleteSubject": "delete_subject",
        "deleteComments": "delete_comments",
        "enforceSchedulingHorizon": "enforce_scheduling_horizon",
        "maximumConflictInstances": "maximum_conflict_instances",
        "conflictPercentageAllowed": "conflict_percentage_allowed",
        "autoAccept": "auto_accept",
        "maximumDurationInMinutes": "maximum_duration_minutes",
        "removeCanceledMeetings": "remove_canceled_meetings",
    }

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> RoomPolicy:
        policy = cls()
        for key, value in (raw or {}).items():
            attr = cls.FIELDS.get(key)
            if attr is None:
                raise ValueError(f"unknown policy field {key!r}")
            current = getattr(policy, attr)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"policy.{key} must be a boolean")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                # Set-CalendarProcessing: every integer setting is "from 0 through INT32".
                raise ValueError(f"policy.{key} must be a non-negative integer")
            setattr(policy, attr, value)
        return policy

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, attr) for key, attr in self.FIELDS.items()}


@dataclass
class Mailbox:
    id: str
    tenant_id: str
    address: str
    display_name: str
    kind: MailboxKind
    policy: RoomPolicy
    capacity: int | None = None

    @property
    def key(self) -> str:
        """The canonical mailbox key used throughout the world (lower-case address)."""
        return self.address.lower()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "tenantId": self.tenant_id,
            "address": self.address,
            "displayName": self.display_name,
            "kind": self.kind,
        }
        if self.kind == "room":
            out["policy"] = self.policy.to_json()
            out["capacity"] = self.capacity
        return out


class Directory:
    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self._by_key: dict[str, Mailbox] = {}
        self._by_id: dict[str, Mailbox] = {}

    def add_tenant(
        self,
        tenant_id: str,
        client_id: str,
        secret: str | None,
        token_lifetime: int | None = None,
    ) -> tuple[Tenant, bool]:
        tenant = self.tenants.get(tenant_id)
        created = tenant is None
        if tenant is None:
            tenant = Tenant(tenant_id)
            self.tenants[tenant_id] = tenant
        app = tenant.apps.get(client_id)
        if app is None:
            tenant.apps[client_id] = App(client_id, secret)
        elif secret is not None:
            app.secret = secret
        if token_lifetime is not None:
            tenant.token_lifetime = token_lifetime
        return tenant, created

    def add_app(self, tenant_id: str, app: App) -> tuple[Tenant, bool]:
        """Register (or replace) ``app`` in a directory, creating the directory."""
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            tenant = Tenant(tenant_id)
            self.tenants[tenant_id] = tenant
        created = app.client_id not in tenant.apps
        tenant.apps[app.client_id] = app
        return tenant, created

    def find_app(self, client_id: str) -> App | None:
        """The registration of ``client_id`` in whichever directory holds it."""
        for tenant in self.tenants.values():
            if client_id in tenant.apps:
                return tenant.apps[client_id]
        return None

    def add_mailbox(
        self,
        tenant_id: str,
        address: str,
        display_name: str,
        kind: MailboxKind,
        policy: RoomPolicy,
        capacity: int | None = None,
    ) -> tuple[Mailbox, bool]:
        existing = self._by_key.get(address.lower())
        if existing is not None:
            if existing.tenant_id != tenant_id:
                raise ValueError(f"{address} already belongs to tenant {existing.tenant_id}")
            existing.display_name = display_name
            existing.kind = kind
            existing.policy = policy
            existing.capacity = capacity
            return existing, False
        mailbox = Mailbox(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            address=address,
            display_name=display_name,
            kind=kind,
            policy=policy,
            capacity=capacity,
        )
        self._by_key[mailbox.key] = mailbox
        self._by_id[mailbox.id] = mailbox
        return mailbox, True

    def resolve(self, user: str) -> Mailbox | None:
        """A mailbox by object id or by address/UPN (case-insensitive)."""
        return self._by_id.get(user.lower()) or self._by_key.get(user.lower())

    def by_key(self, key: str) -> Mailbox | None:
        return self._by_key.get(key.lower())

    def mailboxes(self, tenant_id: str | None = None) -> list[Mailbox]:
        return [m for m in self._by_key.values() if tenant_id is None or m.tenant_id == tenant_id]

    def rooms(self, tenant_id: str) -> list[Mailbox]:
        return [m for m in self.mailboxes(tenant_id) if m.kind == "room"]
