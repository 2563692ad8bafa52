"""The words of the OpenAPI document (functions/openapi.py): what people read in
GET /api/docs. Kept apart from the structure so each is easy to review."""

from __future__ import annotations

from typing import Final

API_DESCRIPTION: Final = """\
Bookker's rooms, desks and bookings, kept in step with the tenant's Outlook calendars
through Microsoft Graph.

**Authentication** depends on the deployment's `API_AUTH`: `entra` (Azure's default) takes
an Entra ID bearer token (`Authorization: Bearer ...`) whose app roles allow the operation
(`Bookings.ReadWrite` for these operations) and whose client app was given the tenant;
`key` takes the Function App's function key in the `x-functions-key` header (or a `code`
query parameter); `none` (local stacks only) takes anything. No or an invalid credential:
401; a role or tenant the credential lacks: 403.

**Times** are ISO 8601 date-times with an offset (`2031-03-04T10:00:00+01:00`); they
are stored and answered in UTC.

**Errors** are JSON: `{{"error": {{"code", "message"}}}}` (schema `Error`). On a 422
or a 403 the broken rules sit beside it in `"errors": [{{"rule", "message"}}]`; on a
400 the invalid fields are in `error.details`. A request body may be at most
{max_body} KiB: a larger one is answered 413.
"""

OPERATIONS: Final[dict[str, tuple[str, str, str]]] = {
    # operationId: (tag, summary, description)
    "getConsentLink": (
        "Configuration",
        "The admin-consent link of a tenant",
        (
            "302 to Microsoft Entra ID's admin consent page, with a signed `state` naming this "
            "tenant that expires after 24 hours; the body carries the same URL as "
            "`consentUrl`. Send it to the customer's administrator only: when they consent, "
            "Entra ID sends them to /api/consent/callback, which binds their directory to "
            "this tenant."
        ),
    ),
    "putTenant": (
        "Configuration",
        "Create or replace a tenant",
        (
            "Registers a Bookker tenant and the Microsoft Entra tenant whose Outlook it syncs "
            "with. `mode` chooses the direction: `unidirectional` writes Bookker's bookings "
            "into the users' calendars; `bidirectional` books the room mailboxes too and takes "
            "bookings made in Outlook into Bookker. 201 when new, 200 when replaced. "
            "`graphTenantId` (a GUID) is normally bound by admin consent (getConsentLink); "
            "set here only where the deployment allows it (403 otherwise), and left out it "
            "keeps the bound directory. 409 when a room of the tenant belongs to another "
            "tenant in the new directory."
        ),
    ),
    "putSpace": (
        "Configuration",
        "Create or replace a space",
        (
            "A room or desk of the tenant, with its booking rules. In bidirectional mode "
            "`resourceEmail` names its room mailbox, to which the app subscribes for changes "
            "made in Outlook; it must exist (422 MailboxNotFound otherwise, checked through "
            "Graph). 201 when new, 200 when replaced; 404 for an unknown tenant; 409 when "
            "the room mailbox already belongs to another tenant (a room of a directory is "
            "synced by one tenant only) or to another space of this tenant."
        ),
    ),
    "putUser": (
        "Configuration",
        "Create or replace a user",
        (
            "Someone who may book: their Outlook mailbox, the groups matched against a space's "
            "`allowedGroups`, and their own limits. 201 when new, 200 when replaced; 404 for "
            "an unknown tenant."
        ),
    ),
    "createBooking": (
        "Bookings",
        "Book a space",
        (
            "Checks the space's and the user's rules and the space's other bookings, then "
            "writes the event to Outlook; the booking is stored only once Outlook has accepted "
            "it (201). With `recurrence` it books a series: one booking per occurrence, "
            "answered as a `BookingSeries`. Send an `Idempotency-Key` to retry safely."
        ),
    ),
    "listBookings": (
        "Bookings",
        "List bookings",
        (
            "The tenant's bookings, filtered by space, user, time window and status; every "
            "filter is optional. `from` and `to` select the bookings that overlap the window."
        ),
    ),
    "getBooking": (
        "Bookings",
        "Get a booking",
        (
            "One booking, with its status (a bidirectional booking the room declined is "
            "`declined`, with the room's reason) and where it lives in Outlook."
        ),
    ),
    "updateBooking": (
        "Bookings",
        "Move or rename a booking",
        (
            "Changes the start, end or subject of a confirmed booking, under the same rules as "
            "a new one, and updates the Outlook event. Nothing is stored if Outlook refuses."
        ),
    ),
    "deleteBooking": (
        "Bookings",
        "Cancel a booking",
        (
            "Cancels the booking and its Outlook event; the booking stays, `cancelled`. "
            "Cancelling twice is harmless (204)."
        ),
    ),
    "releaseBooking": (
        "Bookings",
        "Release a booking (system action)",
        (
            "Bookker frees the space, e.g. when nobody checked in: the booking becomes "
            "`cancelled` with the reason. In unidirectional mode the user's event is cancelled; "
            "in bidirectional mode the room declines its copy with the reason."
        ),
    ),
}

OPERATIONS.update({
    "getTenant": ("Configuration", "Get a tenant", (
        "The tenant: its Entra tenant, mode, display name and, when events are pushed, "
        "the push URL (never the secret)."
    )),
    "offboardTenant": ("Configuration", "Offboard a tenant (erase its data)", (
        "Deletes the tenant's Graph subscriptions, stops its sync, then erases every "
        "row stored about it: bookings with their Outlook event JSON, events, push "
        "settings and secret, mailbox state, ledger, declines, subscription records. "
        "`confirm` must repeat the tenant id. Answers what was deleted."
    )),
    "listSpaces": ("Configuration", "List spaces", "The tenant's spaces, by id."),
    "getSpace": ("Configuration", "Get a space", "One space, with its rules and room mailbox."),
    "deleteSpace": ("Configuration", "Remove a space", (
        "Removes the space and its room's subscription. A space with future confirmed "
        "bookings is kept (409, with their ids) unless `force=true`: then each is "
        "cancelled in Bookker and in Outlook (the room declines its copy, or the user's "
        'event is cancelled) with the reason "The space was removed from Bookker".'
    )),
    "listUsers": ("Configuration", "List users", "The tenant's users, by id."),
    "getUser": ("Configuration", "Get a user", "One user, with their groups and limits."),
    "deleteUser": ("Configuration", "Remove a user", (
        "Removes the user from Bookker; their bookings stay as history (Outlook keeps "
        "the meetings)."
    )),
    "listEvents": ("Events", "Read the tenant's events", (
        "What the sync decided, in order, as CloudEvents 1.0 (`com.bookker.sync.*`: "
        "booking.created/updated/cancelled/declined/reverted/reconfirmed/rejected, "
        "tenant.consent_required, room.sync_failing/sync_recovered). Page with "
        "`after` = the last `cursor`; without it the feed starts at the oldest event "
        "kept (EVENT_RETENTION_DAYS). A page never repeats or reorders what an earlier "
        "one gave. The same events are pushed to the tenant's `events.url`, signed per "
        "Standard Webhooks."
    )),
})  # fmt: skip

ERRORS: Final[dict[str, tuple[int, str, str, str]]] = {
    # response name: (status, error code, description, sample message)
    "BadRequest": (400, "BadRequest", "Malformed request: not JSON, a missing, unknown or "
                   "invalid field, or a bad id in the path.",
                   "invalid request: end: Field required"),
    "Unauthorized": (401, "Unauthorized", "No credential, or one that is not valid for "
                     "this API (API_AUTH=entra; under key the host answers an empty 401).",
                     "credentials required"),
    "Forbidden": (403, "Forbidden", "The user may not book this space (its allowedGroups), or "
                  "the credential lacks the role or the tenant.",
                  "the user may not book this space"),
    "NotFound": (404, "NotFound", "Unknown tenant, space, user or booking.",
                 "tenant contoso not found"),
    "Conflict": (409, "Conflict", "Overlaps a confirmed booking of the space, the booking "
                 "is not in a state that allows this, or the room mailbox belongs to another "
                 "tenant.", "booking b-7c9e6679 is cancelled"),
    "PayloadTooLarge": (413, "PayloadTooLarge", "The request body is larger than the limit.",
                        "body larger than 262144 bytes"),
    "RuleViolations": (422, "RuleViolation", "Breaks the space's or the user's rules: "
                       "`errors` lists each. Code MailboxNotFound instead: an address (the "
                       "user's email, the space's room) has no mailbox in the directory.",
                       "The booking breaks a rule (maxMinutes). maxMinutes: Focus 214 can "
                       "be booked for at most 240 minutes; this booking is 300 minutes."),
    "InternalError": (500, "InternalError", "Unexpected error (logged), or the app is "
                      "misconfigured (code Misconfigured).",
                      "unexpected error; it has been logged"),
    "GraphRefused": (502, "GraphFailure", "Outlook refused the change; nothing was stored.",
                     "Outlook did not accept the event"),
    "Unavailable": (503, "StorageUnavailable", "Storage (code StorageUnavailable) or Outlook "
                    "(code GraphFailure) is unavailable or throttled; nothing was stored. "
                    "Retry later.", "storage is unavailable; retry later"),
}  # fmt: skip

SCHEMA_TEXT: Final[dict[str, str]] = {
    "TenantPut": "A tenant as PUT: its Entra tenant and sync mode.",
    "SpacePut": "A space as PUT: name, room mailbox, capacity and rules.",
    "UserPut": "A user as PUT: mailbox, groups and limits.",
    "BookingCreate": "A new booking (or series) of a space for a user.",
    "BookingPatch": "The fields to change; absent ones stay.",
    "ReleaseRequest": "Why Bookker releases the booking.",
    "Tenant": "A Bookker tenant.",
    "Space": "A room or desk.",
    "User": "Someone who may book.",
    "Booking": "One booking (one occurrence, for a series).",
    "TenantMode": (
        "unidirectional: Bookker → Outlook only (users' calendars); bidirectional: room "
        "mailboxes too, and Outlook → Bookker."
    ),
    "SpaceRules": "A space's booking rules; an absent rule does not limit.",
    "UserRules": "A user's limits; an absent one does not limit.",
    "TimeRange": 'An opening interval within one day, local "HH:MM" (end may be "24:00").',
    "BookingStatus": (
        "confirmed; declined (the room declined it, see statusReason); cancelled (deleted "
        "or released)."
    ),
    "BookingSource": "Where the booking was made: in Bookker or in Outlook.",
    "OutlookRef": "Where the booking lives in Outlook: the organizer's and the room's copy.",
    "Recurrence": (
        "A daily or weekly series, ending after `count` occurrences or on `until` (a date, "
        "inclusive); exactly one of the two."
    ),
    "RecurrencePatternType": "How the series repeats.",
    "Error": (
        'Every error: {"error": {"code", "message"}}; a 422 or 403 adds the broken rules in '
        "`errors`."
    ),
    "ErrorDetail": "What went wrong: a stable code and a message for people.",
    "FieldError": "One invalid field of a 400.",
    "Violation": "One broken rule of a 422 (or 403).",
    "BookingList": "A list answer.",
    "BookingSeries": "The bookings of a new series, one per occurrence.",
    "BookingOrSeries": "A Booking, or a BookingSeries when the request had a recurrence.",
    "EventsPut": "Where to push the tenant's events, and the secret that signs them.",
    "BodyIn": "An event body: text or html.",
    "OutlookFieldsIn": "The Outlook fields of a booking; each is written only when given.",
    "Sensitivity": "How private the meeting is; private hides its content from Bookker.",
    "ShowAs": "Free/busy status shown in Outlook.",
    "SyncState": (
        "synced: Outlook holds what Bookker holds; pending: Outlook (the room) has not "
        "answered yet; failed: Outlook refused the last write."
    ),
    "CloudEvent": "One event (CloudEvents 1.0, JSON).",
    "EventList": "A page of the tenant's events and the cursor to go on from.",
    "OffboardReport": "What offboarding deleted.",
    "SpaceList": "The tenant's spaces.",
    "UserList": "The tenant's users.",
}

PROPERTY_TEXT: Final[dict[str, dict[str, str]]] = {
    "SpaceRules": {
        "timeZone": "IANA time zone of openingHours, e.g. Europe/Madrid.",
        "openingHours": "Per weekday, the open intervals; a missing weekday is closed, no "
        "openingHours at all is always open.",
        "minMinutes": "Shortest booking.",
        "maxMinutes": "Longest booking.",
        "bookingWindowDays": "How many days ahead a booking may start.",
        "allowedGroups": "Who may book: users sharing one of these groups (empty: everyone).",
    },
    "UserRules": {
        "maxBookingsPerDay": "Most bookings the user may hold on one day.",
        "maxMinutesPerBooking": "Longest booking the user may make.",
    },
    "Booking": {
        "statusReason": "Why it was declined or released.",
        "seriesId": "Set on every occurrence of a series.",
        "outlook": "Where it lives in Outlook.",
    },
    "BookingCreate": {
        "attendees": "People invited (email addresses); the room is invited by the space.",
        "body": "The event's body.",
    },
    "BookingPatch": {
        "attendees": "People invited: replaces the list (the room stays invited).",
        "body": "The event's body.",
    },
    "Recurrence": {
        "interval": "Every how many days or weeks.",
        "daysOfWeek": "Weekly only: the days (default: the first booking's weekday).",
        "until": "Last date (inclusive), in the space's time zone.",
        "count": "How many occurrences.",
    },
}
