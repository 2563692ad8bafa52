"""Typed repositories for the app's state, one table per concern."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from azure.data.tables.aio import TableServiceClient
from pydantic import BaseModel, ConfigDict, Field

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.creation_intent import CreationIntent
from bookker_sync.domain.models import Booking, Space, Tenant, User
from bookker_sync.graph.graph_types import EventJson
from bookker_sync.storage.tables import DocumentTable

TENANTS_TABLE = "tenants"
SPACES_TABLE = "spaces"
USERS_TABLE = "users"
BOOKINGS_TABLE = "bookings"
LEDGER_TABLE = "ledger"
MAILBOXES_TABLE = "mailboxes"
SUBSCRIPTIONS_TABLE = "subscriptions"
SUBSCRIPTION_IDS_TABLE = "subscriptionids"
DECLINES_TABLE = "declines"
INTENTS_TABLE = "intents"
ROOM_CLAIMS_TABLE = "roomclaims"
API_CLIENTS_TABLE = "apiclients"
WRITE_BUDGET_TABLE = "writebudget"
EVENTS_TABLE = "events"  # storage/event_log.py
EVENT_PUSH_TABLE = "eventpush"
DEAD_LETTERS_TABLE = "eventdeadletters"
# Every table the app uses (infra/ declares the same list).
APP_TABLES = (
    TENANTS_TABLE,
    SPACES_TABLE,
    USERS_TABLE,
    BOOKINGS_TABLE,
    LEDGER_TABLE,
    MAILBOXES_TABLE,
    SUBSCRIPTIONS_TABLE,
    SUBSCRIPTION_IDS_TABLE,
    DECLINES_TABLE,
    INTENTS_TABLE,
    ROOM_CLAIMS_TABLE,
    API_CLIENTS_TABLE,
    WRITE_BUDGET_TABLE,
    EVENTS_TABLE,
    EVENT_PUSH_TABLE,
    DEAD_LETTERS_TABLE,
)
PUSH_ROW = "push"
TENANT_PARTITION = "tenant"
API_CLIENT_PARTITION = "client"
# The subscriptionids table's one non-subscription entity: bumped on every subscription
# create/delete so webhook instances drop cached lookups (ids are GUIDs: no clash).
GENERATION_KEY = ("generation", "g")


class BookingRecord(BaseModel):
    """A booking plus the full Graph JSON of each Outlook copy (full fidelity)."""

    model_config = ConfigDict(populate_by_name=True)

    booking: Booking
    organizer_event: EventJson | None = Field(default=None, alias="organizerEvent")
    resource_event: EventJson | None = Field(default=None, alias="resourceEvent")
    # A fingerprint of the API request that created it under an Idempotency-Key: the
    # same key with another request is refused, not answered with this booking.
    request_hash: str | None = Field(default=None, alias="requestHash")
    # When an Outlook copy was last written or read back (the booking's "sync" state).
    synced_at: datetime | None = Field(default=None, alias="syncedAt")
    # Why Outlook could not be told (a refused write), until a later write succeeds.
    sync_error: str | None = Field(default=None, alias="syncError")


class MailboxState(BaseModel):
    """Sync state of one room mailbox: delta link, lease and dirty flag, timings."""

    model_config = ConfigDict(populate_by_name=True)

    tenant_id: str
    mailbox: str
    space_id: str | None = None
    delta_link: str | None = None
    # The window the delta link was started with, and when it is due to roll.
    window_start: datetime | None = None
    window_end: datetime | None = None
    full_listing_due_at: datetime | None = None
    # Set when a worker takes the lease, cleared when it lets go after completed runs:
    # still set when the lease is taken again means a run was abandoned (killed, or
    # failed mid-page).
    run_in_progress: bool = False
    lease_owner: str | None = None
    lease_until: datetime | None = None
    dirty: bool = False
    last_sync_at: datetime | None = None
    last_sync_started_at: datetime | None = None
    last_notification_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    failing_since: datetime | None = None  # first failed run since the last good one
    full_resyncs: int = 0
    lag_samples: list[tuple[datetime, float]] = Field(default_factory=list)


class SubscriptionState(StrEnum):
    ACTIVE = "active"
    FAILING = "failing"
    NEEDS_CONSENT = "needs-consent"
    MISSING = "missing"  # to be (re)created


class SubscriptionRecord(BaseModel):
    """Our view of the Graph subscription on one room mailbox.

    The subscription's clientState (a random secret sent to Graph) is never stored:
    ``client_state_hash`` is its keyed digest (domain/signing.py), enough to check a
    notification but useless to forge one. ``pending_state_hashes``: digests of the
    clientStates of creations whose answer we may have lost (a crash between Graph's
    answer and our write), so such a subscription is still recognised as ours.
    """

    model_config = ConfigDict(populate_by_name=True)

    tenant_id: str
    mailbox: str
    space_id: str
    graph_tenant_id: str
    subscription_id: str | None = None
    client_state_hash: str = Field(default="", repr=False)
    pending_state_hashes: list[str] = Field(default_factory=list, repr=False)
    expires_at: datetime | None = None
    state: SubscriptionState = SubscriptionState.MISSING
    created_at: datetime | None = None
    renewed_at: datetime | None = None
    reauthorized_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None


class SubscriptionIndex(BaseModel):
    """subscriptionId → who it belongs to: one point read per notification batch.
    ``client_state_hash`` is the keyed digest of the subscription's clientState."""

    tenant_id: str
    mailbox: str
    graph_tenant_id: str
    client_state_hash: str = Field(repr=False)


class SubscriptionGeneration(BaseModel):
    """Changes whenever a subscription is created, replaced or deleted."""

    value: str


class RoomClaim(BaseModel):
    """(directory, room mailbox) → the one Bookker tenant (and space) that owns it."""

    tenant_id: str
    space_id: str
    claimed_at: datetime


class ApiClient(BaseModel):
    """An API caller (Entra client app id, the token's ``azp``) and the Bookker tenants
    it may act for; ``all_tenants`` for Bookker's own backend."""

    client_id: str
    tenants: list[str] = Field(default_factory=list)
    all_tenants: bool = False
    note: str = ""
    updated_at: datetime


class DeclineKind(StrEnum):
    DECLINE = "decline"  # the room declined an Outlook event
    REVERT = "revert"  # an organizer's move was put back to the booked times


class DeclineRecord(BaseModel):
    """A room declining an Outlook event, or a move reverted, with the reason the
    organizer was given and whose meeting it was (append-only; the last few per room
    are kept for the status page). For a revert, ``room_event_id`` is the organizer's
    event id and start/end are the times the organizer had asked for."""

    tenant_id: str
    space_id: str
    mailbox: str
    room_event_id: str
    reason: str
    rules: list[str] = Field(default_factory=list)
    at: datetime
    kind: DeclineKind = DeclineKind.DECLINE
    organizer: str | None = None  # "Name <address>" or the address
    subject: str | None = None
    start: datetime | None = None
    end: datetime | None = None


class EventPush(BaseModel):
    """Where a tenant's events are pushed, and how far delivery got. The secret is
    never returned by the API nor logged (repr=False)."""

    tenant_id: str
    url: str
    secret: str = Field(repr=False)
    delivered_seq: int = 0  # every event up to here was delivered or dead-lettered
    attempts: int = 0  # failed tries of the event after delivered_seq
    first_failure_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    last_delivered_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    dirty: bool = False  # poked while a run held the lease: it runs once more


class DeadLetter(BaseModel):
    """An event that could not be pushed within the retry period."""

    tenant_id: str
    seq: int
    event_id: str
    type: str
    booking_id: str | None = None
    attempts: int
    first_failure_at: datetime | None = None
    dead_at: datetime
    last_error: str | None = None


class BudgetSlot(BaseModel):
    """Writes granted in one time slot, shared by every instance of the app (one entity
    per Graph tenant, reused from slot to slot)."""

    slot: int = 0
    used: int = 0


def _booking_projection(record: BookingRecord) -> dict[str, Any]:
    b = record.booking
    return {
        "SpaceId": b.space_id,
        "UserId": b.user_id,
        "Status": b.status.value,
        "Source": b.source.value,
        "Start": b.start,
        "End": b.end,
        "ICalUId": b.outlook.i_cal_uid or "",
        "ResourceEventId": b.outlook.resource_event_id or "",
        "SeriesId": b.series_id or "",
        "UpdatedAt": b.updated_at,
    }


class Repositories:
    # Projected columns are str(...): the table SDK picks a converter by exact type.
    def __init__(self, service: TableServiceClient) -> None:
        self.service = service
        self.tenants = DocumentTable(service, TENANTS_TABLE, Tenant)
        self.spaces = DocumentTable(
            service,
            SPACES_TABLE,
            Space,
            projection=lambda s: {"ResourceEmail": str(Mailbox.parse(s.resource_email) or "")},
        )
        self.users = DocumentTable(
            service, USERS_TABLE, User, projection=lambda u: {"Email": str(Mailbox(u.email))}
        )
        self.bookings = DocumentTable(
            service, BOOKINGS_TABLE, BookingRecord, projection=_booking_projection
        )
        self.mailboxes = DocumentTable(service, MAILBOXES_TABLE, MailboxState)
        self.subscriptions = DocumentTable(
            service,
            SUBSCRIPTIONS_TABLE,
            SubscriptionRecord,
            projection=lambda r: {
                "State": r.state.value,
                "ExpiresAt": r.expires_at,
                "SubscriptionId": r.subscription_id or "",
            },
        )
        self.subscription_ids = DocumentTable(service, SUBSCRIPTION_IDS_TABLE, SubscriptionIndex)
        self.declines = DocumentTable(service, DECLINES_TABLE, DeclineRecord)
        # tenant / booking id (the transactionId): Bookker creations under way
        self.intents = DocumentTable(
            service,
            INTENTS_TABLE,
            CreationIntent,
            projection=lambda i: {"SpaceId": i.space_id, "State": i.state.value},
        )
        self.generation = DocumentTable(service, SUBSCRIPTION_IDS_TABLE, SubscriptionGeneration)
        self.room_claims = DocumentTable(service, ROOM_CLAIMS_TABLE, RoomClaim)
        self.api_clients = DocumentTable(service, API_CLIENTS_TABLE, ApiClient)
        self.write_budget = DocumentTable(service, WRITE_BUDGET_TABLE, BudgetSlot)
        self.event_push = DocumentTable(service, EVENT_PUSH_TABLE, EventPush)
        self.dead_letters = DocumentTable(service, DEAD_LETTERS_TABLE, DeadLetter)

    async def ping(self, retries: int | None = None) -> None:
        """Raise if the table service can't be reached (``retries``: fewer to fail fast)."""
        options = {} if retries is None else {"retry_total": retries}
        async for _ in self.service.list_tables(results_per_page=1, **options):
            break

    async def user_by_email(self, tenant_id: str, email: str) -> User | None:
        found = await self.users.list(tenant_id, "Email eq @e", e=Mailbox(email))
        return found[0] if found else None

    async def space_by_mailbox(self, tenant_id: str, mailbox: str) -> Space | None:
        found = await self.spaces.list(tenant_id, "ResourceEmail eq @m", m=Mailbox(mailbox))
        return found[0] if found else None
