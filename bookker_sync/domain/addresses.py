"""A mailbox address as the sync engine compares, keys and stores it."""

from __future__ import annotations

import re

# Something on each side of an "@". Deliberately loose: room lists (Places) hold odd
# addresses; the API and queue messages check their stricter shapes themselves.
_ADDRESS = re.compile(r"^.+@.+$", re.DOTALL)


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
