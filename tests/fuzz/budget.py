"""The fuzz budget: hypothesis settings per test, and how many cases each test ran
(pytest's terminal summary prints them, see conftest.py)."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, Phase, settings

CASES: Counter[str] = Counter()


def count(test: str) -> None:
    CASES[test] += 1


def fuzz(max_examples: int) -> settings:
    """Per-test settings on top of the loaded profile (derandomized under CI): no
    deadline (calls go through the local host), no database replay, no target phase,
    and no health checks about big or slow-to-generate inputs, which are the point."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
