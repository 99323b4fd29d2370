"""F.cross_entropy: one fused primitive, stable at logits of ±1e4, integer and
one-hot/probability targets, gradient (softmax - onehot) / N, matching PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from tinygrad_bp import Tensor
from tinygrad_bp import functional as F

RNG = np.random.default_rng(1234)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _torch(z: np.ndarray, target) -> tuple[float, np.ndarray]:
    zt = torch.tensor(z, requires_grad=True)
    tt = torch.tensor(target)
    loss = TF.cross_entropy(zt, tt)
    loss.backward()
    return loss.item(), zt.grad.numpy()


def test_is_one_fused_primitive() -> None:
    z = Tensor(RNG.normal(size=(4, 3)), requires_grad=True)
    loss = F.cross_entropy(z, np.array([0, 1, 2, 1]))
    assert loss.op == "cross_entropy" and loss.parents[0] is z and loss.shape == ()


@pytest.mark.parametrize("scale", [1.0, 1e2, 1e4, -1e4])
def test_integer_targets_gradient_is_softmax_minus_onehot_over_n(scale: float) -> None:
    z = RNG.normal(size=(6, 5)) * scale
    y = np.array([0, 4, 2, 2, 1, 3])
    zt = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(zt, y)
    loss.backward()
    onehot = np.eye(5)[y]
    expected = (_softmax(z) - onehot) / 6
    assert np.isfinite(loss.item()) and np.all(np.isfinite(zt.grad))
    np.testing.assert_allclose(zt.grad, expected, rtol=1e-12, atol=1e-15)
    tl, tgrad = _torch(z, y)
    np.testing.assert_allclose(loss.item(), tl, rtol=1e-10)
    np.testing.assert_allclose(zt.grad, tgrad, rtol=1e-10, atol=1e-15)


def test_extreme_logits_are_finite_and_exact() -> None:
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]])
    y = np.array([1, 2, 0])
    zt = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(zt, y)
    loss.backward()
    # row 0: -log softmax = 2e4; row 1: 0; row 2: log 2
    np.testing.assert_allclose(loss.item(), (2e4 + 0 + np.log(2)) / 3, rtol=1e-15)
    tl, tgrad = _torch(z, y)
    np.testing.assert_allclose(loss.item(), tl, rtol=1e-12)
    np.testing.assert_allclose(zt.grad, tgrad, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("kind", ["onehot", "probs"])
def test_matrix_targets(kind: str) -> None:
    z = RNG.normal(size=(5, 4)) * 3
    if kind == "onehot":
        y = np.eye(4)[[3, 0, 1, 1, 2]]
    else:
        y = _softmax(RNG.normal(size=(5, 4)))
    zt = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(zt, y)
    loss.backward()
    np.testing.assert_allclose(zt.grad, (_softmax(z) - y) / 5, rtol=1e-12, atol=1e-15)
    tl, tgrad = _torch(z, y)
    np.testing.assert_allclose(loss.item(), tl, rtol=1e-10)
    np.testing.assert_allclose(zt.grad, tgrad, rtol=1e-10, atol=1e-15)


def test_onehot_and_integer_targets_agree() -> None:
    z = RNG.normal(size=(4, 3))
    y = np.array([2, 2, 0, 1])
    a, b = Tensor(z, requires_grad=True), Tensor(z, requires_grad=True)
    la, lb = F.cross_entropy(a, y), F.cross_entropy(b, np.eye(3)[y])
    la.backward()
    lb.backward()
    np.testing.assert_allclose(la.item(), lb.item(), rtol=1e-14)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-14, atol=1e-17)


def test_targets_as_tensor_list_or_integral_floats() -> None:
    z = RNG.normal(size=(3, 3))
    ref = F.cross_entropy(Tensor(z), np.array([0, 2, 1])).item()
    assert F.cross_entropy(Tensor(z), [0, 2, 1]).item() == ref
    assert F.cross_entropy(Tensor(z), Tensor([0, 2, 1], dtype=np.int64)).item() == ref
    assert F.cross_entropy(Tensor(z), Tensor([0, 2, 1])).item() == ref  # float64 0., 2., 1.


def test_labels_are_not_mutated() -> None:
    y = np.array([1, 0, 1])
    before = y.copy()
    z = Tensor(RNG.normal(size=(3, 2)), requires_grad=True)
    F.cross_entropy(z, y).backward()
    np.testing.assert_array_equal(y, before)


# Shapes on both sides of the column-wise row maximum (n >= 16·c) and the BLAS row sum,
# C- and F-ordered logits (the flat target indices must address the right elements).
@pytest.mark.parametrize("n, c", [(150, 3), (512, 10), (32, 10), (7, 5), (64, 1), (200, 12)])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_against_pytorch_for_batch_shapes_layouts_and_dtypes(n, c, order, dtype) -> None:
    rng = np.random.default_rng(n * 100 + c)
    z = (rng.normal(size=(n, c)) * 6).astype(dtype)
    z = np.asfortranarray(z) if order == "F" else z
    y = rng.integers(0, c, n)
    t = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(t, y)
    loss.backward()
    ref_loss, ref_grad = _torch(z, y)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    assert loss.dtype == t.grad.dtype == dtype
    np.testing.assert_allclose(loss.item(), ref_loss, rtol=tol)
    np.testing.assert_allclose(t.grad, ref_grad, rtol=tol, atol=tol / n)
    view = Tensor(np.ascontiguousarray(z.T), requires_grad=True)  # a transposed view
    F.cross_entropy(view.T, y).backward()
    np.testing.assert_allclose(view.grad.T, ref_grad, rtol=tol, atol=tol / n)


@pytest.mark.parametrize("n", [4, 150])
def test_a_nan_logit_gives_a_nan_loss_on_every_path(n) -> None:
    z = np.zeros((n, 3))
    z[1, 2] = np.nan
    assert np.isnan(F.cross_entropy(Tensor(z), np.zeros(n, dtype=int)).item())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_label_dtype_gives_the_same_bits(dtype) -> None:
    # int64 labels (intp) are read in place, the others through a converted copy: the
    # loss and gradient must not depend on which, and no label array is written
    rng = np.random.default_rng(7)
    z = (rng.normal(size=(150, 3)) * 4).astype(dtype)
    y = rng.integers(0, 3, 150)
    got = []
    for ydt in (np.int64, np.int8, np.uint8, np.int32, np.uint64, np.float64):
        labels = y.astype(ydt)
        before = labels.copy()
        t = Tensor(z, requires_grad=True)
        loss = F.cross_entropy(t, labels)
        loss.backward()
        np.testing.assert_array_equal(labels, before)
        got.append((loss.numpy().tobytes(), t.grad.tobytes()))
    assert all(g == got[0] for g in got[1:])
    ref_loss, ref_grad = _torch(z, y)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(loss.item(), ref_loss, rtol=tol)
    np.testing.assert_allclose(t.grad, ref_grad, rtol=tol, atol=tol / 150)


def test_a_compiled_step_still_refuses_a_label_made_bad_in_place() -> None:
    # the replay checks the labels on every call: written out of range in place, the
    # compiled step raises the eager step's error, and runs on once they are repaired
    import tinygrad_bp as tg
    from tinygrad_bp import nn, optim

    rng = np.random.default_rng(3)
    model = nn.Dense(4, 3, dtype=np.float64, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = Tensor(rng.normal(size=(20, 4)))
    y = rng.integers(0, 3, 20)

    def step() -> float:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    fast = tg.compile(step)
    for _ in range(4):
        fast()
    assert fast.replays == 1
    good = y[5]
    for bad in (3, -1, 1000):
        y[5] = bad
        with pytest.raises(ValueError, match=rf"cross_entropy: class index {bad} is out of range"):
            fast()
    # the failed calls leave the state as the eager step leaves it: zero_grad ran, the
    # loss raised, so every .grad is None; the first call after the repair (from that
    # state) traces, the next one replays
    assert all(p.grad is None for p in model.parameters())
    y[5] = good
    fast()
    fast()
    assert fast.replays == 2


@pytest.mark.parametrize("out", [1, 2, 3, 4, 5, 10])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_layer_with_few_outputs_adds_its_bias_exactly(out, dtype) -> None:
    # the bias of a layer with up to 4 outputs is added column by column (NumPy's
    # order="F"): the same sums, bit for bit, and the gradients as before
    from tinygrad_bp import nn

    rng = np.random.default_rng(out)
    layer = nn.Dense(6, out, dtype=dtype, rng=0)
    layer.b.data[...] = rng.normal(size=out)  # (a zero bias would hide a wrong order)
    x = rng.normal(size=(150, 6)).astype(dtype)
    h = layer(Tensor(x))
    want = x @ layer.W.data + layer.b.data
    assert h.data.flags.c_contiguous and h.data.tobytes() == want.tobytes()
    y = rng.integers(0, out, 150)
    F.cross_entropy(h, y).backward()
    ref_loss, ref_grad = _torch(want, y)  # ∂L/∂b = Σ over the batch of ∂L/∂z
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(layer.b.grad, ref_grad.sum(axis=0), rtol=tol, atol=tol)
