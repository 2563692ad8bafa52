"""Mailbox: one spelling per mailbox, whatever case Graph or a user wrote."""

from __future__ import annotations

import json

import pytest

from bookker_sync.domain.addresses import Mailbox


def test_mailbox_is_lower_cased_and_still_a_str() -> None:
    room = Mailbox("Room1@Contoso.COM")
    assert room == "room1@contoso.com"
    assert isinstance(room, str)
    assert Mailbox(room) is room
    assert {room: 1}.get("room1@contoso.com") == 1  # plain-str keys still find it
    assert json.dumps({"mailbox": room}) == '{"mailbox": "room1@contoso.com"}'
    assert Mailbox("ROOM1@contoso.com") == Mailbox("room1@CONTOSO.com")


@pytest.mark.parametrize("bad", ["", "room", "@contoso.com", "room@"])
def test_not_an_address_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="not a mailbox address"):
        Mailbox(bad)
    assert Mailbox.parse(bad) is None


def test_parse_tolerates_what_graph_may_send() -> None:
    assert Mailbox.parse(None) is None
    # A legacy Exchange DN names some organizers: no mailbox of ours, not an error.
    assert Mailbox.parse("/o=ExchangeLabs/ou=Exchange Administrative Group/cn=ana") is None
    assert Mailbox.parse("Ana@Contoso.com") == "ana@contoso.com"
