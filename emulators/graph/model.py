"""The stored form of an event copy, and the identifiers Graph gives events.

One meeting has one copy per mailbox (organizer, each attendee, each room), each
with its own ``id`` and ``changeKey``; they share the meeting's global object id,
from which ``iCalUId`` is derived (learn.microsoft.com/graph/api/resources/event:
"iCalUId … is the same across calendars … differs per occurrence"). Stored kinds are
``singleInstance``, ``seriesMaster`` and ``exception``; an ``occurrence`` is never
stored but synthesised from its master (see ``calendar``).
"""

from __future__ import annotations

import base64
import copy
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

EventKind = Literal["singleInstance", "seriesMaster", "exception", "occurrence"]

# Exchange's GlobalObjectId class id (MS-OXOCAL 2.2.1.27): the hex iCalUId prefix.
_GOID_CLASS = "040000008200E00074C5B7101A82E008"
_ALNUM = string.ascii_letters + string.digits
_OCC_SEP = "_"
_OCC_FMT = "%Y%m%dT%H%M%SZ"

# Properties shared by all copies of a meeting (the organizer's are authoritative).
SHARED_PROPS = (
    "subject",
    "body",
    "location",
    "locations",
    "importance",
    "sensitivity",
    "isAllDay",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "onlineMeeting",
    "allowNewTimeProposals",
    "hideAttendees",
    "responseRequested",
)


def new_event_id() -> str:
    # Graph ids are long opaque base64-ish strings; ours avoid "_" (the occurrence mark).
    return "AAMkA" + "".join(secrets.choice(_ALNUM) for _ in range(43))


def new_meeting_uid() -> str:
    return secrets.token_hex(16).upper()


def new_change_key() -> str:
    return base64.b64encode(b"\x16\x00\x00\x00" + secrets.token_bytes(17)).decode()


def occurrence_id(master_id: str, original_start: datetime) -> str:
    return f"{master_id}{_OCC_SEP}{original_start.astimezone(UTC).strftime(_OCC_FMT)}"


def split_occurrence_id(event_id: str) -> tuple[str, datetime] | None:
    master, sep, stamp = event_id.rpartition(_OCC_SEP)
    if not sep or not master:
        return None
    try:
        when = datetime.strptime(stamp, _OCC_FMT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return master, when


def ical_uid(meeting_uid: str, created: datetime, occurrence: datetime | None = None) -> str:
    """A GlobalObjectId in hex: the date bytes are zero for the series, set per occurrence."""
    if occurrence is None:
        date_hex = "00000000"
    else:
        d = occurrence.astimezone(UTC)
        date_hex = f"{d.year:04X}{d.month:02X}{d.day:02X}"
    filetime = int((created - datetime(1601, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)) * 10
    ft_hex = filetime.to_bytes(8, "little").hex().upper()
    return f"{_GOID_CLASS}{date_hex}{ft_hex}{'0' * 16}10000000{meeting_uid}"


@dataclass
class Extension:
    name: str
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"Microsoft.OutlookServices.OpenTypeExtension.{self.name}"


@dataclass
class EventCopy:
    """One mailbox's copy of an event (or a synthesised occurrence)."""

    id: str
    mailbox: str  # mailbox key (lower-case address)
    meeting_uid: str
    meeting_created: datetime  # shared by copies: part of the iCalUId
    kind: EventKind
    start: datetime  # UTC
    end: datetime  # UTC
    start_tz: str
    end_tz: str
    organizer: dict[str, Any]  # {"emailAddress": {"name", "address"}}
    is_organizer: bool
    created: datetime
    modified: datetime
    change_key: str
    props: dict[str, Any] = field(default_factory=dict)
    attendees: list[dict[str, Any]] = field(default_factory=list)
    response: str = "organizer"
    response_time: datetime | None = None
    is_cancelled: bool = False
    recurrence: dict[str, Any] | None = None
    series_master_id: str | None = None
    original_start: datetime | None = None  # exceptions and occurrences
    transaction_id: str | None = None
    categories: list[str] = field(default_factory=list)
    show_as: str = "busy"
    extensions: dict[str, Extension] = field(default_factory=dict)
    # seriesMaster only: occurrences removed from this copy (deleted, cancelled, declined)
    cancelled_occurrences: set[datetime] = field(default_factory=set)
    # seriesMaster only: original start → exception id
    exceptions: dict[datetime, str] = field(default_factory=dict)
    # attendee copies: the organizer's shared fields as last delivered. A room hides some
    # (DeleteSubject, DeleteComments) yet processes every update, so its copy is saved
    # again (new changeKey) when they change even if nothing visible does.
    delivered: str = ""

    @property
    def root_id(self) -> str:
        """The stored item delta groups this one under (the master for exceptions)."""
        return self.series_master_id or self.id

    def ical_uid(self) -> str:
        occ = self.original_start if self.kind in ("exception", "occurrence") else None
        return ical_uid(self.meeting_uid, self.meeting_created, occ)

    def touch(self, now: datetime) -> None:
        """Every write to a copy gives it a new changeKey (and @odata.etag)."""
        self.modified = now
        self.change_key = new_change_key()

    def clone(self) -> EventCopy:
        return copy.deepcopy(self)

    def attendee(self, address: str) -> dict[str, Any] | None:
        for att in self.attendees:
            if str(att.get("emailAddress", {}).get("address", "")).lower() == address.lower():
                return att
        return None

    def attendee_keys(self) -> list[str]:
        return [
            str(a.get("emailAddress", {}).get("address", "")).lower()
            for a in self.attendees
            if a.get("emailAddress", {}).get("address")
        ]

    def organizer_key(self) -> str:
        return str(self.organizer.get("emailAddress", {}).get("address", "")).lower()
