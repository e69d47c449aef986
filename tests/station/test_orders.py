"""An officer's order between console and service: claimed or abandoned, never both."""

from __future__ import annotations

import threading

import pytest

from egate.gate.events import OfficerAction
from station.orders import OfficerOrder, OrderState


def test_a_claimed_order_cannot_be_abandoned_and_settles_once() -> None:
    settled: list[OrderState] = []
    order = OfficerOrder(OfficerAction.CLOSE, on_settled=lambda: settled.append(order.state))
    assert (order.state, order.settled) == (OrderState.PENDING, False)
    assert order.claim()
    assert not order.abandon()
    assert not order.claim()  # one service step takes it, once
    assert not order.settled
    order.taken()
    assert (order.state, order.settled, order.reason) == (OrderState.TAKEN, True, None)
    assert settled == [OrderState.TAKEN]
    with pytest.raises(RuntimeError, match="only a claimed order"):
        order.refuse("too late")


@pytest.mark.parametrize(
    ("settle", "state"),
    [
        (lambda order: order.refuse("nobody inside"), OrderState.REFUSED),
        (lambda order: order.fail("nobody inside"), OrderState.FAILED),
    ],
)
def test_a_refused_or_failed_order_keeps_its_reason(settle, state: OrderState) -> None:
    order = OfficerOrder(OfficerAction.OPEN_EXIT)
    assert order.claim()
    settle(order)
    assert (order.state, order.reason, order.settled) == (state, "nobody inside", True)


def test_an_abandoned_order_cannot_be_claimed() -> None:
    settled: list[OrderState] = []
    order = OfficerOrder(OfficerAction.CLOSE, on_settled=lambda: settled.append(order.state))
    assert order.abandon()
    assert not order.claim()
    assert not order.abandon()
    assert settled == [OrderState.ABANDONED]
    with pytest.raises(RuntimeError):
        order.taken()


def race(order: OfficerOrder) -> tuple[bool, bool]:
    """Claim (in a thread) and abandon ``order`` at the same moment: who won."""
    start = threading.Barrier(2)
    claimed: list[bool] = []

    def claim() -> None:
        start.wait()
        claimed.append(order.claim())

    thread = threading.Thread(target=claim)
    thread.start()
    start.wait()
    abandoned = order.abandon()
    thread.join()
    return claimed[0], abandoned


def test_claim_and_abandon_racing_have_exactly_one_winner() -> None:
    for _ in range(500):
        order = OfficerOrder(OfficerAction.CLOSE)
        claimed, abandoned = race(order)
        assert claimed != abandoned
        assert order.state is (OrderState.CLAIMED if claimed else OrderState.ABANDONED)
