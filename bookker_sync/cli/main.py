"""``python -m bookker_sync``: run Bookker Sync by hand.

Uses the app's own settings (environment variables, else ``local.settings.json`` in
the current folder, or ``--settings FILE``), so the same commands work against the
local stack (Azurite + Graph emulator) and against Azure.

Exit codes: 0 done; 1 failed (unknown tenant or room, storage unreachable, invalid
settings, Graph refused, some rooms failed); 2 bad command line.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any

from bookker_sync import log_context
from bookker_sync.cli.errors import EXIT_FAILED, EXIT_USAGE, UsageError, error

# The app's queues (storage.queues.APP_QUEUES; a test keeps the two equal). Named here
# so a bad queue name is reported before the storage SDK is even imported.
QUEUE_NAMES = ("mailbox-sync", "lifecycle", "outbound", "events-push")
QUEUES = "mailbox-sync, lifecycle, outbound or events-push"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, not usage + message
        raise UsageError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m bookker_sync",
        description="Operate Bookker Sync: tenants, room onboarding, status, resync, "
        "forced reconcile, poison queues, subscription renewal, API clients.",
        epilog="Exit codes: 0 done, 1 failed, 2 bad command line.",
    )
    p.add_argument("--settings", metavar="FILE", help="local.settings.json to read Values from")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    tenants = sub.add_parser("tenants", help="list tenants")
    tenants.add_argument("--json", action="store_true", help="JSON instead of a table")

    onboard = sub.add_parser("onboard", help="map a tenant's rooms to spaces and subscribe them")
    onboard.add_argument("tenant")
    onboard.add_argument(
        "--discover-rooms", action="store_true",
        help="list the tenant's rooms in Graph (/places/microsoft.graph.room)",
    )  # fmt: skip
    onboard.add_argument("--dry-run", action="store_true", help="show the mapping, change nothing")

    status = sub.add_parser("status", help="per room: subscription, last delta, lag, state")
    status.add_argument("tenant", nargs="?")
    status.add_argument("--json", action="store_true", help="JSON instead of tables")

    resync = sub.add_parser("resync", help="full resync of a tenant's rooms (or one room)")
    resync.add_argument("tenant")
    resync.add_argument("room", nargs="?", help="space id or room mailbox address")
    resync.add_argument(
        "--enqueue", action="store_true",
        help="queue the syncs for the workers instead of running them here",
    )  # fmt: skip

    poison = sub.add_parser("poison", help="poison queue messages: list, replay, drop")
    actions = poison.add_subparsers(dest="action", required=True, parser_class=_Parser)
    plist = actions.add_parser("list", help="show messages of <QUEUE>-poison")
    plist.add_argument("queue", help=QUEUES)
    plist.add_argument("--limit", type=int, default=32, help="at most 32 (a peek)")
    plist.add_argument("--json", action="store_true")
    replay = actions.add_parser("replay", help="move messages back to QUEUE (original body)")
    replay.add_argument("queue", help=QUEUES)
    replay.add_argument("ids", nargs="*", metavar="ID", help="only these (default: all)")
    drop = actions.add_parser("drop", help="delete messages of <QUEUE>-poison")
    drop.add_argument("queue", help=QUEUES)
    drop.add_argument("ids", nargs="*", metavar="ID", help="only these (default: all)")
    drop.add_argument("--yes", action="store_true", help="really delete")

    events = sub.add_parser("events", help="events pushed to Bookker: status, dead letters")
    ev_actions = events.add_subparsers(dest="action", required=True, parser_class=_Parser)
    ev_status = ev_actions.add_parser("status", help="per tenant: log position, push state")
    ev_status.add_argument("tenant", nargs="?")
    ev_status.add_argument("--json", action="store_true")
    ev_dead = ev_actions.add_parser("dead-letters", help="events given up after 24 h of tries")
    ev_dead.add_argument("tenant", nargs="?")
    ev_dead.add_argument("--json", action="store_true")
    ev_replay = ev_actions.add_parser("replay", help="push dead-lettered events again")
    ev_replay.add_argument("tenant")
    ev_replay.add_argument("seqs", nargs="*", type=int, metavar="SEQ", help="only these")

    offboard = sub.add_parser(
        "offboard", help="delete a tenant's subscriptions and every row of its data"
    )
    offboard.add_argument("tenant")
    offboard.add_argument("--confirm", metavar="TENANT", help="the tenant id again")

    subs = sub.add_parser("subscriptions", help="Graph subscriptions")
    subs_actions = subs.add_subparsers(dest="action", required=True, parser_class=_Parser)
    renew = subs_actions.add_parser("renew", help="show due subscriptions; --now renews them")
    renew.add_argument(
        "--now", action="store_true",
        help="renew / recreate every due subscription now, ignoring back-off: queued for "
        "the function app (queue lifecycle, kind renewAll)",
    )  # fmt: skip
    renew.add_argument(
        "--here", action="store_true", help="with --now: do it in this process and report"
    )

    reconcile = sub.add_parser(
        "reconcile", help="sync every room of every bidirectional tenant now, whatever its age"
    )
    reconcile.add_argument(
        "--here", action="store_true",
        help="queue the room syncs from this process instead of asking the function app "
        "(queue lifecycle, kind reconcileAll)",
    )  # fmt: skip

    clients = sub.add_parser(
        "clients", help="API clients (API_AUTH=entra): which tenants each client app may use"
    )
    client_actions = clients.add_subparsers(dest="action", required=True, parser_class=_Parser)
    clist = client_actions.add_parser("list", help="registered client apps and their tenants")
    clist.add_argument("--json", action="store_true")
    grant = client_actions.add_parser("grant", help="let a client app act for tenants")
    grant.add_argument("client", help="the client app's application (client) id: azp")
    grant.add_argument("tenants", nargs="*", metavar="TENANT", help="Bookker tenant ids")
    grant.add_argument("--all-tenants", action="store_true", help="every tenant (the backend)")
    grant.add_argument("--note", default="", help="who this client is")
    revoke = client_actions.add_parser("revoke", help="take tenants (or everything) away")
    revoke.add_argument("client")
    revoke.add_argument("tenants", nargs="*", metavar="TENANT", help="default: the whole client")
    return p


def _check(args: argparse.Namespace) -> None:
    """Input errors argparse can't see, found before settings or storage are touched."""
    granting = args.command == "clients" and args.action == "grant"
    if granting and not args.tenants and not args.all_tenants:
        raise UsageError("clients grant needs tenant ids or --all-tenants")
    if args.command == "onboard" and not args.discover_rooms:
        raise UsageError("onboard needs --discover-rooms (the only way to find rooms so far)")
    if args.command == "subscriptions" and args.here and not args.now:
        raise UsageError("--here goes with --now")
    if args.command == "offboard" and args.confirm != args.tenant:
        raise UsageError(f"offboarding erases everything: confirm with --confirm {args.tenant}")
    if args.command == "poison":
        queue = args.queue.strip().lower().removesuffix("-poison")
        if queue not in QUEUE_NAMES:
            raise UsageError(f"unknown queue {args.queue!r} (known: {', '.join(QUEUE_NAMES)})")
        if args.action == "drop" and not args.yes:
            what = f"{len(args.ids)} message(s)" if args.ids else "all messages"
            raise UsageError(f"refusing to delete {what} of {queue}-poison without --yes")


def _setup_logging(verbose: bool, env: dict[str, str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for noisy in ("azure", "httpx", "msal", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
    log_context.install(env)  # key=value lines, secrets and clientStates masked


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        _check(args)
    except UsageError as exc:
        error(str(exc))
        return EXIT_USAGE
    return _execute(args)


def _execute(args: argparse.Namespace) -> int:
    # Imported here: the command line is valid, now the SDKs are worth loading.
    from bookker_sync.cli.commands import run
    from bookker_sync.cli.settings_source import settings_env
    from bookker_sync.graph.errors import GraphError
    from bookker_sync.settings import SettingsError
    from bookker_sync.storage.errors import StorageError
    from bookker_sync.sync.errors import AppError, BadRequestError

    try:
        env = settings_env(args.settings)
        _setup_logging(args.verbose, env)
        return asyncio.run(run(args, env))
    except AppError as exc:
        error(exc.message)
        return EXIT_USAGE if isinstance(exc, BadRequestError) else EXIT_FAILED
    except (SettingsError, StorageError, GraphError) as exc:
        error(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        error("interrupted")
        return 130
