"""Every optimizer and option, param groups, state dicts and schedulers against torch.optim,
in float64, for hundreds of steps; and the errors on bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_bp as tg
from tinygrad_bp import optim
from tinygrad_bp.optim import lr_scheduler

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


STEPS = 200
CONFIGS = [
    ("SGD", dict(lr=0.05, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.02)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.05, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.003, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=0.003, momentum=0.9)),
    ("RMSprop", dict(lr=0.003, centered=True)),
    ("RMSprop", dict(lr=0.003, momentum=0.5, centered=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.003, maximize=True, weight_decay=0.01)),
]


def _grad_fn(p: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Depends on the parameters and never vanishes (see test_optim.py)."""
    return np.sign(A[:, 0]) * (1.0 + 0.5 * np.sin(A @ p + 3 * p))


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(6,), (6,), (4,)]
    init = [rng.normal(size=s) for s in shapes]
    mats = [np.eye(s[0]) * 0.5 + 0.1 * rng.normal(size=(s[0], s[0])) for s in shapes]
    return init, mats


def _feed(ours, theirs, mats, step):
    for i, (p, tp) in enumerate(zip(ours, theirs)):
        if i == 2 and step % 3 == 0:  # a parameter without a gradient is skipped
            if p is not None:
                p.grad = None
            if tp is not None:
                tp.grad = None
            continue
        if p is not None:
            p.grad = _grad_fn(p.data, mats[i])
        if tp is not None:
            tp.grad = torch.from_numpy(_grad_fn(tp.detach().numpy(), mats[i]))


def _pair(init):
    ours = [tg.Tensor(a, requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), dtype=torch.float64, requires_grad=True) for a in init]
    return ours, theirs


def _close(ours, theirs, atol=1e-10):
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=0, atol=atol)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_every_option_matches_torch(name, kwargs):
    init, mats = _problem()
    ours, theirs = _pair(init)
    opt = getattr(optim, name)(ours, **kwargs)
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for step in range(STEPS):
        _feed(ours, theirs, mats, step)
        opt.step()
        topt.step()
    _close(ours, theirs)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_param_groups_with_their_own_options_match_torch(name):
    init, mats = _problem(1)
    ours, theirs = _pair(init)
    extra = {"SGD": dict(momentum=0.9), "RMSprop": dict(momentum=0.5)}.get(name, {})

    def groups(ps):
        return [
            {"params": ps[:2], "lr": 0.02},
            {"params": [ps[2]], "lr": 0.005, "weight_decay": 0.1},
        ]

    opt = getattr(optim, name)(groups(ours), lr=0.01, **extra)
    topt = getattr(torch.optim, name)(groups(theirs), lr=0.01, **extra)
    assert [g["lr"] for g in opt.param_groups] == [0.02, 0.005]
    assert opt.param_groups[0]["weight_decay"] == topt.param_groups[0]["weight_decay"]
    for step in range(STEPS):
        _feed(ours, theirs, mats, step)
        opt.step()
        topt.step()
    _close(ours, theirs)


def test_add_param_group_and_named_parameters_match_torch():
    init, mats = _problem(2)
    ours, theirs = _pair(init)
    opt = optim.Adam([("a", ours[0])], lr=0.01)
    topt = torch.optim.Adam([("a", theirs[0])], lr=0.01)
    for step in range(50):
        _feed(ours[:1], theirs[:1], mats, step)
        opt.step()
        topt.step()
    with pytest.raises(ValueError, match="all parameter groups must be named"):
        opt.add_param_group({"params": ours[1:]})
    opt.add_param_group({"params": list(zip("bc", ours[1:])), "lr": 0.03})
    topt.add_param_group({"params": list(zip("bc", theirs[1:])), "lr": 0.03})
    assert opt.param_groups[0]["param_names"] == ["a"]
    assert opt.param_groups[1]["param_names"] == ["b", "c"]
    assert {"lr", "betas", "eps", "params", "param_names"} < set(opt.param_groups[1])
    assert set(opt.param_groups[1]) <= set(topt.param_groups[1])  # torch has foreach, ...
    for step in range(50, 150):
        _feed(ours, theirs, mats, step)
        opt.step()
        topt.step()
    _close(ours, theirs)


ROUND_TRIP = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.003, momentum=0.5, centered=True)),
]


@pytest.mark.parametrize("name,kwargs", ROUND_TRIP, ids=[n for n, _ in ROUND_TRIP])
def test_state_dict_round_trip_resumes_bit_identically(name, kwargs):
    init, mats = _problem(3)
    straight = [tg.Tensor(a, requires_grad=True) for a in init]
    first = [tg.Tensor(a, requires_grad=True) for a in init]
    opt_s = getattr(optim, name)(straight, **kwargs)
    opt_1 = getattr(optim, name)(first, **kwargs)
    for step in range(40):
        _feed(straight, [None] * 3, mats, step)
        opt_s.step()
        _feed(first, [None] * 3, mats, step)
        opt_1.step()
    saved = opt_1.state_dict()
    weights = [p.data.copy() for p in first]
    opt_1.step()  # later steps do not change the snapshot
    resumed = [tg.Tensor(w, requires_grad=True) for w in weights]
    opt_2 = getattr(optim, name)(resumed, lr=123.0)  # options come from the state dict
    opt_2.load_state_dict(saved)
    assert opt_2.param_groups[0]["lr"] == kwargs["lr"]
    for step in range(40, 140):
        _feed(straight, [None] * 3, mats, step)
        opt_s.step()
        _feed(resumed, [None] * 3, mats, step)
        opt_2.step()
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("name,kwargs", ROUND_TRIP, ids=[n for n, _ in ROUND_TRIP])
def test_state_dict_has_torchs_layout(name, kwargs):
    init, mats = _problem(4)
    ours, theirs = _pair(init)
    opt = getattr(optim, name)(ours, **kwargs)
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for step in range(5):
        _feed(ours, theirs, mats, step)
        opt.step()
        topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(k for k, v in tsd["state"].items() if v)
    for k, entry in sd["state"].items():
        assert set(entry) == set(tsd["state"][k])
        for key, v in entry.items():
            tv = tsd["state"][k][key]
            if key == "step":
                assert v == int(tv.item())
            else:
                np.testing.assert_allclose(v, tv.numpy(), rtol=1e-12, atol=1e-14)
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in tsd["param_groups"]]
    ours_keys = set(sd["param_groups"][0])
    theirs_keys = set(tsd["param_groups"][0])
    assert ours_keys <= theirs_keys, ours_keys - theirs_keys  # torch has foreach, fused, ...


def test_state_dict_of_torch_loads_and_continues_like_torch():
    init, mats = _problem(5)
    ours, theirs = _pair(init)
    topt = torch.optim.Adam(theirs, lr=0.01)
    for step in range(30):
        _feed([None] * 3, theirs, mats, step)
        topt.step()
    for p, tp in zip(ours, theirs):
        p.data[...] = tp.detach().numpy()
    tsd = topt.state_dict()
    sd = {
        "state": {
            k: {n: (int(v.item()) if n == "step" else v.numpy().copy()) for n, v in st.items()}
            for k, st in tsd["state"].items()
        },
        "param_groups": [
            {k: v for k, v in g.items() if k in ("lr", "betas", "eps", "weight_decay", "params")}
            for g in tsd["param_groups"]
        ],
    }
    opt = optim.Adam(ours)
    opt.load_state_dict(sd)
    for step in range(30, 130):
        _feed(ours, theirs, mats, step)
        opt.step()
        topt.step()
    _close(ours, theirs)


def test_zero_grad_set_to_none_and_in_place():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    u = tg.Tensor([3.0], requires_grad=True)
    opt = optim.SGD([w, u], lr=0.1)
    (w * w).sum().backward()
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and (g == 0).all()  # the same array, zeroed
    assert u.grad is None  # no gradient: stays None, as in PyTorch
    opt.zero_grad()
    assert w.grad is None


def test_step_reads_the_groups_lr_each_time():
    w = tg.Tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    w.grad = np.array([1.0])
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_allclose(w.data, [1.0 - 0.1 - 0.5])


def test_a_parameter_that_does_not_require_grad_is_accepted_and_skipped():
    frozen = tg.Tensor([1.0, 2.0])
    w = tg.Tensor([1.0], requires_grad=True)
    opt = optim.Adam([frozen, w], lr=0.1)
    w.grad = np.array([1.0])
    opt.step()
    np.testing.assert_array_equal(frozen.data, [1.0, 2.0])
    assert frozen not in opt.state and w in opt.state
    torch.optim.Adam([torch.zeros(2), torch.zeros(1, requires_grad=True)])  # torch agrees


def test_float32_parameters_stay_float32_and_follow_torch():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(5, 3)).astype(np.float32)
    for name in ("SGD", "Adam", "AdamW", "RMSprop"):
        kw = dict(lr=0.01, momentum=0.9) if name == "SGD" else dict(lr=0.01)
        p, tp = tg.Tensor(a, requires_grad=True), torch.tensor(a.copy(), requires_grad=True)
        opt, topt = getattr(optim, name)([p], **kw), getattr(torch.optim, name)([tp], **kw)
        for _ in range(20):
            g = np.cos(p.data * 3).astype(np.float32)
            p.grad, tp.grad = g, torch.from_numpy(g.copy())
            opt.step()
            topt.step()
            tp.data = torch.from_numpy(p.data.copy())  # compare one step at a time
        assert p.data.dtype == np.float32
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=0, atol=1e-6)


# ---------------------------------------------------------------------- schedulers

SCHEDULES = [
    ("StepLR", dict(step_size=7)),
    ("StepLR", dict(step_size=3, gamma=0.7)),
    ("StepLR", dict(step_size=1, gamma=0.97)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=25, eta_min=1e-3)),
    ("CosineAnnealingLR", dict(T_max=1, eta_min=0.01)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.05)),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULES, ids=[f"{n}-{k}" for n, k in SCHEDULES])
def test_schedules_match_torch_exactly_for_300_steps(name, kwargs):
    w, v = tg.Tensor([1.0], requires_grad=True), tg.Tensor([1.0], requires_grad=True)
    tw, tv = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = optim.SGD([{"params": [w]}, {"params": [v], "lr": 0.3}], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([{"params": [tw]}, {"params": [tv], "lr": 0.3}], lr=0.1, momentum=0.9)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    assert sched.get_last_lr() == tsched.get_last_lr()
    for _ in range(300):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == tsched.get_last_lr()  # bit for bit
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
        assert sched.last_epoch == tsched.last_epoch
    assert sched.base_lrs == tsched.base_lrs == [0.1, 0.3]


def test_cosine_differs_from_closed_form_as_torchs_does():
    """The recursion is what torch computes; a closed formula would be off in the last bits
    (this guards against replacing it with the textbook formula)."""
    w = tg.Tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=13, eta_min=0.001)
    diffs = []
    for e in range(1, 100):
        opt.step()
        sched.step()
        closed = 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * e / 13)) / 2
        diffs.append(sched.get_last_lr()[0] - closed)
    assert max(abs(d) for d in diffs) < 1e-12
    assert any(d != 0 for d in diffs)


@pytest.mark.parametrize("name,kwargs", SCHEDULES[::3], ids=[n for n, _ in SCHEDULES[::3]])
def test_scheduler_state_dict_resumes(name, kwargs):
    def make():
        w = tg.Tensor([1.0], requires_grad=True)
        opt = optim.Adam([w], lr=0.05)
        return opt, getattr(lr_scheduler, name)(opt, **kwargs)

    opt_a, sched_a = make()
    opt_b, sched_b = make()
    for _ in range(17):
        opt_a.step()
        sched_a.step()
    opt_b.load_state_dict(opt_a.state_dict())
    sched_b.load_state_dict(sched_a.state_dict())
    assert sched_b.last_epoch == 17
    for _ in range(60):
        for o, s in ((opt_a, sched_a), (opt_b, sched_b)):
            o.step()
            s.step()
        assert sched_a.get_last_lr() == sched_b.get_last_lr()
    sd = sched_a.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 77 and "base_lrs" in sd


def test_scheduler_resume_with_last_epoch_matches_torch():
    w = tg.Tensor([1.0], requires_grad=True)
    tw = torch.zeros(1, requires_grad=True)
    opt = optim.SGD([{"params": [w], "initial_lr": 0.1}], lr=0.04)
    topt = torch.optim.SGD([{"params": [tw], "initial_lr": 0.1}], lr=0.04)
    for name, kw in (("StepLR", dict(step_size=3)), ("CosineAnnealingLR", dict(T_max=9))):
        s = getattr(lr_scheduler, name)(opt, last_epoch=5, **kw)
        ts = getattr(torch.optim.lr_scheduler, name)(topt, last_epoch=5, **kw)
        for _ in range(30):
            assert s.get_last_lr() == ts.get_last_lr()
            opt.step()
            topt.step()
            s.step()
            ts.step()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(optim.SGD([w], lr=0.1), step_size=2, last_epoch=3)


# ---------------------------------------------------------------------- bad input

NAN = float("nan")
BAD_OPTIONS = [
    ("SGD", dict(lr=NAN), "lr"),
    ("SGD", dict(lr=float("inf")), "lr"),
    ("SGD", dict(lr=0.1, momentum=NAN), "momentum"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "momentum"),
    ("SGD", dict(lr=0.1, weight_decay=NAN), "weight_decay"),
    ("SGD", dict(lr=0.1, dampening=NAN), "dampening"),
    ("Adam", dict(lr=NAN), "lr"),
    ("Adam", dict(betas=(NAN, 0.9)), r"betas\[0\]"),
    ("Adam", dict(betas=(0.9, NAN)), r"betas\[1\]"),
    ("Adam", dict(betas=(-0.1, 0.9)), r"betas\[0\]"),
    ("Adam", dict(eps=NAN), "eps"),
    ("Adam", dict(eps=-1e-8), "eps"),
    ("Adam", dict(weight_decay=NAN), "weight_decay"),
    ("Adam", dict(weight_decay=-1.0), "weight_decay"),
    ("AdamW", dict(weight_decay=NAN), "weight_decay"),
    ("AdamW", dict(betas=(0.9, 1.5)), r"betas\[1\]"),
    ("AdamW", dict(lr=-0.1), "lr"),
    ("RMSprop", dict(alpha=NAN), "alpha"),
    ("RMSprop", dict(alpha=-0.1), "alpha"),
    ("RMSprop", dict(alpha=1.5), "alpha"),
    ("RMSprop", dict(eps=NAN), "eps"),
    ("RMSprop", dict(momentum=NAN), "momentum"),
    ("RMSprop", dict(momentum=-1.0), "momentum"),
    ("RMSprop", dict(weight_decay=NAN), "weight_decay"),
    ("RMSprop", dict(lr=NAN), "lr"),
]


@pytest.mark.parametrize("name,kwargs,label", BAD_OPTIONS, ids=[str(b) for b in BAD_OPTIONS])
def test_bad_options_are_refused_naming_optimizer_argument_and_value(name, kwargs, label):
    w = tg.Tensor([1.0], requires_grad=True)
    value = list(kwargs.values())[-1]  # the bad one is given last
    shown = repr(value) if not isinstance(value, tuple) else ""
    with pytest.raises(ValueError, match=rf"^{name}: {label} must be .*got {shown}"):
        getattr(optim, name)([w], **kwargs)
    # the same option given in a parameter group is checked too
    with pytest.raises(ValueError, match=rf"{name} \(param group 1\): {label}"):
        getattr(optim, name)([{"params": [tg.Tensor([1.0])]}, {"params": [w], **kwargs}])


def test_bad_params_are_refused():
    w = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.Adam([w * 2])
    kept = w * 2
    kept.retain_grad()
    optim.Adam([kept])  # a non-leaf that keeps its grad is allowed, as in PyTorch
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": w})
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD([{"params": {w}}], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or of dicts"):
        optim.SGD({"params": [w]}, lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 is a ndarray"):
        optim.SGD([w, np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="'params'"):
        opt.add_param_group({"lr": 0.1})
    with pytest.raises(TypeError, match="must be a dict"):
        opt.add_param_group([w])
    with pytest.raises(TypeError, match="positional"):
        optim.SGD([w], 0.1, 0.9, 0.0)
    with pytest.raises(TypeError, match="nesterov must be True or False"):
        optim.SGD([w], lr=0.1, momentum=0.9, nesterov="yes")
    with pytest.raises(ValueError, match="decoupled"):
        optim.AdamW([{"params": [w], "decoupled_weight_decay": False}])


def test_wrong_shape_gradient_is_refused_not_broadcast():
    for name in ("SGD", "Adam", "RMSprop"):
        w = tg.Tensor([1.0, 2.0], requires_grad=True)
        w.grad = np.array([1.0])
        with pytest.raises(RuntimeError, match=rf"{name}.step: .*shape \(2,\).*shape \(1,\)"):
            getattr(optim, name)([w], lr=0.1).step()


def test_load_state_dict_refuses_what_does_not_fit():
    w, u = tg.Tensor([1.0, 2.0], requires_grad=True), tg.Tensor([3.0], requires_grad=True)
    opt = optim.Adam([w, u], lr=0.1)
    w.grad, u.grad = np.ones(2), np.ones(1)
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.Adam([{"params": [w]}, {"params": [u]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([w]).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"has shape \(2,\), the parameter \(1,\)"):
        optim.Adam([u, w]).load_state_dict(sd)
    with pytest.raises(ValueError, match="does not use"):
        optim.SGD([w, u], lr=0.1).load_state_dict(sd)
    lacking = opt.state_dict()
    del lacking["state"][1]["exp_avg_sq"]
    with pytest.raises(ValueError, match=r"parameter 1 lacks \['exp_avg_sq'\]"):
        optim.Adam([w, u]).load_state_dict(lacking)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    bad = opt.state_dict()
    bad["param_groups"][0]["eps"] = NAN
    with pytest.raises(ValueError, match="eps must be"):
        opt.load_state_dict(bad)


def test_scheduler_bad_input():
    w = tg.Tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="StepLR: step_size must be a positive int"):
            lr_scheduler.StepLR(opt, step_size=bad)
        with pytest.raises(ValueError, match="CosineAnnealingLR: T_max must be a positive int"):
            lr_scheduler.CosineAnnealingLR(opt, T_max=bad)
    with pytest.raises(ValueError, match="gamma must be finite"):
        lr_scheduler.StepLR(opt, step_size=2, gamma=NAN)
    with pytest.raises(ValueError, match="eta_min must be finite"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=2, eta_min=NAN)
    with pytest.raises(ValueError, match="not state of a StepLR"):
        lr_scheduler.StepLR(opt, step_size=2).load_state_dict({"last_epoch": 1, "T_max": 3})


def test_state_dicts_pickle_and_resume():
    import pickle

    init, mats = _problem(7)
    a = [tg.Tensor(x, requires_grad=True) for x in init]
    opt = optim.RMSprop(a, lr=0.01, momentum=0.9)
    sched = lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
    for step in range(12):
        _feed(a, [None] * 3, mats, step)
        opt.step()
        sched.step()
    blob = pickle.dumps({"opt": opt.state_dict(), "sched": sched.state_dict()})
    b = [tg.Tensor(p.data.copy(), requires_grad=True) for p in a]
    opt_b = optim.RMSprop(b, lr=0.01, momentum=0.9)
    sched_b = lr_scheduler.StepLR(opt_b, step_size=5, gamma=0.5)
    saved = pickle.loads(blob)
    opt_b.load_state_dict(saved["opt"])
    sched_b.load_state_dict(saved["sched"])
    for step in range(12, 40):
        for ps, o, s in ((a, opt, sched), (b, opt_b, sched_b)):
            _feed(ps, [None] * 3, mats, step)
            o.step()
            s.step()
    assert opt_b.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.01 * 0.5**8  # epoch 40
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.data, q.data)


_shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)
_options = {
    "SGD": st.fixed_dictionaries(
        {
            "lr": st.floats(1e-3, 0.5),
            "momentum": st.sampled_from([0.0, 0.5, 0.9]),
            "weight_decay": st.sampled_from([0.0, 0.01]),
            "maximize": st.booleans(),
        }
    ),
    "Adam": st.fixed_dictionaries(
        {
            "lr": st.floats(1e-3, 0.1),
            "betas": st.tuples(st.floats(0.0, 0.99), st.floats(0.5, 0.9999)),
            "eps": st.sampled_from([1e-8, 1e-3]),
            "weight_decay": st.sampled_from([0.0, 0.1]),
            "amsgrad": st.booleans(),
        }
    ),
    "AdamW": st.fixed_dictionaries(
        {"lr": st.floats(1e-3, 0.1), "weight_decay": st.floats(0.0, 0.5), "amsgrad": st.booleans()}
    ),
    "RMSprop": st.fixed_dictionaries(
        {
            "lr": st.floats(1e-3, 0.1),
            "alpha": st.floats(0.5, 0.999),
            "momentum": st.sampled_from([0.0, 0.9]),
            "centered": st.booleans(),
            "weight_decay": st.sampled_from([0.0, 0.1]),
        }
    ),
}


@pytest.mark.parametrize("name", list(_options))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_drawn_shapes_and_options_match_torch(name, data):
    """Any shape (0-d included) and any valid options: ten steps equal torch's."""
    shape = data.draw(_shapes, label="shape")
    kwargs = data.draw(_options[name], label="options")
    rng = np.random.default_rng(0)
    init = rng.normal(size=shape)
    grads = [rng.normal(size=shape) for _ in range(10)]
    p = tg.Tensor(init, requires_grad=True)
    tp = torch.tensor(init.copy(), dtype=torch.float64, requires_grad=True)
    opt, topt = getattr(optim, name)([p], **kwargs), getattr(torch.optim, name)([tp], **kwargs)
    for g in grads:
        p.grad, tp.grad = g.copy(), torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    assert p.data.shape == shape
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------- Adam's two paths

FOREACH_CONFIGS = [
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.05, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True, maximize=True)),
]


def _foreach_run(name, kwargs, dtype, foreach, steps, lib=None):
    """``steps`` steps on three parameters (one 0-d), every one with a gradient every step
    (the multi-tensor path's case), a gradient that never vanishes (see _grad_fn);
    returns the final parameters as arrays."""
    rng = np.random.default_rng(11)
    init = [rng.normal(size=s).astype(dtype) for s in ((4, 3), (3,), ())]
    mats = [0.3 * rng.normal(size=a.shape) for a in init]
    if lib is None:
        ps = [tg.Tensor(a.copy(), requires_grad=True) for a in init]
        opt = getattr(optim, name)(ps, foreach=foreach, **kwargs)
    else:
        ps = [torch.tensor(a.copy(), requires_grad=True) for a in init]
        opt = getattr(torch.optim, name)(ps, **kwargs)
    for _ in range(steps):
        for p, m in zip(ps, mats):
            d = p.data if lib is None else p.detach().numpy()
            g = np.asarray(np.sign(m) * (1.0 + 0.5 * np.sin(3 * d + m)), dtype=dtype)
            p.grad = g if lib is None else torch.from_numpy(g)
        opt.step()
    return [np.array(p.data if lib is None else p.detach().numpy()) for p in ps]


@pytest.mark.parametrize(
    "name,kwargs", FOREACH_CONFIGS, ids=[f"{n}-{k}" for n, k in FOREACH_CONFIGS]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_multi_tensor_and_per_parameter_paths_agree_bitwise_and_with_torch(
    name, kwargs, dtype
):
    runs = [_foreach_run(name, kwargs, dtype, fe, 300) for fe in (None, True, False)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == dtype
    theirs = _foreach_run(name, kwargs, dtype, None, 300, lib=torch)
    atol = 1e-12 if dtype == np.float64 else 2e-5  # float32: 300 steps of rounding
    for a, b in zip(runs[0], theirs):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


def test_adam_multi_tensor_state_is_per_parameter_views_and_survives_state_dicts():
    rng = np.random.default_rng(12)
    ps = [tg.Tensor(rng.normal(size=s), requires_grad=True) for s in ((3, 2), (2,))]
    twin = [tg.Tensor(p.data.copy(), requires_grad=True) for p in ps]
    opt = optim.AdamW(ps, lr=0.01, amsgrad=True)
    ref = optim.AdamW(twin, lr=0.01, amsgrad=True, foreach=False)

    def feed(step):
        for p, q in zip(ps, twin):
            p.grad = np.sin(p.data + step)
            q.grad = np.sin(q.data + step)

    for step in range(5):
        feed(step)
        opt.step()
        ref.step()
    st = opt.state[ps[0]]
    assert st["exp_avg"].shape == (3, 2) and st["step"] == 5
    saved = opt.state_dict()
    opt.load_state_dict(saved)  # new state arrays: the flat path rebuilds from them
    opt.state[ps[1]]["exp_avg_sq"] *= 1.0  # (in place on a view: still the flat state)
    for step in range(5, 30):
        feed(step)
        opt.step()
        ref.step()
    for p, q in zip(ps, twin):
        np.testing.assert_array_equal(p.data, q.data)
    for p, q in zip(ps, twin):
        for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            np.testing.assert_array_equal(opt.state[p][k], ref.state[q][k])
    # a parameter without a gradient this step: the per-parameter path, same numbers
    ps[1].grad, twin[1].grad = None, None
    ps[0].grad = twin[0].grad = np.ones((3, 2))
    opt.step()
    ref.step()
    np.testing.assert_array_equal(ps[0].data, twin[0].data)
    assert opt.state[ps[1]]["step"] == 30 and opt.state[ps[0]]["step"] == 31


def test_adam_foreach_option_checked():
    p = tg.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="AdamW: foreach must be None, True or False"):
        optim.AdamW([p], foreach="yes")
    assert optim.Adam([p], foreach=True).param_groups[0]["foreach"] is True
