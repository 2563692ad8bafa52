"""Helpers for driving the emulator through the real msgraph-sdk."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.serialization import Parsable
from msgraph.generated.models.attendee import Attendee
from msgraph.generated.models.attendee_type import AttendeeType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.location import Location
from msgraph.generated.models.open_type_extension import OpenTypeExtension

# Open extension data is open-typed by definition: it can only land in additional_data.
OPEN_TYPES = (OpenTypeExtension,)


def assert_typed(obj: Any, path: str = "$") -> None:
    """Every property the SDK parsed went to a typed field, except @-annotations."""
    if isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            assert_typed(item, f"{path}[{i}]")
        return
    if not isinstance(obj, Parsable) or isinstance(obj, Enum):
        return
    extra = getattr(obj, "additional_data", None) or {}
    if not isinstance(obj, OPEN_TYPES):
        untyped = [k for k in extra if not k.startswith("@")]
        assert not untyped, f"{path}: untyped properties {untyped} on {type(obj).__name__}"
    for name, value in vars(obj).items():
        if name in ("additional_data", "backing_store"):
            continue
        assert_typed(value, f"{path}.{name}")


def dtz(when: datetime, tz: str = "UTC") -> DateTimeTimeZone:
    return DateTimeTimeZone(date_time=when.strftime("%Y-%m-%dT%H:%M:%S"), time_zone=tz)


def attendee(address: str, kind: AttendeeType = AttendeeType.Required) -> Attendee:
    return Attendee(email_address=EmailAddress(address=address), type=kind)


def room(address: str) -> Attendee:
    return attendee(address, AttendeeType.Resource)


def event(
    subject: str,
    start: datetime,
    minutes: int = 60,
    attendees: Iterable[Attendee] = (),
    tz: str = "UTC",
    **kw: Any,
) -> Event:
    return Event(
        subject=subject,
        body=ItemBody(content=f"<p>{subject}</p>"),
        start=dtz(start, tz),
        end=dtz(start + timedelta(minutes=minutes), tz),
        attendees=list(attendees),
        location=Location(display_name=kw.pop("location", "HQ")),
        **kw,
    )


def soon(days: int = 1, hour: int = 9) -> datetime:
    """A whole hour ``days`` from now (UTC), inside booking windows."""
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return (base + timedelta(days=days)).replace(hour=hour)


def config(query: Any = None, headers: dict[str, str] | None = None) -> RequestConfiguration[Any]:
    cfg: RequestConfiguration[Any] = RequestConfiguration(query_parameters=query)
    for name, value in (headers or {}).items():
        cfg.headers.add(name, value)
    return cfg


def parse_graph_time(value: str) -> datetime:
    """``2030-01-06T09:00:00.0000000`` (UTC wall time) → aware datetime."""
    return datetime.fromisoformat(value[:26]).replace(tzinfo=UTC)


def bearer(emu: Any, tenant: str, client_id: str, secret: str) -> str:
    """An ``Authorization`` header value from the emulator's token endpoint."""
    from azure.identity import ClientSecretCredential

    cred = ClientSecretCredential(
        tenant,
        client_id,
        secret,
        authority=emu.base_url,
        disable_instance_discovery=True,
        connection_verify=emu.ca_path,
    )
    return "Bearer " + cred.get_token("https://graph.microsoft.com/.default").token
