"""An officer's order on its way from the console to the service, taken once or never.

The console and the service run in different threads, and the console has
a deadline: it must answer the officer before their client gives up.  An
``OfficerOrder`` settles the race between the two.  The service *claims* the
order before it acts on it; the console, at its deadline, *abandons* it.
Whichever comes first wins, under one lock, so an order the console has
reported as not taken can never be carried out afterwards, and an order the
service has claimed is always answered with what the service did with it.

::

    PENDING ──claim()──► CLAIMED ──taken()──► TAKEN
       │                    ├──refuse(why)──► REFUSED
       │                    └──fail(why)────► FAILED
       └──abandon()──► ABANDONED   (claim() then returns False)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import Enum

from egate.gate.events import OfficerAction


class OrderState(Enum):
    """Where an order is between the console and the service."""

    PENDING = "pending"
    CLAIMED = "claimed"
    TAKEN = "taken"
    REFUSED = "refused"
    FAILED = "failed"
    ABANDONED = "abandoned"


# The states the console can answer from; the order never leaves them.
SETTLED = frozenset({OrderState.TAKEN, OrderState.REFUSED, OrderState.FAILED, OrderState.ABANDONED})


class OfficerOrder:
    """One officer's ``action``; ``on_settled`` is called once it is settled (any thread)."""

    def __init__(self, action: OfficerAction, on_settled: Callable[[], None] | None = None) -> None:
        self.action = action
        self._on_settled = on_settled
        self._lock = threading.Lock()
        self._state = OrderState.PENDING
        self._reason: str | None = None

    def __repr__(self) -> str:
        return f"OfficerOrder({self.action.value}, {self._state.value})"

    @property
    def state(self) -> OrderState:
        """Where the order is now."""
        return self._state

    @property
    def settled(self) -> bool:
        """Whether the order's fate is known (taken, refused, failed or abandoned)."""
        return self._state in SETTLED

    @property
    def reason(self) -> str | None:
        """Why a refused or failed order was not carried out (one line)."""
        return self._reason

    def claim(self) -> bool:
        """The service takes the order in hand; False if the console gave up on it."""
        with self._lock:
            if self._state is not OrderState.PENDING:
                return False
            self._state = OrderState.CLAIMED
        return True

    def abandon(self) -> bool:
        """The console gives up; False if the service has claimed it already."""
        with self._lock:
            if self._state is not OrderState.PENDING:
                return False
            self._state = OrderState.ABANDONED
        self._notify()
        return True

    def taken(self) -> None:
        """The service carried the claimed order out."""
        self._settle(OrderState.TAKEN, None)

    def refuse(self, reason: str) -> None:
        """The service would not carry the claimed order out, because of ``reason``."""
        self._settle(OrderState.REFUSED, reason)

    def fail(self, reason: str) -> None:
        """The service broke down while carrying the claimed order out."""
        self._settle(OrderState.FAILED, reason)

    def _settle(self, state: OrderState, reason: str | None) -> None:
        with self._lock:
            if self._state is not OrderState.CLAIMED:
                raise RuntimeError(f"{self!r}: only a claimed order can become {state.value}")
            self._state = state
            self._reason = reason
        self._notify()

    def _notify(self) -> None:
        if self._on_settled is not None:
            self._on_settled()
