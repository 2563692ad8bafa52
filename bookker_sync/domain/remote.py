"""What the sync engine knows about one event copy in Outlook, independent of Graph's JSON.

The graph layer parses Graph event JSON into RemoteEvent; reconcile decides on it.
``raw`` keeps the full JSON for storage (full fidelity).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bookker_sync.domain.addresses import Mailbox


class EventType(StrEnum):
    SINGLE = "singleInstance"
    OCCURRENCE = "occurrence"
    EXCEPTION = "exception"
    SERIES_MASTER = "seriesMaster"


class Response(StrEnum):
    NONE = "none"
    ORGANIZER = "organizer"
    TENTATIVE = "tentativelyAccepted"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    NOT_RESPONDED = "notResponded"


@dataclass(frozen=True)
class Attendee:
    email: str
    kind: str  # required | optional | resource
    response: Response


@dataclass(frozen=True)
class RemoteEvent:
    id: str
    removed: bool = False
    i_cal_uid: str | None = None
    change_key: str | None = None
    subject: str = ""
    start: datetime | None = None
    end: datetime | None = None
    organizer_email: str | None = None
    is_cancelled: bool = False
    type: EventType = EventType.SINGLE
    series_master_id: str | None = None
    response: Response = Response.NONE
    attendees: tuple[Attendee, ...] = ()
    modified: datetime | None = None  # lastModifiedDateTime
    # sensitivity private or confidential: its subject and body are not ours to keep
    # (the graph layer leaves them out of ``subject`` and ``raw``)
    private: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def attendee(self, email: str) -> Attendee | None:
        wanted = Mailbox.parse(email)
        if wanted is None:
            return None
        return next((a for a in self.attendees if Mailbox.parse(a.email) == wanted), None)
