"""Everything one emulator process holds, and what ``reset`` clears."""

from __future__ import annotations

from collections.abc import Callable

from .auth import TokenIssuer
from .clock import VirtualClock
from .delta import DeltaStore
from .faults import Faults
from .stats import Stats
from .throttling import Throttler
from .world import World


class Emulator:
    def __init__(self, token_lifetime: int = 3600) -> None:
        self.clock = VirtualClock()
        self.world = World(self.clock)
        self.issuer = TokenIssuer(lambda: self.world.directory, token_lifetime)
        self.throttler = Throttler()
        self.stats = Stats()
        self.deltas = DeltaStore()
        self.faults = Faults()
        # Periodic work besides meeting deliveries (issue 3: notification delivery).
        self.tickers: list[Callable[[], None]] = []

    def tick(self) -> None:
        """Run everything that is due on the virtual clock (called every few ms)."""
        self.world.pump()
        for ticker in list(self.tickers):
            ticker()

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self.throttler.configure(faults)
        self.world.propagation_delay = faults.propagationDelaySeconds

    def reset(self) -> None:
        """Empty world, real time, no faults, no stats (tokens already issued stay valid
        once their tenant is registered again)."""
        self.world.reset()
        self.clock.reset()
        self.deltas.reset()
        self.stats.reset()
        self.throttler.reset()
        self.set_faults(Faults())
