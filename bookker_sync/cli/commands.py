"""The CLI's commands: each runs use cases from bookker_sync.sync and prints the result.

Imported only once the command line is known to be valid (it pulls in the Graph SDK and
the storage clients, which take a moment to import).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from bookker_sync.cli import render
from bookker_sync.cli.app_clock import follow_app_clock
from bookker_sync.cli.errors import EXIT_FAILED, EXIT_OK, error
from bookker_sync.settings import load_settings
from bookker_sync.storage.repositories import ApiClient
from bookker_sync.sync.events import push
from bookker_sync.sync.ops import api_clients, offboarding, run_now
from bookker_sync.sync.ops import operator_commands as operator
from bookker_sync.sync.ops.status import events_status, status_report
from bookker_sync.sync.services import Services, close_services, services_for
from bookker_sync.sync.subscriptions.reconcile_timer import reconcile_all

# -- commands ----------------------------------------------------------------------------
Command = Callable[[Services, argparse.Namespace, Console], Awaitable[int]]


async def cmd_tenants(services: Services, args: argparse.Namespace, out: Console) -> int:
    summaries = await operator.list_tenants(services)
    if args.json:
        _json(render.tenants_json(summaries))
    elif not summaries:
        out.print("No tenants.")
    else:
        out.print(render.tenants_table(summaries))
    return EXIT_OK


async def cmd_onboard(services: Services, args: argparse.Namespace, out: Console) -> int:
    tenant, mappings = await operator.discover_rooms(services, args.tenant)
    if not mappings:
        out.print(f"No rooms found in Graph for tenant {tenant.id}.")
        return EXIT_OK
    out.print(render.mapping_table(mappings))
    if args.dry_run:
        out.print("Dry run: nothing changed.")
        return EXIT_OK
    with render.progress_bar(out, "Subscribing rooms", len(mappings)) as advance:
        report = await operator.onboard(services, tenant, mappings, advance)
    out.print(render.onboard_table(report))
    if report.failed:
        error(f"{len(report.failed)} of {len(report.rooms)} rooms failed; see above")
        return EXIT_FAILED
    return EXIT_OK


async def cmd_status(services: Services, args: argparse.Namespace, out: Console) -> int:
    report = await status_report(services, args.tenant)
    if args.json:
        _json(render.status_json(report))
        return EXIT_OK
    if not report.tenants:
        out.print("No tenants.")
    for part in render.status_tables(report):
        out.print(part)
    return EXIT_OK


async def cmd_resync(services: Services, args: argparse.Namespace, out: Console) -> int:
    spaces = await operator.rooms_of(services, args.tenant, args.room)
    if not spaces:
        out.print(f"Tenant {args.tenant} has no rooms with a room mailbox.")
        return EXIT_OK
    title = "Queueing full syncs" if args.enqueue else "Full resync"
    with render.progress_bar(out, title, len(spaces)) as advance:
        outcomes = await operator.resync(
            services, args.tenant, spaces, enqueue=args.enqueue, progress=advance
        )
    out.print(render.resync_table(args.tenant, outcomes))
    failed = [o for o in outcomes if not o.ok]
    if failed:
        error(f"{len(failed)} of {len(outcomes)} rooms failed to sync; see above")
        return EXIT_FAILED
    return EXIT_OK


async def cmd_poison(services: Services, args: argparse.Namespace, out: Console) -> int:
    queue = operator.resolve_queue(args.queue)
    if args.action == "list":
        depth, messages = await operator.poison_list(services, queue, args.limit)
        if args.json:
            _json(render.poison_json(queue, depth, messages))
        elif not messages:
            out.print(f"{queue}-poison is empty.")
        else:
            out.print(render.poison_table(queue, depth, messages))
        return EXIT_OK
    if args.action == "replay":
        result = await operator.poison_replay(services, queue, args.ids)
        verb = f"replayed to {queue}:"
    else:
        result = await operator.poison_drop(services, queue, args.ids)
        verb = "dropped"
    out.print(render.poison_result(verb.capitalize(), result))
    if result.missing:
        error(f"not found in {result.queue}: {', '.join(result.missing)}")
        return EXIT_FAILED
    return EXIT_OK


async def cmd_subscriptions(services: Services, args: argparse.Namespace, out: Console) -> int:
    if not args.now:
        due = await operator.due_subscriptions(services)
        now = services.clock.now()
        table = Table(title=f"{len(due)} subscription(s) due for renewal or recreation")
        for column in ("Tenant", "Room mailbox", "State", "Expires", "Last error"):
            table.add_column(column)
        for r in due:
            expires = render.when(r.expires_at, now) if r.expires_at else "-"
            table.add_row(
                render.text(r.tenant_id), render.text(r.mailbox), r.state.value, expires,
                render.text(r.last_error or "-"),
            )  # fmt: skip
        out.print(table)
        out.print("Run `subscriptions renew --now` to renew them now.")
        return EXIT_OK
    if not args.here:
        message = await run_now.request_run_now(services, "renewAll")
        out.print(f"Queued on lifecycle: {json.dumps(message.to_json())}; the function app "
                  "renews every due subscription (see `status`).")  # fmt: skip
        return EXIT_OK
    with out.status("Renewing subscriptions..."):
        report = await operator.renew_now(services)
    out.print(render.renewal_table(report))
    if report.failed or report.needs_consent:
        error(f"{report.failed} failed, {report.needs_consent} need admin consent")
        return EXIT_FAILED
    return EXIT_OK


async def cmd_clients(services: Services, args: argparse.Namespace, out: Console) -> int:
    if args.action == "grant":
        client = await api_clients.grant(
            services, args.client, args.tenants, all_tenants=args.all_tenants, note=args.note
        )
        out.print(f"{client.client_id}: {_scope(client)}")
        return EXIT_OK
    if args.action == "revoke":
        left = await api_clients.revoke(services, args.client, args.tenants)
        out.print(f"{args.client}: {_scope(left) if left else 'removed'}")
        return EXIT_OK
    registered = await api_clients.list_clients(services)
    if args.json:
        _json([c.model_dump(mode="json") for c in registered])
        return EXIT_OK
    table = Table(title=f"{len(registered)} API client(s)")
    for column in ("Client app id", "Tenants", "Note"):
        table.add_column(column)
    for c in registered:
        table.add_row(render.text(c.client_id), render.text(_scope(c)), render.text(c.note))
    out.print(table)
    return EXIT_OK


def _scope(client: ApiClient) -> str:
    if client.all_tenants:
        return "all tenants"
    return ", ".join(client.tenants) or "no tenants"


async def cmd_reconcile(services: Services, args: argparse.Namespace, out: Console) -> int:
    if args.here:
        report = await reconcile_all(services, force=True)
        out.print(f"Queued syncs of {report.enqueued} of {report.rooms} room(s); "
                  f"{report.ensured} subscription(s) to (re)create.")  # fmt: skip
        return EXIT_OK
    message = await run_now.request_run_now(services, "reconcileAll")
    out.print(f"Queued on lifecycle: {json.dumps(message.to_json())}; the function app "
              "syncs every room (see `status`).")  # fmt: skip
    return EXIT_OK


async def cmd_events(services: Services, args: argparse.Namespace, out: Console) -> int:
    if args.action == "status":
        summaries = [] if args.tenant else await operator.list_tenants(services)
        tenants = [args.tenant] if args.tenant else [s.tenant.id for s in summaries]
        found = [(t, await events_status(services, t)) for t in tenants]
        if args.json:
            _json({"push": [{"tenantId": t, **render.events_json(e)} for t, e in found]})
        else:
            for tenant_id, status in found:
                out.print(f"{tenant_id}: {render.events_json(status)}")
        return EXIT_OK
    if args.action == "dead-letters":
        letters = await push.dead_letters(services, args.tenant)
        if args.json:
            _json(render.dead_letters_json(letters))
        else:
            out.print(render.dead_letters_table(letters))
        return EXIT_OK
    result = await push.replay_dead_letters(services, args.tenant, args.seqs or None)
    out.print(f"Replayed: {result.delivered} delivered.")
    if result.skipped or result.errors:
        error(result.skipped or "; ".join(result.errors))
        return EXIT_FAILED
    return EXIT_OK


async def cmd_offboard(services: Services, args: argparse.Namespace, out: Console) -> int:
    with render.progress_bar(
        out, f"Offboarding {args.tenant}", offboarding.offboard_steps(services)
    ) as advance:
        report = await offboarding.offboard(services, args.tenant, args.confirm, advance)
    total = sum(report.rows_deleted.values())
    out.print(
        f"Tenant {args.tenant} offboarded: {report.subscriptions_deleted} subscription(s) "
        f"deleted in Graph, {total} row(s) erased."
    )
    return EXIT_OK


COMMANDS: dict[str, Command] = {
    "clients": cmd_clients,
    "events": cmd_events,
    "offboard": cmd_offboard,
    "tenants": cmd_tenants,
    "onboard": cmd_onboard,
    "status": cmd_status,
    "resync": cmd_resync,
    "poison": cmd_poison,
    "subscriptions": cmd_subscriptions,
    "reconcile": cmd_reconcile,
}


def _json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


async def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    settings = load_settings(env)
    follow_app_clock(env)
    services = services_for(settings)
    try:
        await operator.check_storage(services)
        return await COMMANDS[args.command](services, args, render.console())
    finally:
        await close_services(services)
