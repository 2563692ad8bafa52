"""Everything one emulator process holds, and what ``reset`` clears."""

from __future__ import annotations

from collections.abc import Callable

from .auth import TokenIssuer
from .clock import VirtualClock
from .consent import ConsentBook
from .delta import DeltaStore
from .faults import Faults
from .lost_answers import AnswerRules, Freezer
from .notifications import Notifier
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
        self.answer_rules = AnswerRules()
        self.freezer = Freezer()
        self.consent = ConsentBook()
        self.notifier = Notifier(self.world, self.clock, self.stats)
        # Periodic work besides meeting deliveries: notification delivery, expiry.
        self.tickers: list[Callable[[], None]] = [self.notifier.tick]

    def tick(self) -> None:
        """Run everything that is due on the virtual clock (called every few ms)."""
        self.world.pump()
        for ticker in list(self.tickers):
            ticker()

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self.throttler.configure(faults)
        self.world.propagation_delay = faults.propagationDelaySeconds
        self.notifier.configure(faults)

    def reset(self) -> None:
        """Empty world, real time, no faults (nor pending lost answers or freeze), no
        stats, no subscriptions, no consent decisions (tokens already issued stay valid
        once their tenant is registered again)."""
        self.notifier.reset()
        self.world.reset()
        self.clock.reset()
        self.deltas.reset()
        self.stats.reset()
        self.throttler.reset()
        self.answer_rules.reset()
        self.freezer.reset()
        self.consent.reset()
        self.set_faults(Faults())
