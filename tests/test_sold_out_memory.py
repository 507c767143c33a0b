"""The sold-out memory, with a fake clock (no I/O)."""

from __future__ import annotations

from common.sold_out import SoldOutMemory


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_remembers_until_ttl() -> None:
    clock = FakeClock()
    memory = SoldOutMemory(0.1, clock=clock)
    memory.note(7, 0)

    assert memory.sold_out(7, 1) == 0
    clock.now += 0.099
    assert memory.sold_out(7, 1) == 0
    clock.now += 0.002
    assert memory.sold_out(7, 1) is None


def test_smaller_request_not_answered() -> None:
    memory = SoldOutMemory(1.0, clock=FakeClock())
    memory.note(7, 2)

    assert memory.sold_out(7, 3) == 2
    assert memory.sold_out(7, 2) is None
    assert memory.sold_out(8, 3) is None


def test_forget_and_disabled() -> None:
    memory = SoldOutMemory(1.0, clock=FakeClock())
    memory.note(7, 0)
    memory.forget(7)
    disabled = SoldOutMemory(0, clock=FakeClock())
    disabled.note(7, 0)

    assert memory.sold_out(7, 1) is None
    assert disabled.sold_out(7, 1) is None
    assert not disabled.enabled
