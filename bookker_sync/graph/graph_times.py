"""The one parser of Graph's time values.

- ``dateTimeTimeZone`` (event start/end): a wall time plus a zone name. Graph answers
  with the zone name the client used: Windows names ("W. Europe Standard Time"), IANA
  names ("Europe/Madrid") or "UTC" (learn.microsoft.com/graph/api/resources/datetimetimezone).
  An unknown name is an error: guessing UTC would silently move the booking.
- ISO instants (``lastModifiedDateTime``, ``expirationDateTime``): 7 fractional digits, Z.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bookker_sync.graph.errors import GraphError

# CLDR windowsZones.xml, territory "001" (the Windows names Outlook uses).
WINDOWS_TO_IANA: dict[str, str] = {
    "Dateline Standard Time": "Etc/GMT+12",
    "UTC-11": "Etc/GMT+11",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time (Mexico)": "America/Tijuana",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time (Mexico)": "America/Mazatlan",
    "Mountain Standard Time": "America/Denver",
    "Central America Standard Time": "America/Guatemala",
    "Central Standard Time": "America/Chicago",
    "Central Standard Time (Mexico)": "America/Mexico_City",
    "Canada Central Standard Time": "America/Regina",
    "SA Pacific Standard Time": "America/Bogota",
    "Eastern Standard Time (Mexico)": "America/Cancun",
    "Eastern Standard Time": "America/New_York",
    "US Eastern Standard Time": "America/Indianapolis",
    "Venezuela Standard Time": "America/Caracas",
    "Paraguay Standard Time": "America/Asuncion",
    "Atlantic Standard Time": "America/Halifax",
    "Central Brazilian Standard Time": "America/Cuiaba",
    "SA Western Standard Time": "America/La_Paz",
    "Pacific SA Standard Time": "America/Santiago",
    "Newfoundland Standard Time": "America/St_Johns",
    "E. South America Standard Time": "America/Sao_Paulo",
    "SA Eastern Standard Time": "America/Cayenne",
    "Argentina Standard Time": "America/Buenos_Aires",
    "Greenland Standard Time": "America/Godthab",
    "Montevideo Standard Time": "America/Montevideo",
    "UTC-02": "Etc/GMT+2",
    "Azores Standard Time": "Atlantic/Azores",
    "Cape Verde Standard Time": "Atlantic/Cape_Verde",
    "UTC": "Etc/UTC",
    "Coordinated Universal Time": "Etc/UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "Morocco Standard Time": "Africa/Casablanca",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Romance Standard Time": "Europe/Paris",
    "Central European Standard Time": "Europe/Warsaw",
    "W. Central Africa Standard Time": "Africa/Lagos",
    "Jordan Standard Time": "Asia/Amman",
    "GTB Standard Time": "Europe/Bucharest",
    "Middle East Standard Time": "Asia/Beirut",
    "Egypt Standard Time": "Africa/Cairo",
    "E. Europe Standard Time": "Europe/Chisinau",
    "Syria Standard Time": "Asia/Damascus",
    "South Africa Standard Time": "Africa/Johannesburg",
    "FLE Standard Time": "Europe/Kiev",
    "Israel Standard Time": "Asia/Jerusalem",
    "Kaliningrad Standard Time": "Europe/Kaliningrad",
    "Arabic Standard Time": "Asia/Baghdad",
    "Turkey Standard Time": "Europe/Istanbul",
    "Arab Standard Time": "Asia/Riyadh",
    "Belarus Standard Time": "Europe/Minsk",
    "Russian Standard Time": "Europe/Moscow",
    "E. Africa Standard Time": "Africa/Nairobi",
    "Iran Standard Time": "Asia/Tehran",
    "Arabian Standard Time": "Asia/Dubai",
    "Azerbaijan Standard Time": "Asia/Baku",
    "Georgian Standard Time": "Asia/Tbilisi",
    "Afghanistan Standard Time": "Asia/Kabul",
    "West Asia Standard Time": "Asia/Tashkent",
    "Pakistan Standard Time": "Asia/Karachi",
    "India Standard Time": "Asia/Calcutta",
    "Sri Lanka Standard Time": "Asia/Colombo",
    "Nepal Standard Time": "Asia/Katmandu",
    "Central Asia Standard Time": "Asia/Almaty",
    "Bangladesh Standard Time": "Asia/Dhaka",
    "Myanmar Standard Time": "Asia/Rangoon",
    "SE Asia Standard Time": "Asia/Bangkok",
    "North Asia Standard Time": "Asia/Krasnoyarsk",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "W. Australia Standard Time": "Australia/Perth",
    "Taipei Standard Time": "Asia/Taipei",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "AUS Central Standard Time": "Australia/Darwin",
    "E. Australia Standard Time": "Australia/Brisbane",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "West Pacific Standard Time": "Pacific/Port_Moresby",
    "Tasmania Standard Time": "Australia/Hobart",
    "Vladivostok Standard Time": "Asia/Vladivostok",
    "Central Pacific Standard Time": "Pacific/Guadalcanal",
    "New Zealand Standard Time": "Pacific/Auckland",
    "UTC+12": "Etc/GMT-12",
    "Fiji Standard Time": "Pacific/Fiji",
    "Tonga Standard Time": "Pacific/Tongatapu",
    "Samoa Standard Time": "Pacific/Apia",
    "Line Islands Standard Time": "Pacific/Kiritimati",
}

_WINDOWS_LOWER = {k.lower(): v for k, v in WINDOWS_TO_IANA.items()}
_UTC_NAMES = ("utc", "coordinated universal time")


class UnknownTimeZoneError(GraphError):
    """A time zone name that is neither Windows, IANA nor UTC."""

    def __init__(self, name: str) -> None:
        super().__init__(502, "UnknownTimeZone", f"unknown time zone {name[:100]!r}")
        self.name = name


@lru_cache(maxsize=512)
def resolve_time_zone(name: str) -> tzinfo:
    """A tzinfo for a Windows name (any case), an IANA name or UTC."""
    key = name.strip()
    if key.lower() in _UTC_NAMES:
        return UTC
    iana = _WINDOWS_LOWER.get(key.lower())
    try:
        return ZoneInfo(iana or key)
    # KeyError subclass for unknown keys, ValueError for malformed ones, OSError for a
    # key naming a directory ("Europe").
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZoneError(name) from None


def graph_datetime(moment: datetime) -> dict[str, str]:
    """dateTimeTimeZone in UTC (we always send and ask for UTC)."""
    utc = moment.astimezone(UTC)
    return {"dateTime": utc.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def graph_local_datetime(moment: datetime, time_zone: str) -> dict[str, str]:
    """dateTimeTimeZone as wall time in ``time_zone``: for series that follow DST."""
    local = moment.astimezone(resolve_time_zone(time_zone))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": time_zone}


def parse_graph_datetime(value: Mapping[str, Any] | None) -> datetime | None:
    """A dateTimeTimeZone → aware UTC datetime; None when absent. A missing timeZone
    means UTC (what we ask for with Prefer: outlook.timezone)."""
    if not value or not value.get("dateTime"):
        return None
    text = str(value["dateTime"]).rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    moment = datetime.fromisoformat(text)
    zone = resolve_time_zone(str(value.get("timeZone") or "UTC"))
    return moment.replace(tzinfo=zone).astimezone(UTC)


def parse_instant(value: Any) -> datetime | None:
    """Graph's ISO instants (7 fractional digits, Z) → aware datetime."""
    if not value:
        return None
    try:
        text = str(value).replace("Z", "+00:00")
        head, _, tail = text.partition(".")
        if tail:  # Graph sends 7 fractional digits; Python takes 6
            digits = "".join(ch for ch in tail if ch.isdigit())
            rest = tail[len(digits) :]
            text = f"{head}.{digits[:6]}{rest}"
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def graph_instant(moment: datetime) -> str:
    """An instant as Graph writes DateTimeOffset values (UTC, 7 fractional digits)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
