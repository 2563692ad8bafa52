"""`make bench`: run every benchmark, print their summary lines, record them with the
machine in BENCHMARKS.md; exit non-zero if any missed its target.

Each script measures both sides of every ratio it prints in the same run."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCHES = ("cold_start", "graph_cost", "ingress", "convergence", "scale_out", "scale")
WHAT = {
    "cold_start": "a fresh app process: import, first validation answer, first notification",
    "graph_cost": "Graph requests per change of this design vs the per-notification design, "
    "both run on the same bursts (bench/baseline_worker.py), each $batch item counted",
    "ingress": "the webhook vs a bare validate + one queue write server, same senders, "
    "normal and slowed storage",
    "convergence": "time until an Outlook change is in Bookker, lost notifications at "
    "random, vs RECONCILE_INTERVAL_MINUTES",
    "scale_out": "a notification storm on 1, 2 and 3 instances: throughput ratio and Graph "
    "requests per change",
    "scale": "10,000 rooms over 30 virtual days with the real renewal timer, observed by "
    "the Graph emulator; listing memory of 1,000 vs 10,000 events",
}
REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} cores, {mem} RAM, {platform.platform()}, "
            f"Python {platform.python_version()}")  # fmt: skip


def main() -> int:
    lines, failed = [], []
    for name in BENCHES:
        print(f"bench: running {name} ...", flush=True)
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", f"bench.{name}"], cwd=REPO, capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        summary = [ln for ln in proc.stdout.splitlines() if ln.startswith(f"{name}:")]
        line = summary[-1] if summary else f"{name}: no result ({proc.stderr.strip()[-300:]})"
        if proc.returncode != 0:
            failed.append(name)
            line += "  [TARGET MISSED]"
            print(proc.stderr.strip()[-2000:], file=sys.stderr, flush=True)
        print(f"{line}  ({time.monotonic() - started:.0f} s)", flush=True)
        lines.append(f"{WHAT[name]}:\n  `{line}`")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(f"- {ln}" for ln in lines)
    (REPO / "BENCHMARKS.md").write_text(
        "# Benchmarks\n\nMeasured by `make bench`: each script runs both sides of every "
        "comparison it prints in the same run (see `bench/` for how), and `make bench` "
        "fails when a target is missed.\n\n"
        f"Last run: {stamp} on {machine()}.\n\n{body}\n"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
