"""Chaos convergence: nothing lost, doubled or orphaned, whatever Graph and Azure do.

`make test` runs 3 seeds x 200 operations over 5 rooms with every fault on;
`make chaos N=... SEED=...` runs bigger ones. A failing seed is printed for replay.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.chaos.oracle import check
from tests.chaos.scenario import ENV, ChaosConfig, Scenario
from tests.support.functions_host import running_stack

SEEDS = [int(os.environ["CHAOS_SEED"])] if os.environ.get("CHAOS_SEED") else [11, 22, 33]
OPERATIONS = int(os.environ.get("CHAOS_N", "200"))


@pytest.mark.parametrize("seed", SEEDS)
def test_chaos_converges(seed: int) -> None:
    config = ChaosConfig(seed=seed, operations=OPERATIONS)
    began = time.monotonic()
    phases: list[str] = []

    def phase(name: str) -> None:
        phases.append(f"{name} {time.monotonic() - began:.0f}s")

    with running_stack(ENV, persistent_storage=True) as stack:
        scenario = Scenario(stack, config)
        scenario.setup()
        phase("setup")
        scenario.run()
        phase("run")
        scenario.settle()
        scenario.reconcile_pass()
        scenario.settle()
        phase("settled")
        problems = check(scenario)
        phase("checked")
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(scenario.log.counts.items()))
        spent = ", ".join(f"{k} {v:.0f}s" for k, v in sorted(
            scenario.log.seconds.items(), key=lambda kv: -kv[1]))  # fmt: skip
        print(f"\nchaos seed={seed} ops={OPERATIONS}: {summary}\ntimes: {', '.join(phases)}"
              f"\nrun: {spent}")  # fmt: skip
        assert not problems, (
            f"chaos seed {seed} failed (replay: make chaos N={OPERATIONS} SEED={seed}):\n"
            + "\n".join(problems[:40])
        )
