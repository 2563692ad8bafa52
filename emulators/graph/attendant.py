"""The room mailbox booking attendant (Exchange "Resource Booking Assistant").

Pure decisions, no I/O: the world hands it the request's instances and the room's
busy instances and applies the answer. Behaviour follows Exchange Online's
Set-CalendarProcessing defaults for rooms (learn.microsoft.com/powershell/module/
exchange/set-calendarprocessing): AutoAccept; AllowConflicts False; a recurring
request with more conflicts than MaximumConflictInstances (0) or
ConflictPercentageAllowed (0 %) is declined as a whole, otherwise accepted with the
conflicting occurrences declined; BookingWindowInDays 180 with
EnforceSchedulingHorizon True (a series reaching past the window, or without end,
is declined; with False, the occurrences past the window are declined);
MaximumDurationInMinutes 1440, 0 = unlimited ("For recurring meetings, the value of
this parameter applies to the length of an individual meeting instance": a series
whose instances are all too long is declined, otherwise the too-long exceptions are).

The decline texts are the emulator's own wording of Exchange's reasons; Graph does not
expose the response message, only the organizer's ``attendees[].status``.
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
DECLINE_DURATION = (
    "The meeting is longer than the maximum duration allowed for the resource ({minutes} minutes)."
)
ACCEPTED = "Your request was accepted."


def _overlap(a: Instance, busy: list[tuple[datetime, datetime]]) -> bool:
    return any(a.start < b_end and a.end > b_start for b_start, b_end in busy)


def _too_long(policy: RoomPolicy, instances: list[Instance]) -> list[Instance]:
    if policy.maximum_duration_minutes <= 0:
        return []
    limit = timedelta(minutes=policy.maximum_duration_minutes)
    return [i for i in instances if i.end - i.start > limit]


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

    too_long = _too_long(policy, instances)
    if too_long:
        if not recurring or len(too_long) == len(instances):
            return Decision(False, DECLINE_DURATION.format(minutes=policy.maximum_duration_minutes))
        declined.extend(i.original_start for i in too_long if i.original_start)

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
