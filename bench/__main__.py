"""`make bench`: run every benchmark, print their summary lines, record them with the
machine in BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCHES = ("cold_start", "graph_cost", "ingress", "convergence", "scale")
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
        proc = subprocess.run(
            [sys.executable, "-m", f"bench.{name}"], cwd=REPO, capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        summary = [ln for ln in proc.stdout.splitlines() if ln.startswith(f"{name}:")]
        line = summary[-1] if summary else f"{name}: no result ({proc.stderr.strip()[-300:]})"
        if proc.returncode != 0:
            failed.append(name)
            line += "  [TARGET MISSED]"
        print(line, flush=True)
        lines.append(line)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(f"- `{ln}`" for ln in lines)
    (REPO / "BENCHMARKS.md").write_text(
        "# Benchmarks\n\nMeasured by `make bench` (each script prints one line of ratios "
        "measured in one run; see `bench/` for what each does).\n\n"
        f"Last run: {stamp} on {machine()}.\n\n{body}\n"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
