"""Issue 20 (nn/optim half): the learning-rate schedulers and RMSprop against PyTorch,
value for value over many steps."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp.optim import lr_scheduler as S

torch = pytest.importorskip("torch")
TS = torch.optim.lr_scheduler


def _pair(opt_name: str = "SGD", groups: int = 2, **kw):
    """The same optimizer in both libraries, ``groups`` parameter groups of lr 0.1, 0.3."""
    ours = [tg.Tensor(np.ones(2), requires_grad=True) for _ in range(groups)]
    theirs = [torch.ones(2, requires_grad=True) for _ in range(groups)]
    lrs = [0.1, 0.3][:groups]
    o = getattr(tg.optim, opt_name)([{"params": [p], "lr": lr} for p, lr in zip(ours, lrs)], **kw)
    t = getattr(torch.optim, opt_name)(
        [{"params": [p], "lr": lr} for p, lr in zip(theirs, lrs)], **kw
    )
    return o, t


def _run(o, t, so, st, steps: int, metric=None):
    seen = []
    for i in range(steps):
        o.step()
        t.step()
        if metric is None:
            so.step()
            st.step()
        else:
            so.step(metric(i))
            st.step(metric(i))
        ours = [g["lr"] for g in o.param_groups]
        theirs = [g["lr"] for g in t.param_groups]
        assert ours == theirs, (i, ours, theirs)  # to the last bit
        assert so.get_last_lr() == st.get_last_lr()
        seen.append(ours[0])
    return seen


CASES = {
    "LambdaLR": (lambda o: S.LambdaLR(o, lambda e: 0.95**e + 0.01 * (e % 3)),
                 lambda t: TS.LambdaLR(t, lambda e: 0.95**e + 0.01 * (e % 3))),
    "LambdaLR-per-group": (lambda o: S.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 0.9**e]),
                           lambda t: TS.LambdaLR(t, [lambda e: 1 / (e + 1), lambda e: 0.9**e])),
    "MultiStepLR": (lambda o: S.MultiStepLR(o, [3, 7, 7, 20], gamma=0.3),
                    lambda t: TS.MultiStepLR(t, [3, 7, 7, 20], gamma=0.3)),
    "ExponentialLR": (lambda o: S.ExponentialLR(o, 0.93), lambda t: TS.ExponentialLR(t, 0.93)),
    "LinearLR": (lambda o: S.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=13),
                 lambda t: TS.LinearLR(t, start_factor=0.2, end_factor=0.9, total_iters=13)),
    "CosineAnnealingWarmRestarts": (
        lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.001),
        lambda t: TS.CosineAnnealingWarmRestarts(t, T_0=5, T_mult=2, eta_min=0.001)),
    "CosineAnnealingWarmRestarts-1": (
        lambda o: S.CosineAnnealingWarmRestarts(o, T_0=7),
        lambda t: TS.CosineAnnealingWarmRestarts(t, T_0=7)),
    "OneCycleLR": (lambda o: S.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=60),
                   lambda t: TS.OneCycleLR(t, max_lr=[1.0, 2.0], total_steps=60)),
    "OneCycleLR-linear-3phase": (
        lambda o: S.OneCycleLR(o, max_lr=0.5, epochs=6, steps_per_epoch=10,
                               anneal_strategy="linear", three_phase=True, pct_start=0.25),
        lambda t: TS.OneCycleLR(t, max_lr=0.5, epochs=6, steps_per_epoch=10,
                                anneal_strategy="linear", three_phase=True, pct_start=0.25)),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_scheduler_values_equal_torch(name: str) -> None:
    make_o, make_t = CASES[name]
    o, t = _pair("SGD", momentum=0.9)
    so, st = make_o(o), make_t(t)
    assert [g["lr"] for g in o.param_groups] == [g["lr"] for g in t.param_groups]
    steps = 59 if name.startswith("OneCycle") else 60
    _run(o, t, so, st, steps)
    if name.startswith("OneCycle"):  # the momentum cycles too
        assert [g["momentum"] for g in o.param_groups] == [g["momentum"] for g in t.param_groups]


def test_one_cycle_cycles_adams_beta1_and_refuses_extra_steps() -> None:
    o, t = _pair("Adam", groups=1)
    so, st = S.OneCycleLR(o, max_lr=0.01, total_steps=20), TS.OneCycleLR(t, 0.01, total_steps=20)
    for _ in range(20):
        o.step()
        t.step()
        assert o.param_groups[0]["betas"] == t.param_groups[0]["betas"]
        if so.last_epoch < 20:
            so.step()
            st.step()
    with pytest.raises(ValueError, match="OneCycleLR: stepped 21 times"):
        so.step()


@pytest.mark.parametrize("milestones", [[4], [3, 9]])
def test_sequential_lr_equals_torch(milestones: list[int]) -> None:
    o, t = _pair("SGD")
    subs_o = [S.LinearLR(o, start_factor=0.1, total_iters=4), S.ExponentialLR(o, 0.9)]
    subs_t = [TS.LinearLR(t, start_factor=0.1, total_iters=4), TS.ExponentialLR(t, 0.9)]
    if len(milestones) == 2:
        subs_o.append(S.CosineAnnealingLR(o, T_max=6))
        subs_t.append(TS.CosineAnnealingLR(t, T_max=6))
    so = S.SequentialLR(o, subs_o, milestones)
    st = TS.SequentialLR(t, subs_t, milestones)
    assert [g["lr"] for g in o.param_groups] == [g["lr"] for g in t.param_groups]
    _run(o, t, so, st, 30)


@pytest.mark.parametrize(
    "kw",
    [
        dict(patience=2, factor=0.5),
        dict(mode="max", patience=1, cooldown=2, threshold_mode="abs", threshold=0.05),
        dict(patience=0, min_lr=[0.02, 0.05], factor=0.3),
    ],
)
def test_reduce_lr_on_plateau_equals_torch(kw: dict) -> None:
    o, t = _pair("SGD")
    so, st = S.ReduceLROnPlateau(o, **kw), TS.ReduceLROnPlateau(t, **kw)
    losses = np.random.default_rng(0).random(40).round(1)  # ties and plateaus
    seen = _run(o, t, so, st, 40, metric=lambda i: float(losses[i]))
    assert min(seen) < 0.1  # the rate was lowered at least once
    assert so.num_bad_epochs == st.num_bad_epochs and so.best == st.best


def test_scheduler_state_dict_round_trip() -> None:
    o, _ = _pair("SGD")
    s1 = S.MultiStepLR(o, [2, 5])
    for _ in range(3):
        s1.step()
    o2, _ = _pair("SGD")
    s2 = S.MultiStepLR(o2, [2, 5])
    s2.load_state_dict(s1.state_dict())
    assert s2.last_epoch == 3 and s2.get_last_lr() == s1.get_last_lr()


BAD = [
    (lambda o: S.LinearLR(o, start_factor=0.0), ValueError, "LinearLR: start_factor"),
    (lambda o: S.MultiStepLR(o, 5), TypeError, "MultiStepLR: milestones"),
    (lambda o: S.ExponentialLR(o, "0.9"), TypeError, "ExponentialLR: gamma"),
    (lambda o: S.LambdaLR(o, 0.5), TypeError, "LambdaLR: lr_lambda"),
    (lambda o: S.LambdaLR(o, [lambda e: 1.0]), ValueError, "LambdaLR: expected 2"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0), ValueError, "OneCycleLR: give total_steps"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0 must be"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.5), ValueError, "factor must be < 1.0"),
    (lambda o: S.ReduceLROnPlateau(o, mode="lowest"), ValueError, "mode must be"),
    (lambda o: S.SequentialLR(o, [S.ExponentialLR(o, 0.9)], [3]), ValueError, "milestones"),
    (lambda o: S.SequentialLR(o, [S.ReduceLROnPlateau(o)], []), ValueError, "ReduceLROnPlateau"),
]


@pytest.mark.parametrize("make,exc,match", BAD)
def test_scheduler_bad_arguments_are_named(make, exc, match) -> None:
    o, _ = _pair("SGD")
    with pytest.raises(exc, match=match):
        make(o)


# ---------------------------------------------------------------- RMSprop
@pytest.mark.parametrize(
    "kw,bound",
    [
        ({}, 1e-15),  # 5e-15 before (operations in NumPy's order)
        (dict(momentum=0.9), 2e-15),
        (dict(centered=True), 2e-15),
        (dict(centered=True, momentum=0.5, weight_decay=0.1, maximize=True), 4e-15),
        # lerp's other branch; s − a² cancels, so every last-bit difference grows
        (dict(alpha=0.3, centered=True), 1e-13),
    ],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rmsprop_follows_torch_over_40_steps(kw: dict, bound: float, dtype: str) -> None:
    """PyTorch's order of operations: 40 steps agree to ~1e-15 relative in float64.
    What is left is PyTorch's fused multiply-adds, which NumPy has not."""
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((8, 8)).astype(dtype)
    grads = [
        (rng.standard_normal((8, 8)) * 10 ** rng.uniform(-3, 1, (8, 8))).astype(dtype)
        for _ in range(40)
    ]
    wt = torch.tensor(w0, requires_grad=True)
    ot = torch.optim.RMSprop([wt], lr=0.01, **kw)
    w = tg.Tensor(w0.copy(), requires_grad=True, dtype=dtype)
    o = tg.optim.RMSprop([w], lr=0.01, **kw)
    for g in grads:
        wt.grad = torch.tensor(g)
        ot.step()
        w.grad = g.copy()
        o.step()
    ref = wt.detach().numpy()
    rel = np.max(np.abs(w.data - ref) / np.abs(ref))
    assert w.data.dtype == ref.dtype
    # float32: PyTorch's vectorised float32 sqrt is not correctly rounded (it differs
    # from IEEE's, NumPy's, in the last bit for ~1 value in 6), so only float64 is close
    assert rel <= (bound if dtype == "float64" else 1e-4), rel
