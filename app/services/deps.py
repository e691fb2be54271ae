"""What use cases receive from the running app: one object, built once (`app.wiring`).

Use cases take `deps` and ask it for the time (`deps.clock()`, timezone-aware UTC), a Factorial
client (`deps.clients(environment)`), the refresh policy and the notifier. Pure rules (is this
token due? usable?) take the `now` they judge at.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.refresh.policy import ClientFactory, Clock, RefreshPolicy
from app.services.notify import Notifier


@dataclass(frozen=True)
class Deps:
    clients: ClientFactory
    clock: Clock
    policy: RefreshPolicy
    notifier: Notifier
    wait: float = 15.0  # how long a caller waits out another process's refresh, in seconds
