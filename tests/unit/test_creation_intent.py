"""Creation intents: when one is undone, forgotten, and which slots are in flight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bookker_sync.domain.creation_intent import (
    INTENT_SECONDS,
    TOMBSTONE,
    IntentState,
    Verdict,
    in_flight,
    new_intent,
    verdict,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


def intent(state: IntentState = IntentState.PENDING, **kw):
    i = new_intent(
        tenant_id="t", booking_id="b", space_id="s", organizer_mailbox="a@x.test",
        room_mailbox="r@x.test", slots=[("b", NOW + H, NOW + 2 * H)], now=NOW,
    )  # fmt: skip
    return i.model_copy(update={"state": state, **kw})


def test_a_pending_intent_waits_for_its_request_until_the_deadline():
    i = intent()
    assert i.deadline == NOW + timedelta(seconds=INTENT_SECONDS)
    assert verdict(i, i.deadline - timedelta(seconds=1)) is Verdict.WAIT
    assert verdict(i, i.deadline) is Verdict.UNDO


def test_an_undo_that_was_interrupted_is_finished():
    assert verdict(intent(IntentState.ABANDONING), NOW) is Verdict.UNDO


def test_a_tombstone_is_kept_a_day():
    done = intent(IntentState.ABANDONED, resolved_at=NOW)
    assert verdict(done, NOW + TOMBSTONE - timedelta(seconds=1)) is Verdict.WAIT
    assert verdict(done, NOW + TOMBSTONE) is Verdict.FORGET


def test_unresolved_intents_keep_their_slots_in_flight():
    slot = (NOW + H, NOW + 2 * H)
    assert in_flight([intent()]) == [slot]
    assert in_flight([intent(IntentState.ABANDONING)]) == [slot]
    assert in_flight([intent(IntentState.ABANDONED)]) == []
    assert intent().window == slot
