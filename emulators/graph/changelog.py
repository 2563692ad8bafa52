"""The per-mailbox ordered change log of the world.

Every create/update/delete of any stored event copy, and every change to a series
occurrence, is appended here with the mailbox, event id, the stored item it belongs
to (``root_id``: the series master for occurrences and exceptions), the change type
and the virtual time. ``calendarView/delta`` reads it to find what changed since a
token; change notifications subscribe to it with :meth:`ChangeLog.subscribe`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ChangeType = Literal["created", "updated", "deleted"]


@dataclass(frozen=True)
class Change:
    seq: int  # global, strictly increasing
    mailbox: str  # mailbox key (lower-case address)
    event_id: str
    root_id: str
    change_type: ChangeType
    at: datetime  # virtual time
    kind: str  # singleInstance | seriesMaster | exception | occurrence
    change_key: str | None  # the copy's changeKey after the change (None when deleted)


Listener = Callable[[Change], None]


class ChangeLog:
    def __init__(self) -> None:
        self._seq = 0
        self._by_mailbox: dict[str, list[Change]] = {}
        self._listeners: list[Listener] = []

    @property
    def last_seq(self) -> int:
        return self._seq

    def append(
        self,
        mailbox: str,
        event_id: str,
        root_id: str,
        change_type: ChangeType,
        at: datetime,
        kind: str,
        change_key: str | None,
    ) -> Change:
        self._seq += 1
        change = Change(self._seq, mailbox, event_id, root_id, change_type, at, kind, change_key)
        self._by_mailbox.setdefault(mailbox, []).append(change)
        for listener in list(self._listeners):
            listener(change)
        return change

    def since(self, mailbox: str, seq: int) -> list[Change]:
        """Changes of ``mailbox`` with a sequence number above ``seq``, oldest first."""
        entries = self._by_mailbox.get(mailbox, [])
        # entries are ordered by seq: scan from the end
        i = len(entries)
        while i > 0 and entries[i - 1].seq > seq:
            i -= 1
        return entries[i:]

    def mailbox_log(self, mailbox: str) -> list[Change]:
        return list(self._by_mailbox.get(mailbox, []))

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every future change; returns an unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def clear(self) -> None:
        """Forget all entries (reset). Sequence numbers keep increasing, listeners stay."""
        self._by_mailbox.clear()
