"""Issue 20 (nn half): module habits, nn.init, Flatten, BatchNorm, Dense.activation,
tg.manual_seed, Embedding(padding_idx=), the loss modules and MultiheadAttention's
batch_first, each against PyTorch (values, gradients, dtypes, names, or its error)."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp import nn

torch = pytest.importorskip("torch")
T = tg.Tensor


# ---------------------------------------------------------------- Flatten
@pytest.mark.parametrize(
    "shape,args",
    [((2, 3, 4, 5), ()), ((2, 3, 4, 5), (2,)), ((2, 3, 4, 5), (0, 2)), ((2, 3, 4), (-2, -1)),
     ((2, 3), (2,)), ((2, 3), (1, 0)), ((2, 3), (0, 5)), ((4,), ()), ((0, 3, 2), ()),
     ((2, 3), (-3,))],
)  # fmt: skip
def test_flatten_as_torch(shape, args) -> None:
    x = np.arange(float(np.prod(shape))).reshape(shape)
    try:
        ref = torch.nn.Flatten(*args)(torch.tensor(x))
    except (IndexError, RuntimeError):  # PyTorch refuses: so do we, by name
        with pytest.raises(ValueError, match="Flatten: "):
            nn.Flatten(*args)(T(x))
        return
    out = nn.Flatten(*args)(T(x))
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(out.data, ref.numpy())


def test_flatten_takes_pytorchs_names_and_refuses_arrays() -> None:
    assert nn.Flatten(start_dim=0, end_dim=1)(T(np.zeros((2, 3, 4)))).shape == (6, 4)
    with pytest.raises(TypeError, match=r"Flatten: expected a Tensor, got ndarray"):
        nn.Flatten()(np.zeros((2, 3)))


# ---------------------------------------------------------------- BatchNorm
@pytest.mark.parametrize("eps", [-1, float("nan"), float("inf"), "1e-5"])
def test_batchnorm_refuses_a_bad_eps(eps) -> None:
    with pytest.raises(ValueError, match="BatchNorm1d: eps must be"):
        nn.BatchNorm1d(3, eps=eps)
    with pytest.raises(ValueError, match="LayerNorm: eps must be"):
        nn.LayerNorm(3, eps=eps)


@pytest.mark.parametrize("momentum", [None, 0.3])
@pytest.mark.parametrize("cls", ["BatchNorm1d", "BatchNorm2d"])
def test_batchnorm_momentum_none_is_the_cumulative_average(momentum, cls) -> None:
    ours = getattr(nn, cls)(3, momentum=momentum)
    theirs = getattr(torch.nn, cls)(3, momentum=momentum).double()
    rng = np.random.default_rng(0)
    shape = (8, 3) if cls == "BatchNorm1d" else (4, 3, 2, 2)
    for _ in range(5):
        x = rng.standard_normal(shape) * 3 + 1
        out, ref = ours(T(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(
            getattr(ours, name).data, getattr(theirs, name).numpy(), rtol=1e-13, err_msg=name
        )
    assert int(ours.num_batches_tracked.data) == int(theirs.num_batches_tracked) == 5
    with pytest.raises(ValueError, match="momentum must be a number in"):
        nn.BatchNorm1d(3, momentum=1.5)


# ---------------------------------------------------------------- Dense.activation
def test_setting_dense_activation_takes_effect() -> None:
    layer = nn.Dense(3, 4, activation=None, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 3))
    a = x @ layer.W.data + layer.b.data
    np.testing.assert_allclose(layer(T(x)).data, a)
    layer.activation = "relu"
    np.testing.assert_allclose(layer(T(x)).data, np.maximum(a, 0))
    layer.activation = "tanh"
    np.testing.assert_allclose(layer(T(x)).data, np.tanh(a))
    assert "activation='tanh'" in repr(layer)
    with pytest.raises(ValueError, match="Dense: unknown activation 'softmax'"):
        layer.activation = "softmax"
    np.testing.assert_allclose(layer(T(x)).data, np.tanh(a))  # unchanged by the refusal


# ---------------------------------------------------------------- manual_seed
def _draw():
    net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Conv2d(1, 2, 3))
    net.train()
    drop = net[1](T(np.ones(16))).data
    emb = nn.Embedding(5, 3).weight.data
    gru = nn.GRU(2, 3).weight_hh_l0.data
    w = nn.Parameter(np.empty((4, 4)))
    nn.init.kaiming_normal_(w)
    data = tg.data.TensorDataset(np.arange(20.0))
    loader = tg.data.DataLoader(data, batch_size=4, shuffle=True)
    order = np.concatenate([b[0].data for b in loader])
    return [net[0].weight.data, net[2].weight.data, drop, emb, gru, w.data, order]


def test_manual_seed_seeds_initialisation_dropout_and_shuffling() -> None:
    tg.manual_seed(11)
    a = _draw()
    tg.manual_seed(11)
    b = _draw()
    tg.manual_seed(12)
    c = _draw()
    for i, (x, y, z) in enumerate(zip(a, b, c)):
        np.testing.assert_array_equal(x, y, err_msg=f"draw {i}")
        assert not np.array_equal(x, z), f"draw {i} ignores the seed"


# ---------------------------------------------------------------- module habits
class _Net:
    @staticmethod
    def ours():
        class Block(nn.Module):
            def __init__(self):
                self.conv = nn.Conv2d(1, 2, 3)
                self.bn = nn.BatchNorm2d(2)

            def forward(self, x):
                return self.bn(self.conv(x))

        class Net(nn.Module):
            def __init__(self):
                self.block = Block()
                self.head = nn.Sequential(nn.Flatten(), nn.Linear(8, 3), nn.ReLU())

            def forward(self, x):
                return self.head(self.block(x))

        return Net()

    @staticmethod
    def theirs():
        class Block(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv2d(1, 2, 3)
                self.bn = torch.nn.BatchNorm2d(2)

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.block = Block()
                self.head = torch.nn.Sequential(
                    torch.nn.Flatten(), torch.nn.Linear(8, 3), torch.nn.ReLU()
                )

        return Net()


def test_children_named_modules_and_apply_as_torch() -> None:
    ours, theirs = _Net.ours(), _Net.theirs()
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [type(m).__name__ for m in ours.children()] == [
        type(m).__name__ for m in theirs.children()
    ]
    assert [(n, type(m).__name__) for n, m in ours.named_modules()] == [
        (n, type(m).__name__) for n, m in theirs.named_modules()
    ]
    assert [n for n, _ in ours.named_modules(prefix="net")] == [
        n for n, _ in theirs.named_modules(prefix="net")
    ]
    seen_o, seen_t = [], []
    assert ours.apply(lambda m: seen_o.append(type(m).__name__)) is ours
    theirs.apply(lambda m: seen_t.append(type(m).__name__))
    assert seen_o == seen_t  # children first, then the parent
    assert [n for n, _ in ours.state_dict().items()] == list(theirs.state_dict())


def test_apply_with_nn_init_as_the_habit() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.ones_(m.weight)
            nn.init.constant_(m.bias, 0.5)

    model.apply(init_weights)
    out = model(T(np.ones((1, 3))))
    np.testing.assert_array_equal(out.data, [[14.5, 14.5]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_module_to_dtype_as_torch(dtype) -> None:
    ours = _Net.ours().to(np.float64 if dtype is np.float32 else np.float32).to(dtype)
    theirs = _Net.theirs().to(torch.float32 if dtype is np.float32 else torch.float64)
    st_o, st_t = ours.state_dict(), theirs.state_dict()
    for name in st_t:
        assert str(st_o[name].dtype) == str(st_t[name].dtype).replace("torch.", ""), name
    out = ours(T(np.ones((2, 1, 4, 4)), dtype=dtype))
    assert out.dtype == dtype
    assert ours.double() is ours and ours.head[1].weight.dtype == np.float64
    assert ours.float().head[1].weight.dtype == np.float32
    assert ours.to("cpu") is ours
    with pytest.raises(ValueError, match="Module.to: device 'cuda'"):
        ours.to("cuda")
    with pytest.raises(TypeError, match="only floating dtypes"):
        ours.to(np.int64)


def test_forward_hooks_as_torch() -> None:
    ours, theirs = nn.Linear(3, 2, rng=0), torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    calls = []
    handles = []
    for m, tag in ((ours, "o"), (theirs, "t")):
        handles.append(m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,)))
        handles.append(m.register_forward_hook(lambda mod, args, out: out + 1))
        handles.append(
            m.register_forward_hook(lambda mod, args, out, tag=tag: calls.append((tag, out.shape)))
        )
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(ours(T(x)).data, theirs(torch.tensor(x)).detach().numpy())
    assert calls == [("o", (4, 2)), ("t", torch.Size([4, 2]))]
    for h in handles:
        h.remove()
    np.testing.assert_allclose(ours(T(x)).data, theirs(torch.tensor(x)).detach().numpy())
    assert len(calls) == 2


def test_full_backward_hook_as_torch() -> None:
    ours = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    theirs = theirs.double()
    with torch.no_grad():
        theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    got = {"o": [], "t": []}
    for model, tag in ((ours, "o"), (theirs, "t")):
        for i in (0, 2):

            def hook(mod, gi, go, tag=tag, i=i):
                conv = (lambda a: a) if tag == "o" else (lambda a: a.numpy())
                got[tag].append((i, [None if g is None else conv(g) for g in gi],
                                 [conv(g) for g in go]))  # fmt: skip
                if i == 2:  # replace grad_input: what flows on is doubled
                    return tuple(None if g is None else g * 2 for g in gi)

            model[i].register_full_backward_hook(hook)
    x = np.random.default_rng(0).standard_normal((5, 3))
    xo, xt = T(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ours(xo) ** 2).sum().backward()
    (theirs(xt) ** 2).sum().backward()
    assert [g[0] for g in got["o"]] == [g[0] for g in got["t"]] == [2, 0]
    for (_, gi_o, go_o), (_, gi_t, go_t) in zip(got["o"], got["t"]):
        for a, b in zip(gi_o + go_o, gi_t + go_t):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-12)
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-12, err_msg=n)


def test_backward_hook_on_a_first_layer_gets_none_for_its_input() -> None:
    for lib in ("o", "t"):
        lin = nn.Linear(3, 2, rng=0) if lib == "o" else torch.nn.Linear(3, 2).float()
        seen: list = []
        lin.register_full_backward_hook(lambda m, gi, go, seen=seen: seen.append((gi, go[0].shape)))
        x = np.ones((4, 3))
        lin(T(x) if lib == "o" else torch.tensor(x, dtype=torch.float32)).sum().backward()
        assert len(seen) == 1 and seen[0][0] == (None,) and tuple(seen[0][1]) == (4, 2)


def test_hooks_refuse_what_is_not_callable() -> None:
    with pytest.raises(TypeError, match="register_forward_hook: hook must be callable"):
        nn.Linear(2, 2).register_forward_hook(3)


def test_load_state_dict_strict_as_torch() -> None:
    ours, theirs = nn.Linear(3, 2, rng=0), torch.nn.Linear(3, 2).double()
    state = {"weight": np.ones((2, 3)), "extra": np.zeros(1)}
    res_o = ours.load_state_dict(state, strict=False)
    res_t = theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=False)
    assert res_o.missing_keys == res_t.missing_keys == ["bias"]
    assert res_o.unexpected_keys == res_t.unexpected_keys == ["extra"]
    missing, unexpected = res_o
    assert (missing, unexpected) == (["bias"], ["extra"])
    np.testing.assert_array_equal(ours.weight.data, np.ones((2, 3)))
    assert ours.load_state_dict(ours.state_dict()) == ([], [])
    with pytest.raises(RuntimeError, match="missing keys"):  # PyTorch's error class
        ours.load_state_dict({"weight": np.ones((2, 3))})
    with pytest.raises(ValueError, match="shape"):  # a shape still has to match
        ours.load_state_dict({"weight": np.ones((3, 3))}, strict=False)


# ---------------------------------------------------------------- nn.init
@pytest.mark.parametrize(
    "name,param",
    [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
     ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)],
)  # fmt: skip
def test_calculate_gain_equals_torch(name, param) -> None:
    assert nn.init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


def _fan(shape):
    rec = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * rec, shape[0] * rec


@pytest.mark.parametrize("shape", [(300, 200), (64, 16, 3, 3)])
@pytest.mark.parametrize(
    "fn,kw,kind",
    [("xavier_uniform_", dict(gain=2.0), "uniform"), ("xavier_normal_", dict(gain=0.5), "normal"),
     ("kaiming_uniform_", dict(a=math.sqrt(5)), "uniform"),
     ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu"), "normal"),
     ("uniform_", dict(a=-0.3, b=0.7), "uniform"), ("normal_", dict(mean=1.0, std=0.2), "normal")],
)  # fmt: skip
def test_init_distributions_match_torch(shape, fn, kw, kind) -> None:
    """Same law as torch (the numbers are NumPy's): the same bounds, mean and spread."""
    tg.manual_seed(0)  # both draws seeded: a statistical check must not depend on test order
    torch.manual_seed(0)
    w = nn.Parameter(np.empty(shape))
    assert getattr(nn.init, fn)(w, **kw) is w
    ref = getattr(torch.nn.init, fn)(torch.empty(shape, dtype=torch.float64), **kw).numpy()
    if kind == "uniform":  # the same interval: extremes within 1% of its width
        width = ref.max() - ref.min()
        assert abs(w.data.max() - ref.max()) < 0.01 * width
        assert abs(w.data.min() - ref.min()) < 0.01 * width
    assert abs(w.data.mean() - ref.mean()) < 0.05 * ref.std() + 1e-12
    assert abs(w.data.std() / ref.std() - 1) < 0.05


def test_init_constants_orthogonal_and_errors_as_torch() -> None:
    w = nn.Parameter(np.empty((3, 5)))
    for fn, args in (("zeros_", ()), ("ones_", ()), ("constant_", (0.25,))):
        ref = getattr(torch.nn.init, fn)(torch.empty(3, 5, dtype=torch.float64), *args)
        np.testing.assert_array_equal(getattr(nn.init, fn)(w, *args).data, ref.numpy())
    for shape in [(6, 4), (4, 6), (4, 2, 3)]:
        q = nn.init.orthogonal_(nn.Parameter(np.empty(shape)), gain=2.0).data.reshape(shape[0], -1)
        small = min(q.shape)
        gram = q @ q.T if q.shape[0] == small else q.T @ q
        np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-12)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):  # torch: ValueError too
        nn.init.xavier_uniform_(nn.Parameter(np.empty(3)))
    with pytest.raises(ValueError):
        torch.nn.init.xavier_uniform_(torch.empty(3))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.kaiming_normal_(w, nonlinearity="softmax")
    with pytest.raises(TypeError, match="nn.init.zeros_: expected a Tensor"):
        nn.init.zeros_(np.zeros(3))
    # in place, no graph, and the version check sees the change (as torch's)
    p = nn.Parameter(np.ones(3))
    y = (p * p).sum()
    nn.init.zeros_(p)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    g = np.random.default_rng(0)
    a = nn.init.normal_(nn.Parameter(np.empty(4)), generator=np.random.default_rng(0)).data
    np.testing.assert_array_equal(a, g.normal(0.0, 1.0, 4))


# ---------------------------------------------------------------- Embedding, losses
@pytest.mark.parametrize("padding_idx", [0, 3, -1])
def test_embedding_padding_idx_as_torch(padding_idx) -> None:
    ours = nn.Embedding(5, 3, padding_idx=padding_idx, rng=0)
    theirs = torch.nn.Embedding(5, 3, padding_idx=padding_idx).double()
    pad = padding_idx % 5
    assert ours.padding_idx == theirs.padding_idx == pad
    np.testing.assert_array_equal(ours.weight.data[pad], theirs.weight.detach().numpy()[pad])
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.weight[pad] = 1.5  # a padding row changed by hand is kept, as PyTorch
    ours.weight.data[pad] = 1.5
    idx = np.array([[0, 3, 4, 3], [1, 1, pad, 2]])
    out, ref = ours(idx), theirs(torch.tensor(idx))
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    (out * out).sum().backward()
    (ref * ref).sum().backward()
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy())
    assert not ours.weight.grad[pad].any()
    with pytest.raises(ValueError, match="Embedding: padding_idx must be within"):
        nn.Embedding(5, 3, padding_idx=5)


_CE_WEIGHT = "weight" in inspect.signature(F.cross_entropy).parameters


@pytest.mark.skipif(not _CE_WEIGHT, reason="F.cross_entropy(weight=) is helper 20a's part")
@pytest.mark.parametrize("kw", [dict(), dict(ignore_index=1), dict(label_smoothing=0.2),
                                dict(reduction="sum"), dict(reduction="none")])  # fmt: skip
def test_cross_entropy_loss_weight_as_torch(kw) -> None:
    w = np.array([0.2, 1.0, 3.0])
    z = np.random.default_rng(0).standard_normal((6, 3))
    y = np.array([0, 1, 2, 2, 1, 0])
    ours = nn.CrossEntropyLoss(weight=w, **kw)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), **kw)
    zo, zt = T(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    lo, lt = ours(zo, y), theirs(zt, torch.tensor(y))
    np.testing.assert_allclose(lo.data, lt.detach().numpy(), rtol=1e-12)
    lo.sum().backward()
    lt.sum().backward()
    np.testing.assert_allclose(zo.grad, zt.grad.numpy(), rtol=1e-12)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]


def test_loss_modules_take_pytorchs_arguments() -> None:
    z, y = T(np.zeros((2, 3))), np.array([0, 2])
    assert nn.CrossEntropyLoss(None, None, -100, None, "sum")(z, y).item() == pytest.approx(
        2 * math.log(3)
    )
    with pytest.raises(ValueError, match="size_average and reduce are PyTorch's deprecated"):
        nn.CrossEntropyLoss(size_average=True)
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction must be"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing must be"):
        nn.CrossEntropyLoss(label_smoothing=2)
    with pytest.raises(ValueError, match="weight must be a 1-D floating tensor"):
        nn.CrossEntropyLoss(weight=np.ones((2, 3)))
    with pytest.raises(ValueError, match="BCEWithLogitsLoss: pos_weight must be floating"):
        nn.BCEWithLogitsLoss(pos_weight=T(np.ones(3, dtype=np.int64), dtype=np.int64))


# ---------------------------------------------------------------- attention
def test_multihead_attention_batch_first_default_is_said_in_the_error() -> None:
    mha = nn.MultiheadAttention(4, 2, rng=0)
    assert mha.batch_first is True  # the contract's default (PyTorch's is False)
    q = T(np.zeros((5, 2, 4)))  # (L, N, E) as PyTorch's default reads it
    kv = T(np.zeros((7, 2, 4)))
    with pytest.raises(ValueError, match=r"batch_first=True is this layer's default"):
        mha(q, kv, kv)
    with pytest.raises(ValueError, match="key and value must have the same shape"):
        mha(q, kv, q)
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(L, S\)"):
        mha(q, q, q, attn_mask=np.zeros((3, 3), dtype=bool))
    with pytest.raises(TypeError, match="expected query as a Tensor"):
        mha(np.zeros((5, 2, 4)), kv, kv)
    # and batch_first=False reads (L, N, E), as PyTorch's default does
    ours = nn.MultiheadAttention(4, 2, batch_first=False, rng=0)
    theirs = torch.nn.MultiheadAttention(4, 2).double()
    with torch.no_grad():
        theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 2, 4))
    out, w = ours(T(x), T(x), T(x))
    ref, rw = theirs(torch.tensor(x), torch.tensor(x), torch.tensor(x))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.data, rw.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_multihead_attention_masks_as_torch() -> None:
    ours = nn.MultiheadAttention(4, 2, rng=0)
    theirs = torch.nn.MultiheadAttention(4, 2, batch_first=True).double()
    with torch.no_grad():
        theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4))
    mask3 = rng.random((4, 3, 3)) < 0.3  # (N·heads, L, S), True: not allowed
    mask3[:, :, 0] = False  # every row may attend somewhere
    for mask in (mask3, rng.standard_normal((3, 3))):
        out, w = ours(T(x), T(x), T(x), attn_mask=mask)
        ref, rw = theirs(*(torch.tensor(x),) * 3, attn_mask=torch.tensor(mask))
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(w.data, rw.detach().numpy(), rtol=1e-10, atol=1e-12)
    # a row that may attend to nothing: NaN in PyTorch's module too (F's function gives 0)
    full = np.zeros((3, 3), dtype=bool)
    full[0] = True
    out, _ = ours(T(x), T(x), T(x), attn_mask=full)
    ref, _ = theirs(*(torch.tensor(x),) * 3, attn_mask=torch.tensor(full))
    np.testing.assert_array_equal(np.isnan(out.data), np.isnan(ref.detach().numpy()))
    with pytest.raises(TypeError, match="attn_mask must be boolean .* or floating"):
        ours(T(x), T(x), T(x), attn_mask=np.zeros((3, 3), dtype=np.int64))
    with pytest.raises((RuntimeError, AssertionError)):  # PyTorch refuses it too
        theirs(*(torch.tensor(x),) * 3, attn_mask=torch.zeros(3, 3, dtype=torch.int64))


def test_a_hooked_call_stays_one_scope_for_the_pictures() -> None:
    lin = nn.Linear(3, 2, rng=0)
    lin.register_forward_hook(lambda m, a, o: o * 2)
    lin.register_full_backward_hook(lambda m, gi, go: None)
    out = lin(T(np.ones((1, 3)), requires_grad=True))
    assert out.scope is not None and out.scope[0] is lin


def test_frozen_parameters_stay_parameters_as_torch() -> None:
    """requires_grad_(False) (fine-tuning's freeze) keeps the parameters in
    named_parameters() and the state dict, as PyTorch; the optimizer skips them."""
    ours = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    theirs = theirs.double()
    with torch.no_grad():
        theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    assert ours[0].requires_grad_(False) is ours[0]
    theirs[0].requires_grad_(False)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    opt_o = tg.optim.SGD(ours.parameters(), lr=0.1)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1)
    x = np.random.default_rng(0).standard_normal((5, 3))
    ours(T(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    opt_o.step()
    opt_t.step()
    assert ours[0].weight.grad is None and theirs[0].weight.grad is None
    for (n, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-12, err_msg=n)


def test_module_registration_habits_as_torch() -> None:
    ours, theirs = nn.Module(), torch.nn.Module()
    ours.add_module("enc", nn.Linear(2, 3))
    theirs.add_module("enc", torch.nn.Linear(2, 3))
    ours.register_module("dec", nn.Linear(3, 2))
    theirs.register_module("dec", torch.nn.Linear(3, 2))
    ours.register_parameter("scale", nn.Parameter(np.ones(2)))
    theirs.register_parameter("scale", torch.nn.Parameter(torch.ones(2)))
    assert sorted(n for n, _ in ours.named_parameters()) == sorted(
        n for n, _ in theirs.named_parameters()
    )
    assert ours.get_submodule("dec") is ours.dec
    assert ours.cpu() is ours and ours.half().enc.weight.dtype == np.float16
    with pytest.raises(AttributeError, match="get_submodule: Module has no sub-module 'mid'"):
        ours.get_submodule("mid")
    with pytest.raises(TypeError, match="register_parameter: expected an nn.Parameter"):
        ours.register_parameter("w", np.ones(2))
    with pytest.raises(RuntimeError, match="Module.cuda: tinygrad_bp runs on NumPy"):
        ours.cuda()
