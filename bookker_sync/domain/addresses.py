"""A mailbox address as the sync engine compares, keys and stores it."""

from __future__ import annotations

import re

# Something on each side of an "@". Deliberately loose: room lists (Places) hold odd
# addresses; the API and queue messages check their stricter shapes themselves.
_ADDRESS = re.compile(r"^.+@.+$", re.DOTALL)
# What Bookker accepts from its API (a space's room, a user's mailbox): the address is
# put in Graph URL paths (/users/{address}/events) and table keys, so only the common
# subset of RFC 5321: dot-separated atoms of letters, digits and ``_ + - '`` before the
# "@", dot-separated DNS labels after it. No "/", "?", "#", "$", "%", spaces, quotes
# or control characters: nothing that could change the URL it is put in.
_ATOM = r"[A-Za-z0-9_+'\-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_STRICT = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+$", re.ASCII)
MAX_ADDRESS_CHARS = 254
MAX_LOCAL_PART_CHARS = 64


def is_strict_address(text: str) -> bool:
    """An address the API accepts (see ``_STRICT``), at most 254 characters with a
    local part of at most 64 (RFC 5321 §4.5.3.1)."""
    if len(text) > MAX_ADDRESS_CHARS or not _STRICT.fullmatch(text):
        return False
    return len(text.partition("@")[0]) <= MAX_LOCAL_PART_CHARS


class Mailbox(str):
    """An email address, lower-cased: Exchange addresses are case-insensitive, so
    "Room1@Contoso.com" and "room1@contoso.com" are one mailbox. A ``str``: it compares
    equal to, hashes like and is stored as its normalised text."""

    __slots__ = ()

    def __new__(cls, address: str) -> Mailbox:
        if isinstance(address, Mailbox):
            return address
        text = str(address).lower()
        if not _ADDRESS.fullmatch(text):
            raise ValueError(f"not a mailbox address: {str(address)[:100]!r}")
        return super().__new__(cls, text)

    @classmethod
    def parse(cls, address: str | None) -> Mailbox | None:
        """A Mailbox, or None for a missing or malformed address (Graph may name an
        organizer by a legacy X.500 DN, which is no mailbox we know)."""
        if not address:
            return None
        try:
            return cls(address)
        except ValueError:
            return None
