"""What one sync run knows about a room: its bookings, looked up by room event id or
iCalUId, and the people organizing events there. Loaded once per run, kept current
as actions are applied."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.models import Booking, BookingStatus, Space, User
from bookker_sync.domain.remote import RemoteEvent
from bookker_sync.storage.repositories import BookingRecord
from bookker_sync.sync.outbound import creation_intents
from bookker_sync.sync.services import Services


@dataclass
class RoomIndex:
    tenant_id: str
    space: Space
    room: str
    records: dict[str, BookingRecord] = field(default_factory=dict)
    users: dict[str, User | None] = field(default_factory=dict)
    user_bookings: dict[str, list[Booking]] = field(default_factory=dict)
    since: datetime | None = None
    _holds: list[tuple[datetime, datetime]] | None = None
    # In-flight slots of unresolved creation intents, as read at the start of the run.
    intent_slots: list[tuple[datetime, datetime]] | None = None

    @classmethod
    async def load(
        cls, services: Services, tenant_id: str, space: Space, room: str, since: datetime
    ) -> RoomIndex:
        index = cls(tenant_id, space, room, since=since)
        await index.reload(services)
        return index

    async def reload(self, services: Services) -> None:
        """Read the room's bookings again (bookings stored by the API since the load)."""
        records = await services.repos.bookings.list(
            self.tenant_id, "SpaceId eq @s and End gt @t", s=self.space.id, t=self.since
        )
        for record in records:
            self.put(record)

    def put(self, record: BookingRecord) -> None:
        self.records[record.booking.id] = record
        for bookings in self.user_bookings.values():
            for i, b in enumerate(bookings):
                if b.id == record.booking.id:
                    bookings[i] = record.booking

    def find(self, remote: RemoteEvent) -> BookingRecord | None:
        for record in self.records.values():
            if record.booking.outlook.resource_event_id == remote.id:
                return record
        if remote.i_cal_uid:
            for record in self.records.values():
                if record.booking.outlook.i_cal_uid == remote.i_cal_uid:
                    return record
        return None

    def confirmed(self) -> list[Booking]:
        return [
            r.booking for r in self.records.values() if r.booking.status is BookingStatus.CONFIRMED
        ]

    async def organizer(self, services: Services, email: str | None) -> User | None:
        key = Mailbox.parse(email)
        if key is None:  # none, or not an address a user can have
            return None
        if key not in self.users:
            self.users[key] = await services.repos.user_by_email(self.tenant_id, key)
        return self.users[key]

    async def bookings_of(
        self, services: Services, user: User | None, since: datetime
    ) -> list[Booking]:
        if user is None:
            return []
        if user.id not in self.user_bookings:
            records = await services.repos.bookings.list(
                self.tenant_id, "UserId eq @u and Status eq @s and End gt @t",
                u=user.id, s=BookingStatus.CONFIRMED.value, t=since,
            )  # fmt: skip
            self.user_bookings[user.id] = [r.booking for r in records]
        return self.user_bookings[user.id]

    async def refresh_for(self, services: Services, remote: RemoteEvent) -> BookingRecord | None:
        """An event this run's snapshot doesn't know: Bookker may have stored its booking
        (or started creating it) since the snapshot was read. Look again before it is
        judged as new, so a Bookker booking's own room copy is never declined as a
        stranger. Costs two table reads, only for unknown events."""
        if remote.removed:
            return None
        self._holds = self.intent_slots = None  # re-read in-flight creations too
        if not remote.i_cal_uid:
            return None
        found = await services.repos.bookings.list(
            self.tenant_id, "ICalUId eq @u", u=remote.i_cal_uid
        )
        for record in found:
            self.put(record)
        return self.find(remote)

    async def wait_for_in_flight(
        self, services: Services, remote: RemoteEvent, seconds: float
    ) -> bool:
        """Wait (ms, at most ``seconds``) until the Bookker creations on ``remote``'s slot
        are stored: its own booking (found by iCalUId) or every overlapping hold gone.
        True when they are (the index then knows the stored bookings)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if await self.refresh_for(services, remote) is not None:
                return True
            holds = await self.holds(services, services.clock.now())
            if (
                remote.start is None
                or remote.end is None
                or not any(s < remote.end and remote.start < e for s, e in holds)
            ):
                await self.reload(services)
                return True
        return False

    async def holds(self, services: Services, now: datetime) -> list[tuple[datetime, datetime]]:
        """In-flight Bookker creations in this space: ledger holds, and creation intents
        not resolved yet (their events may still appear, or be cancelled). Read once per
        run and again whenever an unknown event shows up."""
        if self._holds is None:
            entries = await services.ledger.holds(self.tenant_id, self.space.id, now)
            if self.intent_slots is None:
                self.intent_slots = await creation_intents.in_flight_slots(
                    services, self.tenant_id, self.space.id
                )
            self._holds = [(e.start, e.end) for e in entries] + self.intent_slots
        return self._holds

    def add_user_booking(self, booking: Booking) -> None:
        self.user_bookings.setdefault(booking.user_id, []).append(booking)
