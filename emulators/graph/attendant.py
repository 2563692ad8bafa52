"""The room mailbox booking attendant (Exchange "Resource Booking Assistant").

Pure decisions, no I/O: the world hands it the request's instances and the room's
busy instances and applies the answer. Behaviour follows Exchange Online's
Set-CalendarProcessing defaults for rooms (learn.microsoft.com/powershell/module/
exchange/set-calendarprocessing): AutoAccept; AllowConflicts False; a recurring
request with more conflicts than MaximumConflictInstances (0) or
ConflictPercentageAllowed (0 %) is declined as a whole, otherwise accepted with the
conflicting occurrences declined; BookingWindowInDays 180 with
EnforceSchedulingHorizon True (a series reaching past the window, or without end,
is declined; with False, the occurrences past the window are declined).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .directory import RoomPolicy


@dataclass(frozen=True)
class Instance:
    start: datetime
    end: datetime
    original_start: datetime | None  # None for a single instance


@dataclass(frozen=True)
class Decision:
    accept: bool
    reason: str
    declined_occurrences: tuple[datetime, ...] = field(default=())


DECLINE_CONFLICT = "The resource is already booked for the requested time."
DECLINE_WINDOW = "The request is outside the booking window of the resource ({days} days)."
ACCEPTED = "Your request was accepted."


def _overlap(a: Instance, busy: list[tuple[datetime, datetime]]) -> bool:
    return any(a.start < b_end and a.end > b_start for b_start, b_end in busy)


def decide(
    policy: RoomPolicy,
    now: datetime,
    instances: list[Instance],
    busy: list[tuple[datetime, datetime]],
    *,
    recurring: bool,
    series_end: datetime | None,
) -> Decision | None:
    """The attendant's answer, or None when the room does not process requests."""
    if not policy.auto_accept:
        return None
    horizon = now + timedelta(days=policy.booking_window_days)
    window_msg = DECLINE_WINDOW.format(days=policy.booking_window_days)
    declined: list[datetime] = []
    if recurring:
        beyond = series_end is None or series_end > horizon
        if beyond and policy.enforce_scheduling_horizon:
            return Decision(False, window_msg)
        if beyond:
            declined.extend(
                i.original_start for i in instances if i.end > horizon and i.original_start
            )
    elif any(i.end > horizon for i in instances):
        return Decision(False, window_msg)

    if not policy.allow_conflicts:
        live = [i for i in instances if i.end > now]
        conflicts = [i for i in live if _overlap(i, busy)]
        if conflicts:
            if not recurring:
                return Decision(False, DECLINE_CONFLICT)
            percent = 100 * len(conflicts) / max(1, len(live))
            if (
                len(conflicts) > policy.maximum_conflict_instances
                or percent > policy.conflict_percentage_allowed
            ):
                return Decision(False, DECLINE_CONFLICT)
            declined.extend(i.original_start for i in conflicts if i.original_start)
    return Decision(True, ACCEPTED, tuple(sorted(set(declined))))
