"""The Outlook fields a booking carries besides space, times and subject: what Bookker's
forms offer (attendees, body, Teams meeting, sensitivity, show-as, categories,
reminder). ``None`` everywhere means "not given": a change writes only what it names,
so nothing Outlook holds is dropped (a Teams link, attendees added in Outlook)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum


class Sensitivity(StrEnum):
    NORMAL = "normal"
    PERSONAL = "personal"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"


class ShowAs(StrEnum):
    FREE = "free"
    TENTATIVE = "tentative"
    BUSY = "busy"
    OOF = "oof"
    WORKING_ELSEWHERE = "workingElsewhere"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Body:
    content_type: str  # "text" | "html"
    content: str


@dataclass(frozen=True)
class OutlookFields:
    attendees: tuple[str, ...] | None = None  # email addresses (required attendees)
    body: Body | None = None
    is_online_meeting: bool | None = None  # True: Outlook creates a Teams meeting
    sensitivity: Sensitivity | None = None
    show_as: ShowAs | None = None
    categories: tuple[str, ...] | None = None
    reminder_minutes_before_start: int | None = None

    def given(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


@dataclass(frozen=True)
class OutlookView:
    """What a booking shows of its Outlook event (never for private meetings)."""

    attendees: tuple[str, ...] = ()
    body_preview: str = ""
    body: Body | None = None
    is_online_meeting: bool = False
    join_url: str | None = None
    sensitivity: str = "normal"
    show_as: str | None = None
    categories: tuple[str, ...] = ()
    reminder_minutes_before_start: int | None = None
    room_response: str | None = None

    @property
    def private(self) -> bool:
        return self.sensitivity == Sensitivity.PRIVATE.value
