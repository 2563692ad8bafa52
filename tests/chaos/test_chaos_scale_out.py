"""The chaos scenario on a scaled-out app: 3 host instances behind one webhook URL, on
one Azurite and one Graph emulator, one instance hard-killed halfway (the other two
carry on). Besides the oracle:

- no mailbox is ever synced by two runs at once (lease transitions are logged by every
  instance; the intervals of each mailbox's holders must not overlap; the killed
  instance's open intervals end when it died);
- no queue message is processed twice to effect: messages are redelivered (the killed
  instance's in-flight ones, retries), yet no booking exists twice and no booking has
  two Outlook events.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from tests.chaos.oracle import check
from tests.chaos.scenario import FAULTS, ChaosConfig, Scenario
from tests.support.functions_host import running_stack

SEED = int(os.environ.get("CHAOS_SEED", "44"))
KILL_LATENCY_MS = 400  # Graph's extra service time around the kill
OPERATIONS = int(os.environ.get("CHAOS_N", "160"))
LEASE_LINE = re.compile(r'^(\S+Z) .*msg="lease (taken|released): mailbox=(\S+) owner=(\w+)')
TRIGGER_LINE = re.compile(r"Trigger Details: queue (\S+), MessageId: (\S+), DequeueCount: (\d+)")
# Log lines are written right after each storage write returns: between a release and
# the next holder's "taken", a loaded machine may reorder the two lines by a little.
LOG_SKEW = 0.25


def lease_intervals(
    logs: list[Path], killed: Path, killed_at: float
) -> dict[str, list[tuple[float, float, str]]]:
    """mailbox → [(start, end, owner)] from every instance's log."""
    out: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for path in logs:
        open_: dict[str, tuple[float, str]] = {}
        for line in path.read_text(errors="replace").splitlines():
            m = LEASE_LINE.match(line)
            if not m:
                continue
            at = datetime.fromisoformat(m[1].replace("Z", "+00:00")).timestamp()
            if m[2] == "taken":
                open_[m[4]] = (at, m[3])
            elif m[4] in open_:
                start, mailbox = open_.pop(m[4])
                out[mailbox].append((start, at, m[4]))
        end = killed_at if path == killed else time.time()
        for owner, (start, mailbox) in open_.items():
            out[mailbox].append((start, end, owner))
    return out


def overlaps(intervals: dict[str, list[tuple[float, float, str]]]) -> list[str]:
    found = []
    for mailbox, spans in intervals.items():
        held_until, holder = 0.0, ""
        for start, end, owner in sorted(spans):
            if start < held_until - LOG_SKEW:
                found.append(f"{mailbox}: {holder[:8]} held it until {held_until:.3f}, "
                             f"{owner[:8]} took it at {start:.3f}")  # fmt: skip
            if end > held_until:
                held_until, holder = end, owner
    return found


def holding(log: Path) -> bool:
    """This instance is syncing a mailbox right now (a lease taken, not released)."""
    owners: set[str] = set()
    for line in log.read_text(errors="replace").splitlines():
        m = LEASE_LINE.match(line)
        if m:
            (owners.add if m[2] == "taken" else owners.discard)(m[4])
    return bool(owners)


def redelivered(logs: list[Path]) -> Counter[str]:
    seen: Counter[str] = Counter()
    for path in logs:
        for m in TRIGGER_LINE.finditer(path.read_text(errors="replace")):
            seen[f"{m[1]}/{m[2]}"] += 1
    return Counter({k: n for k, n in seen.items() if n > 1})


def double_effects(scenario: Scenario) -> list[str]:
    """No booking has two Outlook events (transactionId = booking id)."""
    problems = []
    for mailbox in scenario.users.values():
        events = scenario.outlook.call("GET", f"users/{mailbox}/events?$top=1000")["value"]
        made = Counter(e["transactionId"] for e in events if e.get("transactionId"))
        problems += [f"booking {b} has {n} Outlook events in {mailbox}"
                     for b, n in made.items() if n > 1]  # fmt: skip
    return problems


def test_chaos_on_three_instances_with_one_killed(tmp_path: Path) -> None:
    # The scenario moves the virtual clock up to 15 s at a time: a sync lease that
    # short could run out under a live holder between two renewals, which real time
    # never does. 60 s keeps the jumps inside one lease.
    env = {"FUNCTIONS_HOST_QUEUE_LEASE_SECONDS": "5", "SYNC_LEASE_SECONDS": "60"}
    with running_stack(env, instances=3) as stack:
        assert stack.cluster is not None
        logs = [h.child.log_path for h in stack.cluster.hosts]
        killed_at: list[float] = []
        kill = stack.kill_host

        def kill_and_note() -> None:
            # Mid-sync: then its queue message comes back to another instance and its
            # lease must run out before anyone else syncs that room. Graph answers
            # slowly meanwhile, so a sync seen holding its lease is still at work when
            # the kill lands (syncs are quick enough to finish in between otherwise).
            stack.emulator.set_faults(seed=SEED, **FAULTS, latencyMs=KILL_LATENCY_MS)
            try:
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and not holding(logs[0]):
                    scenario.outlook_create()  # work for the rooms
                    time.sleep(0.05)
                kill()
                killed_at.append(time.time())
            finally:
                stack.emulator.set_faults(seed=SEED, **FAULTS)

        stack.kill_host = kill_and_note  # type: ignore[method-assign]
        # No clock jumps of hours (leases would run out under live holders) and none of
        # the single-host crash faults: this test's fault is the instance killed.
        config = ChaosConfig(seed=SEED, operations=OPERATIONS, days=0, crash_faults=False)
        scenario = Scenario(stack, config)
        scenario.setup()
        scenario.run()
        scenario.settle()
        scenario.reconcile_pass()
        scenario.settle()
        problems = check(scenario)
        problems += double_effects(scenario)
        assert killed_at, "no instance was killed"
        intervals = lease_intervals(logs, logs[0], killed_at[0])
        problems += overlaps(intervals)
        again = redelivered(logs)
        syncs = sum(len(v) for v in intervals.values())
        owners = {o for v in intervals.values() for _, _, o in v}
        for i, path in enumerate(logs):  # kept for a failure's post-mortem
            shutil.copy(path, tmp_path / f"instance-{i}.log")
        print(f"\nchaos x3 seed={SEED} ops={OPERATIONS}: {syncs} lease intervals by "
              f"{len(owners)} runs over {len(intervals)} mailboxes, {len(again)} messages "
              f"processed more than once, at {datetime.now(UTC):%H:%M:%S}")  # fmt: skip
        assert syncs > 0
        assert again, "no message was redelivered: the kill did not catch work in flight"
        assert not problems, f"chaos x3 seed {SEED} failed:\n" + "\n".join(problems[:40])
