"""tg.compile: a traced step replayed as straight-line NumPy gives the eager step's results
bit for bit, traces again when shapes change, and refuses what it cannot replay."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp import nn, optim
from tinygrad_bp.commands import _bench_impls as B
from tinygrad_bp.commands import models
from tinygrad_bp.compile import CompileError

STEPS = 22


def _same_run(build, steps: int = STEPS):
    """Build the same training step twice, compile one, run both; every loss and every
    parameter (and .grad) must be bit-identical after each step."""
    eager, eager_params = build()
    step, params = build()
    compiled = tg.compile(step)
    for i in range(steps):
        le, lc = eager(), compiled()
        assert type(le) is type(lc) and (le == lc or (le != le and lc != lc)), (i, le, lc)
        for k, (a, b) in enumerate(zip(eager_params(), params())):
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), (i, k)
    assert compiled.replays == steps - 3
    return compiled


def _bench(key: str):
    w = B.WORKLOADS[key]

    def build():
        return B.build_tinygrad_bp(B.make_problem(w))

    return build


def test_w1_tutorial_network_bit_identical():
    compiled = _same_run(_bench("W1"))
    src = compiled.source
    assert "def _body(" in src and "np.tanh(" in src and "np.matmul(" in src
    assert str(compiled) == src


def test_w4_deep_tanh_bit_identical():
    _same_run(_bench("W4"))


def _module_step(model, opt, x, y, with_grads=True):
    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    def params():
        out = [p.data.copy() for p in model.parameters()]
        if with_grads:
            out += [p.grad.copy() for p in model.parameters() if p.grad is not None]
        return out

    return step, params


def test_cnn_bit_identical():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((8, 1, 8, 8))
    y = rng.integers(0, 10, 8)

    def build():
        model = models.DigitsCNN(rng=0, dtype=np.float64)
        return _module_step(model, optim.SGD(model.parameters(), lr=0.05), tg.Tensor(X), y)

    _same_run(build)


def test_lstm_bit_identical():
    rng = np.random.default_rng(2)
    X = rng.integers(0, 27, (4, 5))
    y = np.ascontiguousarray(rng.integers(0, 27, (4, 5)).T).ravel()

    def build():
        model = models.NamesLSTM(emb=8, hidden=16, rng=0, dtype=np.float64)
        return _module_step(model, optim.SGD(model.parameters(), lr=0.1), X, y)

    _same_run(build)


def test_transformer_block_sgd_momentum_bit_identical():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 27, (3, 6))
    y = rng.integers(0, 27, (3, 6)).ravel()

    def build():
        model = models.NamesTransformer(6, n_layer=1, n_head=2, n_embd=8, rng=0, dtype=np.float64)
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
        return _module_step(model, opt, X, y)

    _same_run(build)


def _tiny(dtype=np.float64, momentum=0.0):
    model = nn.Sequential(
        nn.Linear(3, 4, rng=0, dtype=dtype), nn.Tanh(), nn.Linear(4, 2, rng=1, dtype=dtype)
    )
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=momentum)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return model, opt, step


def test_arguments_and_shape_change_retrace():
    rng = np.random.default_rng(4)
    m1, _, s1 = _tiny()
    m2, _, s2 = _tiny()
    compiled = tg.compile(s2)
    for n in (5, 5, 5, 5, 5, 7, 7, 7, 7, 5, 5):
        x = rng.standard_normal((n, 3))
        y = rng.integers(0, 2, n)
        assert s1(tg.Tensor(x), y) == compiled(tg.Tensor(x), y)
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert np.array_equal(a.data, b.data) and np.array_equal(a.grad, b.grad)
    assert compiled.traces == 4 and compiled.replays == 5


def test_too_many_traces_is_a_clear_error():
    _, _, step = _tiny()
    compiled = tg.compile(step, max_traces=2)
    rng = np.random.default_rng(5)
    with pytest.raises(CompileError, match="max_traces"):
        for n in range(2, 12):
            for _ in range(3):
                compiled(tg.Tensor(rng.standard_normal((n, 3))), rng.integers(0, 2, n))


def test_dropout_in_training_is_refused():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Dropout(0.5), nn.Linear(4, 2, rng=1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = tg.Tensor(np.ones((6, 3), dtype=np.float32)), np.zeros(6, dtype=np.int64)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    compiled = tg.compile(step)
    with pytest.raises(CompileError, match="differs from one traced call to the next"):
        for _ in range(4):
            compiled()
    # in eval mode dropout is the identity: it compiles
    model.eval()
    compiled = tg.compile(step)
    for _ in range(5):
        compiled()
    assert compiled.replays == 2


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_and_adamw_bit_identical(name):
    # their step count is a Python int in the state: the trace follows it as a number, so
    # the bias corrections computed from it in Python are computed by every replay
    rng = np.random.default_rng(9)
    X = rng.integers(0, 27, (3, 6))
    y = rng.integers(0, 27, (3, 6)).ravel()

    def build():
        model = models.NamesTransformer(6, n_layer=1, n_head=2, n_embd=8, rng=0, dtype=np.float64)
        opt = getattr(optim, name)(model.parameters(), lr=0.01, betas=(0.9, 0.99))
        step, params = _module_step(model, opt, X, y)

        def state():
            st = [opt.state[p] for p in model.parameters()]
            assert all(type(s["step"]) is int for s in st)
            return params() + [s[k] for s in st for k in ("exp_avg", "exp_avg_sq")]

        return step, state

    _same_run(build)


def test_a_scheduler_inside_the_step_is_refused():
    model = nn.Linear(3, 2, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, y = tg.Tensor(np.ones((4, 3), dtype=np.float32)), np.zeros(4, dtype=np.int64)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()

    compiled = tg.compile(step)
    with pytest.raises(CompileError, match="scheduler"):
        for _ in range(4):
            compiled()


def test_learning_rate_change_outside_the_step_traces_again():
    m1, o1, s1 = _tiny(momentum=0.9)
    m2, o2, s2 = _tiny(momentum=0.9)
    compiled = tg.compile(s2)
    x, y = tg.Tensor(np.linspace(-1, 1, 15).reshape(5, 3)), np.array([0, 1, 1, 0, 1])
    for i in range(12):
        if i == 6:
            for o in (o1, o2):
                o.param_groups[0]["lr"] = 0.05
        assert s1(x, y) == compiled(x, y)
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert np.array_equal(a.data, b.data)
    assert compiled.traces == 4


def test_grad_and_state_after_compiled_steps_equal_eager():
    m1, o1, s1 = _tiny(momentum=0.9)
    m2, o2, s2 = _tiny(momentum=0.9)
    compiled = tg.compile(s2)
    x, y = tg.Tensor(np.linspace(-1, 1, 15).reshape(5, 3)), np.array([0, 1, 1, 0, 1])
    for _ in range(6):
        s1(x, y), compiled(x, y)
    grads = [p.grad for p in m2.parameters()]
    compiled(x, y)
    s1(x, y)
    for a, b, old in zip(m1.parameters(), m2.parameters(), grads):
        assert np.array_equal(a.grad, b.grad) and type(b.grad) is np.ndarray
        assert b.grad is not old  # a fresh array each step, as eager's backward gives
        assert np.array_equal(o1.state[a]["momentum_buffer"], o2.state[b]["momentum_buffer"])


def test_data_rebound_between_calls_is_read_fresh():
    m1, _, s1 = _tiny()
    m2, _, s2 = _tiny()
    compiled = tg.compile(lambda: s2(x, y))
    rng = np.random.default_rng(6)
    for _ in range(6):
        x, y = tg.Tensor(rng.standard_normal((5, 3))), rng.integers(0, 2, 5)
        assert s1(x, y) == compiled()


def test_print_shows_the_generated_code(capsys):
    _, _, step = _tiny()
    compiled = tg.compile(step)
    x, y = tg.Tensor(np.ones((2, 3))), np.array([0, 1])
    assert "not traced yet" in str(compiled)
    for _ in range(4):
        compiled(x, y)
    print(compiled)
    out = capsys.readouterr().out
    assert out.startswith("# generated by tinygrad_bp.compile") and "def _body(" in out


def test_bad_argument():
    with pytest.raises(TypeError, match="compile: expected a function"):
        tg.compile(3)


def test_python_branch_on_a_traced_value_is_a_guard():
    # gradient clipping in Python: the norm is read with .item(), compared, and a scale
    # computed from it; the comparison is checked by every replay, the scale is a traced
    # number, so the replay computes what the eager step computes
    def build():
        model = nn.Linear(3, 2, rng=0, dtype=np.float64)
        opt = optim.SGD(model.parameters(), lr=0.5)
        rng = np.random.default_rng(7)
        batches = [(tg.Tensor(rng.standard_normal((4, 3)) * s), rng.integers(0, 2, 4))
                   for s in (0.1, 0.1, 0.1, 0.1, 0.1, 30.0, 0.1)]  # fmt: skip

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            norm = sum(((p.grad**2).sum() for p in model.parameters()), 0.0).item() ** 0.5
            if norm > 1.0:
                for p in model.parameters():
                    p.grad *= 1.0 / norm
            opt.step()
            return loss.item()

        return step, lambda: [p.data.copy() for p in model.parameters()], batches * 3

    eager, ep, batches = build()
    step, sp, _ = build()
    compiled = tg.compile(step)
    for i, (x, y) in enumerate(batches):
        le, lc = eager(x, y), compiled(x, y)
        assert le == lc, i
        assert all(np.array_equal(a, b) for a, b in zip(ep(), sp())), i
    print(compiled)


def test_batchnorm_buffers_bit_identical():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((6, 2, 5, 5))
    y = rng.integers(0, 3, 6)

    def build():
        f64 = np.float64
        model = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1, rng=0, dtype=f64), nn.BatchNorm2d(4, dtype=f64),
            nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16, 3, rng=1, dtype=f64),
        )  # fmt: skip
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.5, weight_decay=1e-3)
        step, params = _module_step(model, opt, tg.Tensor(X), y)
        return step, lambda: params() + [b.data.copy() for _, b in model.named_buffers()]

    _same_run(build)


def test_a_module_attribute_set_in_the_step_is_refused():
    model = nn.Linear(3, 2, rng=0, dtype=np.float64)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = tg.Tensor(np.ones((4, 3))), np.zeros(4, dtype=np.int64)

    def step():
        opt.zero_grad()
        out = model(x)
        model.last_output = out  # a replay would not set it
        F.cross_entropy(out, y).backward()
        opt.step()

    compiled = tg.compile(step)
    with pytest.raises(CompileError, match="last_output"):
        for _ in range(4):
            compiled()


class _Trainer:
    def __init__(self, dtype=np.float64):
        self.model = nn.Sequential(
            nn.Linear(3, 5, rng=0, dtype=dtype), nn.ReLU(), nn.Linear(5, 2, rng=1, dtype=dtype)
        )
        self.opt = optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)
        self.x = tg.Tensor(np.linspace(-2, 2, 18).reshape(6, 3))
        self.y = np.array([0, 1, 1, 0, 1, 0])

    def step(self):
        self.opt.zero_grad()
        loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss


def test_a_bound_method_and_a_returned_tensor():
    a, b = _Trainer(), _Trainer()
    compiled = tg.compile(b.step)
    for i in range(8):
        if i == 5:  # a new batch, rebound on the instance: read through its __dict__
            a.x = b.x = tg.Tensor(np.linspace(-1, 3, 18).reshape(6, 3))
        la, lb = a.step(), compiled()
        assert type(lb) is tg.Tensor and np.array_equal(la.data, lb.data)
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert np.array_equal(p.data, q.data) and np.array_equal(p.grad, q.grad)
    assert compiled.replays == 5


_plain_asarray = np.asarray  # bound before any trace: compile does not patch this name


def test_a_plain_view_of_a_traced_array_is_derived_again():
    # code compile does not patch makes a plain view of a parameter; passed to the engine,
    # it is recorded as a view of the parameter's array (not baked in as a constant)
    def build():
        model = nn.Linear(3, 2, rng=0, dtype=np.float64)
        opt = optim.SGD(model.parameters(), lr=0.1)
        x, y = tg.Tensor(np.linspace(-1, 1, 12).reshape(4, 3)), np.array([0, 1, 1, 0])

        def step():
            opt.zero_grad()
            w = _plain_asarray(model.weight.data)[:, 1:]  # shares the parameter's memory
            penalty = (model.weight[:, 1:] * tg.Tensor(w)).sum()
            loss = F.cross_entropy(model(x), y) + 0.01 * penalty
            loss.backward()
            opt.step()
            return loss.item()

        return step, lambda: [p.data.copy() for p in model.parameters()]

    compiled = _same_run(build, steps=10)
    assert "_view_at(" in compiled.source or "view_at(" in compiled.source


def test_another_thread_during_a_trace_records_nothing():
    import queue
    import threading

    model, opt, step = _tiny()
    results: queue.Queue = queue.Queue()

    def other():  # eager work in another thread while the step is being traced
        t = tg.zeros(3) + tg.Tensor(np.ones(3))
        results.put(type(t.data))

    def traced_step(x, y, other=other):  # (a default: not state compile watches)
        th = threading.Thread(target=other)
        th.start()
        th.join()
        return step(x, y)

    compiled = tg.compile(traced_step)
    x, y = tg.Tensor(np.ones((2, 3))), np.array([0, 1])
    for _ in range(3):
        compiled(x, y)
    seen = [results.get() for _ in range(results.qsize())]
    assert seen and all(t is np.ndarray for t in seen)


def test_decorator_forms():
    model, opt, step = _tiny()

    @tg.compile
    def plain(x, y):
        return step(x, y)

    @tg.compile(max_traces=1)
    def limited(x, y):
        return step(x, y)

    x, y = tg.Tensor(np.ones((2, 3))), np.array([0, 1])
    for _ in range(4):
        plain(x, y)
    assert isinstance(plain, tg.compile.__globals__["Compiled"]) and plain.replays == 1
    limited(x, y)
    limited(x, y)
    with pytest.raises(CompileError, match="max_traces=1"):
        limited(x, y)


def test_python_bookkeeping_in_the_step_is_refused():
    model, opt, step = _tiny()
    history = []

    def logged(x, y):
        loss = step(x, y)
        history.append(loss)  # a replay runs no Python: it would not append
        return loss

    compiled = tg.compile(logged)
    x, y = tg.Tensor(np.ones((2, 3))), np.array([0, 1])
    with pytest.raises(CompileError, match=r"'history' \(a list\)"):
        for _ in range(4):
            compiled(x, y)


def test_tensor_inplace_update_keeps_the_version_check():
    # a hand-written SGD with Tensor operators: each replay marks the parameters changed,
    # so a graph built before a replay still refuses to backpropagate through the old values
    def build():
        w = tg.Tensor(np.linspace(-1, 1, 6).reshape(3, 2), requires_grad=True)
        x = tg.Tensor(np.linspace(0, 1, 12).reshape(4, 3))

        def step():
            w.grad = None
            loss = ((x @ w) ** 2).mean()
            loss.backward()
            with tg.no_grad():
                w.sub_(0.1 * tg.Tensor(w.grad))
            return loss.item()

        return step, lambda: [w.data.copy(), w.grad.copy()], w

    eager, ep, w1 = build()
    step, sp, w2 = build()
    compiled = tg.compile(step)
    for _ in range(6):
        assert eager() == compiled()
        assert all(np.array_equal(a, b) for a, b in zip(ep(), sp()))
    assert w1._version == w2._version
    stale = [(w1 * w1).sum(), (w2 * w2).sum()]
    eager(), compiled()
    for loss in stale:
        with pytest.raises(RuntimeError, match="modified by an inplace operation|in place"):
            loss.backward()


def test_a_hook_with_python_side_effects_is_refused():
    model, opt, step = _tiny()
    seen = []
    model[0].register_forward_hook(lambda m, args, out: seen.append(out))
    compiled = tg.compile(step)
    x, y = tg.Tensor(np.ones((2, 3))), np.array([0, 1])
    with pytest.raises(CompileError, match=r"'seen' \(a list\)"):
        for _ in range(4):
            compiled(x, y)


def test_a_hook_that_only_computes_is_replayed():
    def build():
        model, opt, step = _tiny()
        model[2].weight.register_hook(lambda g: g * 0.5)  # engine ops: traced like the rest
        x, y = tg.Tensor(np.linspace(-1, 1, 12).reshape(4, 3)), np.array([0, 1, 1, 0])
        return (lambda: step(x, y)), lambda: [p.data.copy() for p in model.parameters()]

    _same_run(build)


# ---------------------------------------------------------------- adversarial QA: state
def _qa_mlp(seed=0):
    return nn.Sequential(nn.Dense(4, 8, activation="tanh", rng=seed), nn.Dense(8, 3, rng=seed + 1))


_QX = np.random.default_rng(0).standard_normal((16, 4))
_QY = np.random.default_rng(1).integers(0, 3, 16)


def _qa_same(build, steps: int = 10):
    """``build()`` -> (step, state, between(i)): eager and compiled from the same initial
    state, ``between`` run before each call on each side; losses, parameters and grads
    bit-identical after every call."""
    (se, ste, be), (sc, stc, bc) = build(), build()
    compiled = tg.compile(sc)
    for i in range(steps):
        be(i)
        bc(i)
        le, lc = se(), compiled()
        assert le == lc, (i, le, lc)
        for a, b in zip(ste(), stc(), strict=True):
            assert (a is None and b is None) or np.array_equal(a, b), i
    return compiled


def _qa_state(m):
    def state():
        return [v for p in m.parameters() for v in (p.data.copy(), p.grad)]

    return state


def _qa_build(change, opt=lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9)):
    def build():
        m = _qa_mlp()
        o = opt(list(m.parameters()))
        x = tg.Tensor(_QX.copy())

        def step():
            o.zero_grad()
            loss = F.cross_entropy(m(x), _QY)
            loss.backward()
            o.step()
            return loss.item()

        return step, _qa_state(m), lambda i: change(i, m, o)

    return build


def test_a_tensor_in_a_held_dict_rebound_between_calls_is_read_fresh():
    def build():
        m = _qa_mlp()
        o = optim.SGD(m.parameters(), lr=0.1)
        batch = {"x": tg.Tensor(_QX.copy())}

        def step():
            o.zero_grad()
            loss = F.cross_entropy(m(batch["x"]), _QY)
            loss.backward()
            o.step()
            return loss.item()

        def between(i):
            batch["x"] = tg.Tensor(_QX * (i + 1))

        return step, _qa_state(m), between

    assert _qa_same(build).replays == 7


def test_a_layer_frozen_between_calls_traces_again():
    def freeze(i, m, o):
        if i == 5:
            m[0].W.requires_grad_(False)

    assert _qa_same(_qa_build(freeze)).traces > 2


def _double_grad(t):
    t.grad *= 2


@pytest.mark.parametrize("kind", ["tensor", "post", "forward", "pre"])
def test_a_hook_registered_between_calls_traces_again(kind):
    def hook(i, m, o):
        if i == 5:
            if kind == "tensor":
                m[0].W.register_hook(lambda g: g * 2)
            elif kind == "post":
                m[0].W.register_post_accumulate_grad_hook(_double_grad)
            elif kind == "forward":
                m[0].register_forward_hook(lambda mod, inp, out: out * 2)
            else:
                m[1].register_forward_pre_hook(lambda mod, inp: (inp[0] * 2,))

    assert _qa_same(_qa_build(hook)).traces == 4


@pytest.mark.parametrize("how", ["add_param_group", "pop", "replace"])
def test_the_optimizer_parameters_changed_between_calls_traces_again(how):
    def build():
        m = _qa_mlp()
        ps = list(m.parameters())
        o = optim.SGD(ps[:2] if how == "add_param_group" else ps, lr=0.1)
        x = tg.Tensor(_QX.copy())

        def step():
            o.zero_grad()
            loss = F.cross_entropy(m(x), _QY)
            loss.backward()
            o.step()
            return loss.item()

        def between(i):
            if i == 5:
                if how == "add_param_group":
                    o.add_param_group({"params": ps[2:]})
                elif how == "pop":
                    o.param_groups[0]["params"].pop()
                else:
                    o.param_groups[0]["params"] = ps[:2]

        return step, _qa_state(m), between

    assert _qa_same(build).traces == 4


def test_a_parameter_replaced_on_its_module_between_calls_traces_again():
    def replace(i, m, o):
        if i == 5:
            m[1].b = nn.Parameter(np.ones(3))

    _qa_same(_qa_build(replace))


def test_a_compiled_step_under_no_grad_fails_as_the_eager_one():
    step, _, _ = _qa_build(lambda i, m, o: None)()
    compiled = tg.compile(step)
    for _ in range(5):
        compiled()
    with tg.no_grad(), pytest.raises(RuntimeError, match="does not require grad"):
        compiled()


def test_a_global_two_functions_read_is_one_input():
    m = _qa_mlp()
    o = optim.SGD(m.parameters(), lr=0.1)
    x = tg.Tensor(_QX.copy())

    def loss_of(out):
        return F.cross_entropy(out, _QY)

    def step():
        o.zero_grad()
        out = m(x)
        loss = loss_of(out)
        loss.backward()
        o.step()
        return loss.item(), (out.data.argmax(1) == _QY).sum()

    compiled = tg.compile(step)
    for _ in range(5):
        compiled()
    assert compiled.replays == 2


def test_a_model_passed_as_an_argument_and_a_partial_are_followed():
    import functools

    def step(model, opt, x):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), _QY)
        loss.backward()
        opt.step()
        return loss.item()

    def build():
        m = _qa_mlp()
        return m, optim.SGD(m.parameters(), lr=0.1), tg.Tensor(_QX.copy())

    (m1, o1, x1), (m2, o2, x2), (m3, o3, x3) = build(), build(), build()
    by_arg, by_partial = tg.compile(step), tg.compile(functools.partial(step, m3, o3, x3))
    for i in range(10):
        le, la, lp = step(m1, o1, x1), by_arg(m2, o2, x2), by_partial()
        assert le == la == lp, i
        for a, b, c in zip(_qa_state(m1)(), _qa_state(m2)(), _qa_state(m3)(), strict=True):
            assert np.array_equal(a, b) and np.array_equal(a, c), i
    assert by_arg.replays == by_partial.replays == 7


@pytest.mark.parametrize("fail_at", [1, 2])
def test_a_step_that_raises_while_traced_leaves_the_state_as_eager_does(fail_at):
    # the 2nd and 3rd calls are traced: what the step did before raising stays done (the
    # new .grad arrays, the momentum buffers), as in an eager step; before, the trace put
    # the values from before the step back
    boom = [False]

    def build():
        m = _qa_mlp()
        o = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        x = tg.Tensor(_QX.copy())

        def step():
            o.zero_grad()
            loss = F.cross_entropy(m(x), _QY)
            loss.backward()
            o.step()
            if boom[0]:
                raise KeyError("from the step")
            return loss.item()

        return step, _qa_state(m), o

    e_step, e_state, e_opt = build()
    c_step, c_state, c_opt = build()
    compiled = tg.compile(c_step)
    for i in range(8):
        boom[0] = i == fail_at
        if boom[0]:
            for run in (e_step, compiled):
                with pytest.raises(KeyError):
                    run()
        else:
            assert e_step() == compiled(), i
        for a, b in zip(e_state(), c_state(), strict=True):
            assert type(a) is type(b) and np.array_equal(a, b), i
        for pe, pc in zip(e_opt.state._by_id.values(), c_opt.state._by_id.values(), strict=True):
            for k in pe[1]:
                assert type(pc[1][k]) is np.ndarray and np.array_equal(pe[1][k], pc[1][k]), i
    assert compiled.replays > 0


def test_two_steps_traced_in_two_threads_at_once():
    import threading

    errors, start = [], threading.Barrier(4)

    def worker(seed):
        m = _qa_mlp(seed)
        o = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        x = tg.Tensor(_QX.copy())

        def step():
            o.zero_grad()
            loss = F.cross_entropy(m(x), _QY)
            loss.backward()
            o.step()
            return loss.item()

        m2 = _qa_mlp(seed)
        o2 = optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)

        def eager():
            o2.zero_grad()
            loss = F.cross_entropy(m2(x), _QY)
            loss.backward()
            o2.step()
            return loss.item()

        start.wait()
        try:
            for _ in range(3):  # many traces at once: each compiled afresh
                compiled = tg.compile(step)
                for i in range(5):
                    assert compiled() == eager(), i
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(repr(exc)[:300])

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_batchnorm_cumulative_average_is_followed():
    # momentum=None: the factor 1/(batches seen + 1) is a number computed from the counter
    # buffer; before, it was baked in as a constant (refused after max_traces retraces)
    def build():
        m = nn.Sequential(
            nn.Dense(4, 8, rng=0),
            nn.BatchNorm1d(8, momentum=None),
            nn.Tanh(),
            nn.Dense(8, 3, rng=1),
        )
        o = optim.SGD(m.parameters(), lr=0.1)
        x = tg.Tensor(_QX.copy())

        def step():
            o.zero_grad()
            loss = F.cross_entropy(m(x), _QY)
            loss.backward()
            o.step()
            return loss.item()

        def state():
            bn = m[1]
            return _qa_state(m)() + [bn.running_mean.data.copy(), bn.running_var.data.copy(),
                                     bn.num_batches_tracked.data.copy()]  # fmt: skip

        return step, state, lambda i: None

    assert _qa_same(build).replays == 7


def test_clip_grad_norm_inside_the_step_is_followed():
    # both paths (clipped or not) are compiled; the total norm returned as a Tensor
    def build():
        m = _qa_mlp()
        o = optim.SGD(m.parameters(), lr=0.5, momentum=0.9)
        x = tg.Tensor(_QX.copy())

        def step():
            o.zero_grad()
            loss = F.cross_entropy(m(x), _QY)
            loss.backward()
            norm = nn.utils.clip_grad_norm_(m.parameters(), 0.3)
            o.step()
            return loss.item(), norm.numpy()

        return step, _qa_state(m), lambda i: None

    (se, ste, _), (sc, stc, _) = build(), build()
    compiled = tg.compile(sc)
    for i in range(12):
        (le, ne), (lc, nc) = se(), compiled()
        assert le == lc and np.array_equal(ne, nc), i
        for a, b in zip(ste(), stc(), strict=True):
            assert np.array_equal(a, b), i
    assert compiled.replays > 0


def test_float_of_a_changing_traced_value_is_refused_at_once():
    m = _qa_mlp()
    o = optim.SGD(m.parameters(), lr=0.1)
    x = tg.Tensor(_QX.copy())

    def step():
        o.zero_grad()
        loss = F.cross_entropy(m(x), _QY)
        loss.backward()
        o.step()
        return float(loss)

    compiled = tg.compile(step)
    compiled(), compiled()
    with pytest.raises(CompileError, match=r"float\(\).*loss.item\(\)"):
        compiled()


def test_a_returned_parameter_is_the_parameter_itself():
    # before: its values were compared as a constant between the two traces and refused
    m = _qa_mlp()
    o = optim.SGD(m.parameters(), lr=0.1)
    x = tg.Tensor(_QX.copy())

    def step():
        o.zero_grad()
        F.cross_entropy(m(x), _QY).backward()
        o.step()
        return m[0].W

    compiled = tg.compile(step)
    for _ in range(6):
        assert compiled() is m[0].W
    assert compiled.replays == 3


def test_a_bad_label_on_a_replay_raises_as_eager_and_changes_nothing():
    def build():
        m = _qa_mlp()
        o = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)

        def step(y):
            o.zero_grad()
            loss = F.cross_entropy(m(tg.Tensor(_QX)), y)
            loss.backward()
            o.step()
            return loss.item()

        return step, _qa_state(m)

    (se, ste), (sc, stc) = build(), build()
    compiled = tg.compile(sc)
    for i in range(9):
        y = _QY.copy()
        if i in (5, 6):
            y[3] = 7 if i == 5 else -1
        got = []
        for run in (se, compiled):
            try:
                got.append(run(y))
            except ValueError as exc:  # ClassIndexError
                got.append(str(exc))
        assert got[0] == got[1], i
        for a, b in zip(ste(), stc(), strict=True):
            assert np.array_equal(a, b), i
    assert compiled.replays >= 3


def test_a_layer_swapped_between_calls_traces_again():
    # the two traces after the swap start from different states (the old layer's .grad
    # set, then not): another step to trace again, not a refusal
    def swap(i, m, o):
        if i == 5:
            m.layers[1] = nn.Dense(8, 3, rng=7)

    assert _qa_same(_qa_build(swap)).replays > 3


def test_gradient_accumulation_with_zero_grad_every_other_call():
    # .grad None, then set, then None...: each state traced twice, both compiled (before:
    # the traces alternated states, never two alike, and max_traces refused the step)
    def build():
        m = _qa_mlp()
        o = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        x = tg.Tensor(_QX.copy())

        def step():
            F.cross_entropy(m(x), _QY).backward()
            o.step()
            return m[0].W.grad.sum().item()

        def between(i):
            if i % 2 == 0:
                o.zero_grad()

        return step, _qa_state(m), between

    assert _qa_same(build, steps=12).replays == 7


class _Box:
    pass


@pytest.mark.parametrize(
    "holder", ["dict", "list", "object", "object_tensor", "partial", "dict_inplace"]
)
def test_data_held_in_a_container_is_read_fresh(holder):
    # arrays (and Tensors) in a dict, a list, a plain object's attributes or bound by
    # functools.partial: read through their holder each call; before, their values were
    # baked into the replay (a silently stale batch)
    import functools

    def build():
        m = _qa_mlp()
        o = optim.SGD(m.parameters(), lr=0.1)
        box = {"dict": {}, "dict_inplace": {}, "list": [None]}.get(holder, _Box())
        x0 = _QX.copy()
        put = (
            (lambda v: box.__setitem__(0, v)) if holder == "list"
            else (lambda v: setattr(box, "x", tg.Tensor(v))) if holder == "object_tensor"
            else (lambda v: setattr(box, "x", v)) if holder in ("object", "partial")
            else (lambda v: box.__setitem__("x", v))
        )  # fmt: skip
        put(x0)

        def read():
            if holder == "list":
                return box[0]
            return box.x if isinstance(box, _Box) else box["x"]

        def step(x=None):
            x = read() if x is None else x
            o.zero_grad()
            loss = F.cross_entropy(m(x if isinstance(x, tg.Tensor) else tg.Tensor(x)), _QY)
            loss.backward()
            o.step()
            return loss.item()

        def between(i):
            if holder in ("dict_inplace", "partial"):
                x0[...] = _QX * (i + 1)
            else:
                put(_QX * (i + 1))

        if holder == "partial":
            return functools.partial(step, x0), _qa_state(m), between
        return step, _qa_state(m), between

    assert _qa_same(build).replays == 7


def test_an_array_in_a_tuple_is_refused():
    m = _qa_mlp()
    o = optim.SGD(m.parameters(), lr=0.1)
    batch = (_QX.copy(), _QY.copy())

    def step():
        x, y = batch
        o.zero_grad()
        F.cross_entropy(m(tg.Tensor(x)), y).backward()
        o.step()

    compiled = tg.compile(step)
    compiled()
    with pytest.raises(CompileError, match="array held in a tuple"):
        compiled()
