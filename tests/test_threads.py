"""The engine under threads: leaf gradients accumulated from two threads lose no update."""

from __future__ import annotations

import threading

import numpy as np

import tinygrad_bp as tg


def test_two_threads_backward_into_shared_leaves_lose_no_update() -> None:
    # Large enough that NumPy releases the GIL inside `grad += g`: without a lock, two
    # read-modify-write updates interleave and one of them is lost.
    w = tg.Tensor(np.zeros(200_000), requires_grad=True)
    x = np.ones(200_000)
    steps = 100
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(steps):
                (w * x).sum().backward()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    np.testing.assert_array_equal(w.grad, np.full(200_000, 2.0 * steps))


def test_grad_mode_is_per_thread() -> None:
    seen = {}

    def other() -> None:
        seen["enabled"] = tg.is_grad_enabled()

    with tg.no_grad():
        t = threading.Thread(target=other)
        t.start()
        t.join(timeout=10)
    assert seen["enabled"] is True
