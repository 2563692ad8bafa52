"""``python -m bookker_sync`` as a subprocess against the test stack (Azurite + Graph
emulator + the app in the local Functions host), with the app's own settings.

One tenant for the module: two rooms that exist only in Graph (onboarding discovers
them), one room already mapped to a space, and a "ghost" space whose room mailbox does
not exist, so creating its subscription fails for real (Graph 404) and it shows as
failing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue import QueueClient

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.repositories import Repositories
from bookker_sync.sync.ops.status import human_span
from tests.support.cli import CliResult, cli_env, run_cli
from tests.support.functions_host import Stack, Tenant, wait_for


@dataclass
class World:
    stack: Stack
    tenant: Tenant
    env: dict[str, str]
    cwd: Path
    rooms: dict[str, str]  # local part -> address (rooms only in Graph)
    board: str  # room already mapped to space "boardroom"
    ghost: str

    def cli(self, *args: str, **env: str) -> CliResult:
        return run_cli(*args, env={**self.env, **env}, cwd=self.cwd)


def storage(stack: Stack, read: Any) -> Any:
    async def go() -> Any:
        clients = build_clients(StorageSettings(connection_string=stack.azurite.connection_string))
        try:
            return await read(Repositories(clients.tables))
        finally:
            await clients.close()

    return asyncio.run(go())


@pytest.fixture(scope="module")
def world(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> World:
    t = stack.new_tenant()
    emulator = stack.emulator
    rooms = {}
    for local, name in (("atrium", "Atrium"), ("focus", "Focus Pod")):
        rooms[local] = t.address(local)
        emulator.add_mailbox(t.graph_tenant_id, rooms[local], name, "room", capacity=6)
    board = t.add_space("boardroom")  # mailbox + space; its subscription is made by the app
    assert board is not None
    ghost = t.add_ghost_space("ghost", "Ghost Room")  # its room mailbox does not exist

    def subscribed(repos: Repositories) -> Any:
        return repos.subscriptions.list(t.id)

    def states() -> dict[str, str]:
        return {r.mailbox: r.state.value for r in storage(stack, subscribed)}

    wait_for(lambda: states().get(board) == "active" and states().get(ghost) == "failing")
    cwd = tmp_path_factory.mktemp("cli-cwd")
    return World(stack, t, cli_env(stack), cwd, rooms, board, ghost)


def one_line_error(result: CliResult, code: int, *fragments: str) -> None:
    assert result.code == code, result
    assert "Traceback" not in result.err and "Traceback" not in result.out
    assert len(result.lines) == 1 and result.lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in result.lines[0], result.err


# -- bad input --------------------------------------------------------------------------
# (args, extra env, exit code, fragments of the one error line). Run concurrently: each
# case is its own process.
BAD_INPUT: list[tuple[tuple[str, ...], dict[str, str], int, tuple[str, ...]]] = [
    ((), {}, 2, ("required: COMMAND",)),
    (("frobnicate",), {}, 2, ("invalid choice",)),
    (("poison", "list", "bogus"), {}, 2, ("unknown queue 'bogus'",)),
    (("poison", "drop", "outbound"), {}, 2, ("without --yes",)),
    (("poison", "replay"), {}, 2, ("required: queue",)),
    (("onboard", "t-x"), {}, 2, ("--discover-rooms",)),
    (("subscriptions",), {}, 2, ("required: action",)),
    (("status", "no-such-tenant"), {}, 1, ("tenant no-such-tenant not found",)),
    (("resync", "no-such-tenant"), {}, 1, ("tenant no-such-tenant not found",)),
    (("onboard", "no-such-tenant", "--discover-rooms"), {}, 1, ("not found",)),
    (("--settings", "nowhere.json", "tenants"), {}, 1, ("nowhere.json not found",)),
    # no settings at all: every missing one named, in one line
    (("tenants",), {"GRAPH_CLIENT_ID": "", "WEBHOOK_BASE_URL": "", "AzureWebJobsStorage": ""},
     1, ("GRAPH_CLIENT_ID is missing", "WEBHOOK_BASE_URL is missing", "AzureWebJobsStorage")),
]  # fmt: skip


def test_bad_input_is_one_line_and_a_non_zero_exit(world: World):
    dead = (
        world.env["AzureWebJobsStorage"]
        .replace(f":{world.stack.azurite.table_port}/", ":9/")
        .replace(f":{world.stack.azurite.queue_port}/", ":9/")
    )
    cases = [
        *BAD_INPUT,
        (("resync", world.tenant.id, "no-such-room"), {}, 1, ("room no-such-room not found",)),
        (("tenants",), {"AzureWebJobsStorage": dead}, 1, ("storage unreachable",)),
    ]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda case: world.cli(*case[0], **case[1]), cases))
    for (args, _, code, fragments), result in zip(cases, results, strict=True):
        assert result.out == "", (args, result)
        one_line_error(result, code, *fragments)
        assert "AccountKey" not in result.err and "Eby8vdM02" not in result.err


def test_settings_come_from_local_settings_json(world: World, tmp_path: Path):
    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": world.env}))
    result = run_cli("tenants", "--json", env={}, cwd=tmp_path)
    assert result.code == 0, result
    assert world.tenant.id in {t["tenantId"] for t in json.loads(result.out)}


# -- tenants, onboard, status, resync ---------------------------------------------------
def test_tenants_lists_tenants(world: World):
    table = world.cli("tenants")
    assert table.code == 0, table
    assert world.tenant.id in table.out and "bidirectional" in table.out
    listed = {t["tenantId"]: t for t in json.loads(world.cli("tenants", "--json").out)}
    mine = listed[world.tenant.id]
    assert mine["graphTenantId"] == world.tenant.graph_tenant_id
    assert mine["rooms"] >= 2  # 4 once onboarding has run
    assert mine["subscriptions"]["failing"] == 1 and mine["subscriptions"]["active"] >= 1


def test_onboard_maps_rooms_to_spaces_and_subscribes_them(world: World):
    t = world.tenant
    dry = world.cli("onboard", t.id, "--discover-rooms", "--dry-run")
    assert dry.code == 0, dry
    assert "Dry run" in dry.out and world.rooms["atrium"] in dry.out
    assert storage(world.stack, lambda r: r.spaces.find(t.id, "atrium-" + t.tag)) is None

    result = world.cli("onboard", t.id, "--discover-rooms")
    assert result.code == 0, result
    assert "Subscribing rooms" in result.out and "3/3" in result.out  # the progress bar
    for address in (*world.rooms.values(), world.board):
        assert f"{address}: " in result.out
    assert "existing space; subscription active" in result.out  # the boardroom, kept

    spaces = {s.id: s for s in storage(world.stack, lambda r: r.spaces.list(t.id))}
    atrium = spaces[f"atrium-{t.tag}"]  # id from the address' local part
    assert atrium.name == "Atrium" and atrium.resource_email == world.rooms["atrium"]
    assert spaces[f"focus-{t.tag}"].name == "Focus Pod"
    assert "boardroom" in spaces and len(spaces) == 4  # + ghost; no duplicate for board
    records = {r.mailbox: r for r in storage(world.stack, lambda r: r.subscriptions.list(t.id))}
    for address in world.rooms.values():
        assert records[address].state.value == "active" and records[address].subscription_id

    again = world.cli("onboard", t.id, "--discover-rooms")
    assert again.code == 0 and again.out.count("existing space; subscription active") >= 3


def test_status_shows_each_room_and_the_failing_one(world: World):
    t = world.tenant
    result = world.cli("status", t.id, "--json")
    assert result.code == 0, result
    [tenant] = json.loads(result.out)["tenants"]
    rooms = {r["mailbox"]: r for r in tenant["rooms"]}
    ghost = rooms[world.ghost]
    assert ghost["state"] == "failing" and ghost["subscription"] == "failing"
    assert any("ErrorInvalidUser" in reason for reason in ghost["reasons"])
    board = rooms[world.board]
    assert board["subscription"] == "active" and board["subscriptionExpiresAt"]
    table = world.cli("status", t.id)
    assert table.code == 0 and "failing" in table.out and "Last delta" in table.out
    assert "Poison queues" in table.out


def test_resync_inline_one_room_all_rooms_and_queued(world: World):
    t = world.tenant
    one = world.cli("resync", t.id, "boardroom")
    assert one.code == 0, one
    assert "Full resync" in one.out and "1/1" in one.out and "items" in one.out
    state = storage(world.stack, lambda r: r.mailboxes.find(t.id, world.board))
    assert state is not None and state.value.last_sync_at is not None

    every = world.cli("resync", t.id)  # the ghost room fails: exit 1, others synced
    assert every.code == 1, every
    assert f"{world.ghost}: failed" in every.out and "ErrorInvalidUser" in every.out
    [line] = every.lines
    assert re.fullmatch(r"error: 1 of \d rooms failed to sync; see above", line)

    queued = world.cli("resync", t.id, world.board, "--enqueue")
    assert queued.code == 0 and "queued" in queued.out

    ghost = storage(world.stack, lambda r: r.mailboxes.find(t.id, world.ghost))
    assert ghost.value.consecutive_failures >= 1 and "ErrorInvalidUser" in ghost.value.last_error


# -- poison queues ----------------------------------------------------------------------
def _poison(stack: Stack, queue: str, content: str) -> str:
    client = QueueClient.from_connection_string(stack.azurite.connection_string, queue)
    try:
        client.create_queue()
    except Exception:
        pass
    return str(client.send_message(content).id)


def _peek(stack: Stack, queue: str) -> list[Any]:
    client = QueueClient.from_connection_string(stack.azurite.connection_string, queue)
    return list(client.peek_messages(max_messages=32))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_poison_list_replay_drop(world: World):
    t, stack = world.tenant, world.stack
    uni = stack.new_tenant("unidirectional")
    mailbox = uni.address("poisoned")
    notified = "2030-01-02T03:04:05+00:00"
    # As the host moves it after maxDequeueCount: the original content, untouched.
    raw_body = json.dumps({"tenantId": uni.id, "mailbox": mailbox, "notifiedAt": notified})
    raw_id = _poison(stack, "mailbox-sync-poison", _b64(raw_body))
    # As our to_poison wrapper writes it: {"reason", "body", "id"} around the original.
    marker = "not json " + uuid.uuid4().hex
    wrapped_id = _poison(stack, "mailbox-sync-poison", _b64(json.dumps(
        {"reason": "invalid MailboxSyncMessage", "body": marker, "id": "orig-1"})))  # fmt: skip

    listed = world.cli("poison", "list", "mailbox-sync", "--json")
    assert listed.code == 0, listed
    messages = {m["id"]: m for m in json.loads(listed.out)["messages"]}
    assert messages[raw_id]["reason"] is None and uni.id in messages[raw_id]["body"]
    assert messages[wrapped_id]["body"] == marker
    assert messages[wrapped_id]["originalId"] == "orig-1"
    assert messages[wrapped_id]["dequeueCount"] >= 0 and messages[wrapped_id]["insertedAt"]
    table = world.cli("poison", "list", "mailbox-sync-poison")  # either name works
    assert table.code == 0 and raw_id in table.out and "(host: maxDequeueCount)" in table.out

    replay = world.cli("poison", "replay", "mailbox-sync", raw_id, wrapped_id)
    assert replay.code == 0, replay
    assert "2 message(s)" in replay.out

    # The host-moved message ran with its exact body: the worker noted its notifiedAt.
    def noted() -> Any:
        found = storage(stack, lambda r: r.mailboxes.find(uni.id, mailbox))
        return found and found.value.last_notification_at

    assert wait_for(noted).isoformat() == notified

    # The wrapped one went back as its *original* body, so it is poisoned again with
    # that body (not a wrapper inside a wrapper).
    def repoisoned() -> list[str]:
        return [m.id for m in _peek(stack, "mailbox-sync-poison")
                if json.loads(base64.b64decode(m.content)).get("body") == marker]  # fmt: skip

    [again_id] = wait_for(repoisoned, timeout=30, interval=0.3)
    listed = json.loads(world.cli("poison", "list", "mailbox-sync", "--json").out)
    [again] = [m for m in listed["messages"] if m["id"] == again_id]
    assert again["body"] == marker and again["reason"].startswith("invalid MailboxSyncMessage")

    dropped = world.cli("poison", "drop", "mailbox-sync", again["id"], "--yes")
    assert dropped.code == 0 and "Dropped 1 message(s)" in dropped.out
    assert again["id"] not in {m.id for m in _peek(stack, "mailbox-sync-poison")}
    one_line_error(world.cli("poison", "replay", "mailbox-sync", again["id"]), 1, "not found")
    assert t.id  # the module's tenant is untouched by poison work


# -- subscriptions ----------------------------------------------------------------------
def test_subscriptions_renew_lists_due_then_renews_now(world: World):
    t = world.tenant
    due = world.cli("subscriptions", "renew")
    assert due.code == 0, due
    assert world.ghost in due.out and "renew --now" in due.out

    def ghost_failures(repos: Repositories) -> Any:
        return repos.subscriptions.find(t.id, world.ghost)

    before = storage(world.stack, ghost_failures).value.consecutive_failures
    now = world.cli("subscriptions", "renew", "--now", "--here")
    # The ghost room can't be subscribed (no such mailbox): reported, exit 1.
    assert now.code == 1, now
    assert "Subscription renewal" in now.out
    assert now.lines[0].startswith("error: ") and "failed" in now.lines[0]
    after = storage(world.stack, ghost_failures).value
    assert after.consecutive_failures > before and after.state.value == "failing"

    # Without --here the function app does it (the path that exists in Azure too).
    queued = world.cli("subscriptions", "renew", "--now")
    assert queued.code == 0, queued
    assert '"kind": "renewAll"' in queued.out and '"force": true' in queued.out
    wait_for(lambda: storage(world.stack, ghost_failures).value.consecutive_failures
             > after.consecutive_failures, timeout=30)  # fmt: skip
    one_line_error(world.cli("subscriptions", "renew", "--here"), 2, "--here goes with --now")


def test_reconcile_syncs_every_room_through_the_function_app(world: World):
    t = world.tenant

    def board_synced(repos: Repositories) -> Any:
        return repos.mailboxes.find(t.id, world.board)

    def last_sync() -> Any:
        found = storage(world.stack, board_synced)
        return found.value.last_sync_at if found else None

    before = last_sync()
    queued = world.cli("reconcile")
    assert queued.code == 0, queued
    assert '"kind": "reconcileAll"' in queued.out
    # forced: the room is synced again although it was synced moments ago
    wait_for(lambda: (now := last_sync()) is not None and (before is None or now > before),
             timeout=30)  # fmt: skip
    here = world.cli("reconcile", "--here")
    assert here.code == 0 and "Queued syncs of" in here.out, here


def test_times_are_relative_to_the_app_clock(world: World):
    """The local stack's app follows the emulator's virtual clock; so does the CLI when
    the same setting (FUNCTIONS_HOST_CLOCK_URL) is there, e.g. in local.settings.json."""
    t, emulator = world.tenant, world.stack.emulator
    virtual = emulator.clock_advance(2 * 3600)  # at least 2 h ahead of real time
    clock = {"FUNCTIONS_HOST_CLOCK_URL": f"{emulator.base_url}/_emulator/clock",
             "FUNCTIONS_HOST_CLOCK_CA": emulator.ca_path}  # fmt: skip
    following = world.cli("status", t.id, "--json", **clock)
    assert following.code == 0, following
    generated = datetime.fromisoformat(json.loads(following.out)["generatedAt"])
    assert abs((generated - virtual).total_seconds()) < 60, (generated, virtual)
    # The subscription expiry reads the same as on the status page: from virtual now.
    [tenant] = json.loads(following.out)["tenants"]
    board = next(r for r in tenant["rooms"] if r["mailbox"] == world.board)
    expires = datetime.fromisoformat(board["subscriptionExpiresAt"])
    table = world.cli("status", t.id, **clock)
    assert f"(in {human_span((expires - generated).total_seconds())})" in table.out, table.out
    # Without the setting (as in Azure): real time.
    real = world.cli("status", t.id, "--json")
    now = datetime.fromisoformat(json.loads(real.out)["generatedAt"])
    assert abs((now - datetime.now(UTC)).total_seconds()) < 60
    bad = world.cli("status", t.id, FUNCTIONS_HOST_CLOCK_URL="ftp://x")
    one_line_error(bad, 1, "FUNCTIONS_HOST_CLOCK_URL must be an http(s) URL")
