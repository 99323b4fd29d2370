"""Smoke test of the benchmark harness (``tinygrad-bp bench --smoke``).

It runs every installed implementation on the tutorial network (W1, float64) and an
MNIST-sized ReLU network (W2, float32) in worker processes, with one tiny timing block,
and checks that each ran and agreed with the hand-written NumPy backprop (losses and
weight updates after three steps).  It never asserts anything about time.
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from tinygrad_bp import _bench_impls as impls
from tinygrad_bp import bench


@pytest.fixture(scope="module")
def smoke_results():
    config = bench.BenchConfig(
        threads=[1],
        workloads=["W1", "W2"],
        rounds=1,
        block_seconds=0.005,
        check_steps=3,
        memory=True,
        smoke=True,
    )
    return bench.run(config, log=None)


def test_every_implementation_runs_and_agrees(smoke_results):
    res = smoke_results
    assert "numpy" in res["impls"] and "tinygrad_bp" in res["impls"]
    for name in ("torch", "mygrad", "autograd"):
        if name not in res["missing"]:
            assert name in res["impls"]
    for wl in ("W1", "W2"):
        for i in res["impls"]:
            if f"{i} {wl}" in res["skips"]:
                continue
            check = res["checks"][f"{i} 1 {wl}"]
            assert check["passed"], (i, wl, check)
            assert len(check["losses"]) == 3 and all(np.isfinite(check["losses"]))
            assert len(res["times"][f"{i} 1 {wl}"]) == 1  # it ran a timed block
            mem = res["memory"][f"{i} {wl}"]
            assert mem["traced"] > 0
    assert res["checks_passed"]


def test_the_engine_matches_hand_numpy_closely(smoke_results):
    # float64: the engine computes the same sums as the hand-written backprop
    check = smoke_results["checks"]["tinygrad_bp 1 W1"]
    assert check["loss"] < 1e-12 and check["update"] < 1e-9
    check = smoke_results["checks"]["tinygrad_bp 1 W2"]  # float32
    assert check["loss"] < 1e-5 and check["update"] < 1e-4


def test_the_page_has_every_section(smoke_results):
    page = bench.render_markdown(smoke_results)
    for heading in ("## 1 BLAS thread", "## Peak memory", "## Correctness check", "## Reproduce"):
        assert heading in page
    assert bench.REPRODUCE in page
    assert "steady allocator" in page
    assert "All passed: **yes**" in page


def test_a_wrong_update_is_caught():
    # the comparison that guards the timings: a 1% error in one weight update must fail
    w = impls.WORKLOADS["W1"]
    p = impls.make_problem(w)
    step, params = impls.build("numpy", w)
    losses = [step() for _ in range(3)]
    arrays = params()
    p0 = [a for W, b in zip(p.Ws, p.bs) for a in (W, b)]
    ref = {"losses": losses, "arrays": arrays}
    same = bench._compare(ref, {"losses": list(losses), "arrays": [a.copy() for a in arrays]}, p0)
    assert same == {"loss": 0.0, "update": 0.0}
    bad = [a.copy() for a in arrays]
    bad[0] = p0[0] + (arrays[0] - p0[0]) * 1.01
    dev = bench._compare(ref, {"losses": losses, "arrays": bad}, p0)
    assert dev["update"] > bench.TOLERANCE["float64"]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown workload"):
        bench.run(bench.BenchConfig(workloads=["W9"]), log=None)
    with pytest.raises(ValueError, match="threads"):
        bench.run(bench.BenchConfig(threads=[0]), log=None)


def test_the_command_line_defaults():
    parser = argparse.ArgumentParser()
    bench.configure(parser)
    config = bench.config_from_args(parser.parse_args([]))
    assert config.threads == [1, 2] and config.workloads == ["W1", "W2", "W3", "W4"]
    assert config.rounds == 9 and config.block_seconds == 0.5  # as --help says
    smoke = bench.config_from_args(parser.parse_args(["--smoke", "--threads", "1"]))
    assert smoke.rounds == 1 and smoke.block_seconds < 0.1 and smoke.threads == [1]


def test_a_cleared_grad_the_user_kept_is_never_changed_by_later_steps():
    # A training loop clears .grad and makes it again every step; a .grad (or a view of
    # it) that the user kept must keep its values, whatever the engine does with arrays.
    import tinygrad_bp as tg

    w = tg.Tensor(np.ones(1000), requires_grad=True)
    (w * w).sum().backward()
    kept = w.grad
    w.grad = None
    (w * 3).sum().backward()
    assert kept[0] == 2.0 and w.grad[0] == 3.0 and w.grad is not kept
    view = w.grad[:1]
    w.grad = None
    (w * 4).sum().backward()
    assert view[0] == 3.0 and w.grad[0] == 4.0
    w.grad = None
    (w * 5).sum().backward()
    (w * 1).sum().backward()  # accumulation into the reused array still adds
    assert np.all(w.grad == 6.0)


def test_every_round_times_hand_numpy_and_the_engine_back_to_back():
    names = ["numpy", "tinygrad_bp", "tutorial", "torch", "mygrad", "autograd"]
    steady = ["numpy~steady", "tinygrad_bp~steady"]
    firsts = []
    for r in range(12):
        order = bench._round_order(names, steady, r)
        assert sorted(order) == sorted(names + steady)
        i, j = order.index("numpy"), order.index("tinygrad_bp")
        assert abs(i - j) == 1
        assert abs(order.index("numpy~steady") - order.index("tinygrad_bp~steady")) == 1
        firsts.append(min(i, j) == i)
    assert firsts.count(True) == firsts.count(False)  # each goes first half of the time
    assert bench._round_order(["numpy", "torch"], [], 3) in (["numpy", "torch"], ["torch", "numpy"])
