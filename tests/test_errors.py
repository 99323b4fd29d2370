"""The bad-input catalogue: each user mistake, the exception it must raise, and a pattern
its message must match.  Every message names the op and says what was expected and what
came; none is an AssertionError or a bare NumPy message."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import Tensor
from tinygrad_bp import functional as F


def T(*shape: int, rg: bool = False) -> Tensor:
    return Tensor(np.ones(shape), requires_grad=rg)


def _logits() -> Tensor:
    return Tensor(np.zeros((3, 4)), requires_grad=True)


def _non_scalar_backward() -> None:
    (T(3, rg=True) * 2).backward()


def _wrong_seed() -> None:
    (T(2, 3, rg=True) * 2).backward(np.ones((3, 2)))


def _wrong_seed_broadcastable() -> None:
    (T(2, 3, rg=True) * 2).backward(np.ones(3))


def _backward_without_graph() -> None:
    (T(3) * 2).sum().backward()


def _backward_freed() -> None:
    y = (T(3, rg=True) * 2).sum()
    y.backward()
    y.backward()


class _WrongCount(tg.Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor) -> Any:
        return a.data * b.data

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        return g  # one gradient for two inputs


class _WrongShape(tg.Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor) -> Any:
        return a.data * 2

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        return g.sum(axis=0)


class _WrongDtype(tg.Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor) -> Any:
        return a.data * 2

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        return np.ones(g.shape, dtype=np.int64)


class _TwoOutputs(tg.Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor) -> Any:
        return a, a

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        return g


def _function_backward(fn: type, n: int = 1, create_graph: bool = False) -> None:
    xs = [T(2, 3, rg=True) for _ in range(n)]
    out = fn.apply(*xs).sum()
    if create_graph:
        tg.grad(out, xs[0], create_graph=True)
    else:
        out.backward()


def _unused_input() -> None:
    x, u = T(3, rg=True), T(2, rg=True)
    tg.grad((x * x).sum(), [x, u])


def _argmax_in_create_graph() -> None:
    x = T(2, 3, rg=True)
    (g,) = tg.grad((x * x).sum(), x, create_graph=True)
    tg.grad(g.argmax(axis=1), x)


def _comparison_in_create_graph() -> None:
    x = T(2, 3, rg=True)
    (g,) = tg.grad((x * x).sum(), x, create_graph=True)
    tg.grad(g > 1, x, grad_outputs=np.ones((2, 3)))


def _inplace_leaf() -> None:
    w = T(3, rg=True)
    w += 1


def _version_check() -> None:
    x, w = T(2, rg=True), T(2, rg=True)
    y = x * w
    with tg.no_grad():
        w -= 1
    y.sum().backward()


# (id, thunk, exception type, regex the message must match)
CATALOGUE: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # ---- matmul: both shapes
    ("matmul-inner", lambda: T(3, 4) @ T(5, 2), ValueError, r"matmul.*\(3, 4\).*\(5, 2\)"),
    ("matmul-1d", lambda: T(3) @ T(4), ValueError, r"matmul.*\(3,\).*\(4,\).*3 and 4"),
    ("matmul-mv", lambda: T(2, 3) @ T(4), ValueError, r"matmul.*\(2, 3\).*\(4,\)"),
    (
        "matmul-batch",
        lambda: T(2, 3, 4) @ T(3, 4, 2),
        ValueError,
        r"matmul.*\(2, 3, 4\).*\(3, 4, 2\).*batch",
    ),
    ("matmul-0d", lambda: T() @ T(3), ValueError, r"matmul.*at least one dimension.*\(\).*\(3,\)"),
    ("rmatmul-array", lambda: np.ones((2, 5)) @ T(3, 2), ValueError, r"matmul.*\(2, 5\).*\(3, 2\)"),
    # ---- broadcasting: both shapes
    ("add-broadcast", lambda: T(3) + T(4), ValueError, r"add.*\(3,\).*\(4,\).*broadcast"),
    ("sub-broadcast", lambda: T(2, 3) - T(3, 2), ValueError, r"sub.*\(2, 3\).*\(3, 2\).*broadcast"),
    ("mul-broadcast", lambda: T(2, 3) * T(2), ValueError, r"mul.*\(2, 3\).*\(2,\).*broadcast"),
    ("div-broadcast", lambda: T(4, 1, 3) / T(2, 4), ValueError, r"div.*\(4, 1, 3\).*\(2, 4\)"),
    ("pow-broadcast", lambda: T(3) ** T(2), ValueError, r"pow.*\(3,\).*\(2,\).*broadcast"),
    ("radd-array-broadcast", lambda: np.ones(4) + T(3), ValueError, r"add.*\(4,\).*\(3,\)"),
    ("add-list-broadcast", lambda: T(3) + [1.0, 2.0], ValueError, r"add.*\(3,\).*\(2,\)"),
    (
        "mse-shapes",
        lambda: F.mse_loss(T(3, rg=True), T(4)),
        ValueError,
        r"mse_loss.*\(4,\).*\(3,\)",
    ),
    # ---- data that is not numbers
    ("string", lambda: Tensor("abc"), TypeError, r"Tensor.*expected numbers.*string 'abc'"),
    ("bytes", lambda: Tensor(b"ab"), TypeError, r"Tensor.*expected numbers.*string"),
    ("ragged", lambda: Tensor([[1.0, 2.0], [3.0]]), ValueError, r"Tensor.*rectangular.*ragged"),
    (
        "object-array",
        lambda: Tensor(np.array([1, "a"], dtype=object)),
        TypeError,
        r"Tensor.*numeric.*dtype object",
    ),
    ("complex", lambda: Tensor([1 + 2j]), TypeError, r"Tensor.*numeric.*complex128"),
    ("none", lambda: Tensor(None), TypeError, r"Tensor.*numeric.*NoneType"),
    ("dict", lambda: Tensor({"a": 1}), TypeError, r"Tensor.*numeric.*dict"),
    ("string-operand", lambda: T(3) + "a", TypeError, r"add.*expected numbers.*string 'a'"),
    ("none-operand", lambda: T(3) * None, TypeError, r"mul.*numeric.*NoneType"),
    ("bad-dtype", lambda: Tensor([1.0], dtype="nonsense"), TypeError, r"Tensor.*dtype 'nonsense'"),
    (
        "complex-dtype",
        lambda: Tensor([1.0], dtype=np.complex64),
        TypeError,
        r"Tensor.*float, int or bool.*complex64",
    ),
    # ---- cross_entropy
    (
        "ce-class-too-big",
        lambda: F.cross_entropy(_logits(), np.array([0, 1, 4])),
        ValueError,
        r"cross_entropy.*class index 4.*4 classes.*0\.\.3",
    ),
    (
        "ce-class-negative",
        lambda: F.cross_entropy(_logits(), np.array([0, -1, 2])),
        ValueError,
        r"cross_entropy.*class index -1.*4 classes",
    ),
    (
        "ce-target-length",
        lambda: F.cross_entropy(_logits(), np.array([0, 1])),
        ValueError,
        r"cross_entropy.*2 labels.*batch of 3.*\(3, 4\)",
    ),
    (
        "ce-target-shape",
        lambda: F.cross_entropy(_logits(), np.zeros((3, 3))),
        ValueError,
        r"cross_entropy.*\(3, 4\).*got \(3, 3\)",
    ),
    (
        "ce-target-3d",
        lambda: F.cross_entropy(_logits(), np.zeros((3, 4, 1))),
        ValueError,
        r"cross_entropy.*\(3,\) or \(3, 4\).*\(3, 4, 1\)",
    ),
    (
        "ce-float-labels",
        lambda: F.cross_entropy(_logits(), np.array([0.5, 1.0, 2.0])),
        ValueError,
        r"cross_entropy.*class indices.*non-integer.*float64",
    ),
    (
        "ce-bool-labels",
        lambda: F.cross_entropy(_logits(), np.array([True, False, True])),
        TypeError,
        r"cross_entropy.*integers.*bool",
    ),
    (
        "ce-1d-logits",
        lambda: F.cross_entropy(Tensor(np.zeros(4), requires_grad=True), np.array([1])),
        ValueError,  # (C,) logits take a 0-d class index, as in PyTorch
        r"cross_entropy: target must be class indices of shape \(\).*\(4,\)",
    ),
    (
        "ce-scalar-target",
        lambda: F.cross_entropy(_logits(), 2),
        TypeError,
        r"cross_entropy.*\(3,\).*\(3, 4\).*int",
    ),
    (
        "ce-logits-not-tensor",
        lambda: F.cross_entropy(np.zeros((3, 4)), np.array([0, 1, 2])),
        TypeError,
        r"cross_entropy.*Tensor.*ndarray",
    ),
    # ---- backward
    (
        "backward-non-scalar",
        _non_scalar_backward,
        RuntimeError,
        r"backward.*one-element.*shape \(3,\)",
    ),
    ("backward-seed-shape", _wrong_seed, ValueError, r"backward.*\(2, 3\).*got \(3, 2\)"),
    (
        "backward-seed-broadcastable",
        _wrong_seed_broadcastable,
        ValueError,
        r"backward.*\(2, 3\).*got \(3,\)",
    ),
    (
        "backward-no-graph",
        _backward_without_graph,
        RuntimeError,
        r"backward.*does not require grad",
    ),
    ("backward-freed", _backward_freed, RuntimeError, r"second time.*retain_graph=True"),
    # ---- shapes and axes
    (
        "reshape-size",
        lambda: T(2, 3).reshape(4, 2),
        ValueError,
        r"reshape.*\(2, 3\).*6 elements.*\(4, 2\)",
    ),
    ("reshape-infer", lambda: T(3).reshape(2, -1), ValueError, r"reshape.*\(3,\).*\(2, -1\)"),
    ("reshape-junk", lambda: T(3).reshape("a"), ValueError, r"reshape.*\(3,\).*'a'"),
    ("sum-axis", lambda: T(2, 3).sum(axis=2), ValueError, r"sum.*axis 2.*2 dims"),
    ("mean-axis", lambda: T(2, 3).mean(axis=-3), ValueError, r"mean.*axis -3.*2 dims"),
    ("max-axis", lambda: T(2, 3).max(axis=(0, 5)), ValueError, r"max.*axis 5.*2 dims"),
    (
        "max-repeated-axis",
        lambda: T(2, 3).max(axis=(1, -1)),
        ValueError,
        r"max.*repeated axis.*\(1, -1\)",
    ),
    ("sum-float-axis", lambda: T(2, 3).sum(axis=1.0), TypeError, r"sum.*axis must be an int.*1\.0"),
    ("softmax-axis", lambda: T(3).softmax(axis=3), ValueError, r"softmax.*axis 3.*1 dims"),
    (
        "log-softmax-axis",
        lambda: T(2, 2).log_softmax(2),
        ValueError,
        r"log_softmax.*axis 2.*2 dims",
    ),
    ("softmax-0d", lambda: T().softmax(1), ValueError, r"softmax: axis 1 is out of range"),
    (
        "transpose-axes",
        lambda: T(2, 3).transpose(0, 5),
        ValueError,
        r"transpose.*\(0, 5\).*permutation.*\(2, 3\)",
    ),
    (
        "transpose-count",
        lambda: T(2, 3, 4).transpose(1, 0),
        ValueError,
        r"transpose.*\(1, 0\).*3 axes.*\(2, 3, 4\)",
    ),
    (
        "amax-empty-axis",  # (the mean of nothing is NaN, as in PyTorch; its maximum is refused)
        lambda: Tensor(np.ones((0, 3))).amax(axis=0),
        ValueError,
        r"max: cannot reduce an empty axis .*\(0, 3\)",
    ),
    ("max-empty", lambda: Tensor(np.ones((0, 3))).max(), ValueError, r"max.*empty.*\(0, 3\)"),
    # ---- scalars
    ("item-non-scalar", lambda: T(2).item(), ValueError, r"item.*one-element.*shape \(2,\)"),
    ("bool-non-scalar", lambda: bool(T(2)), ValueError, r"bool.*shape \(2,\).*ambiguous"),
    ("len-0d", lambda: len(T()), TypeError, r"len\(\).*0-d"),
    # ---- requires_grad on integers
    (
        "int-requires-grad",
        lambda: Tensor([1, 2], dtype=np.int64, requires_grad=True),
        TypeError,
        r"Tensor.*floating.*int64",
    ),
    (
        "int-requires-grad_",
        lambda: Tensor([1, 2], dtype=np.int32).requires_grad_(),
        TypeError,
        r"requires_grad_.*floating.*int32",
    ),
    ("cast-to-int", lambda: T(2, rg=True).astype(np.int64), TypeError, r"cast.*floats.*int64"),
    (
        "requires-grad-non-leaf",
        lambda: (T(2, rg=True) * 2).requires_grad_(False),
        RuntimeError,
        r"requires_grad_.*leaf",
    ),
    (
        "default-dtype-int",
        lambda: tg.set_default_dtype(np.int64),
        TypeError,
        r"set_default_dtype.*floating.*int64",
    ),
    # ---- indexing
    ("index-out-of-range", lambda: T(3, 2)[5], IndexError, r"getitem.*index 5.*size 3.*\(3, 2\)"),
    (
        "index-array-out-of-range",
        lambda: T(3, 2)[np.array([0, 7])],
        IndexError,
        r"getitem.*index 7.*size 3",
    ),
    ("index-second-axis", lambda: T(3, 2)[:, 2], IndexError, r"getitem.*index 2.*axis 1.*size 2"),
    ("index-float-array", lambda: T(3)[np.array([0.5])], IndexError, r"getitem.*integers.*float64"),
    ("index-string", lambda: T(3)["a"], IndexError, r"getitem.*valid indices.*\(3,\).*index 'a'"),
    ("index-too-many", lambda: T(3)[0, 1], IndexError, r"getitem.*too many indices.*\(3,\)"),
    # ---- gradcheck misuse
    (
        "gradcheck-no-grad",
        lambda: tg.gradcheck(lambda t: t * 2, [T(2)]),
        ValueError,
        r"gradcheck.*requires_grad=True",
    ),
    (
        "gradcheck-not-tensor",
        lambda: tg.gradcheck(lambda t: 3.0, [T(2, rg=True)]),
        TypeError,
        r"gradcheck.*Tensor.*float",
    ),
    # ---- higher-order gradients and custom ops (issue 10)
    (
        "grad-unused-input",
        _unused_input,
        RuntimeError,
        r"grad: inputs\[1\] \(shape \(2,\)\) does not take part.*allow_unused=True",
    ),
    (
        "grad-argmax-create-graph",
        _argmax_in_create_graph,
        TypeError,
        r"grad: outputs\[0\] is a ndarray, expected a Tensor.*argmax.*not differentiable",
    ),
    (
        "grad-comparison-create-graph",
        _comparison_in_create_graph,
        RuntimeError,
        r"grad: outputs\[0\] is a bool tensor \(shape \(2, 3\)\).*comparison.*not "
        r"differentiable",
    ),
    (
        "grad-input-not-requiring-grad",
        lambda: tg.grad((T(3, rg=True) * 2).sum(), [T(3)]),
        RuntimeError,
        r"grad: inputs\[0\] does not require grad",
    ),
    (
        "grad-outputs-count",
        lambda: (lambda x: tg.grad([x * 2, x * 3], x, grad_outputs=[np.ones(3)]))(T(3, rg=True)),
        ValueError,
        r"grad: got 1 grad_outputs for 2 outputs",
    ),
    (
        "grad-outputs-shape",
        lambda: (lambda x: tg.grad(x * 2, x, grad_outputs=np.ones(4)))(T(3, rg=True)),
        ValueError,
        r"grad: grad_outputs\[0\] has shape \(4,\), expected the output's shape \(3,\)",
    ),
    (
        "grad-non-scalar-no-seed",
        lambda: (lambda x: tg.grad(x * 2, x))(T(3, rg=True)),
        RuntimeError,
        r"grad: .*one-element outputs; outputs\[0\] has shape \(3,\).*grad_outputs",
    ),
    (
        "backward-create-graph",
        lambda: (T(3, rg=True) * 2).sum().backward(create_graph=True),
        RuntimeError,
        r"backward: create_graph=True.*tg\.autograd\.grad",
    ),
    (
        "function-count",
        lambda: _function_backward(_WrongCount, 2),
        RuntimeError,
        r"_WrongCount\.backward returned 1 gradients, expected 2",
    ),
    (
        "function-count-create-graph",
        lambda: _function_backward(_WrongCount, 2, create_graph=True),
        RuntimeError,
        r"_WrongCount\.backward returned 1 gradients, expected 2",
    ),
    (
        "function-shape",
        lambda: _function_backward(_WrongShape),
        RuntimeError,
        r"_WrongShape backward returned a gradient of shape \(3,\) for an input of shape \(2, 3\)",
    ),
    (
        "function-dtype",
        lambda: _function_backward(_WrongDtype),
        TypeError,
        r"_WrongDtype\.backward returned a gradient of dtype int64 for argument 0 \(float64\)",
    ),
    (
        "function-two-outputs",
        lambda: _TwoOutputs.apply(T(2, rg=True)),
        TypeError,
        r"_TwoOutputs\.forward returned 2 values.*one Tensor",
    ),
    (
        "gradgradcheck-no-grad",
        lambda: tg.gradgradcheck(lambda t: t * t, [T(2)]),
        ValueError,
        r"gradgradcheck.*requires_grad=True",
    ),
    (
        "hook-not-callable",
        lambda: T(2, rg=True).register_hook(3),
        TypeError,
        r"register_hook: expected a callable, got int",
    ),
    (
        "hook-no-grad",
        lambda: T(2).register_hook(lambda g: g),
        RuntimeError,
        r"register_hook.*doesn't require gradient",
    ),
    # ---- in place
    (
        "inplace-leaf",
        _inplace_leaf,
        RuntimeError,
        r"\+=: a leaf Variable that requires grad is being used in an in-place operation",
    ),
    (
        "inplace-expanded-view",
        lambda: (T(2, rg=True) * 2).expand(3, 2).mul_(3),
        RuntimeError,
        r"mul_: unsupported operation: more than one element of the written-to tensor",
    ),
    (
        "inplace-version",
        _version_check,
        RuntimeError,
        r"modified by an inplace operation: mul saved its input of shape \(2,\)",
    ),
    (
        "inplace-shape",
        lambda: T(2).__iadd__(T(3)),
        ValueError,
        r"\+=: an operand of shape \(3,\) does not broadcast to the tensor's shape \(2,\)",
    ),
    (
        "inplace-int-dtype",
        lambda: Tensor([1, 2], dtype=np.int64).__iadd__(0.5),
        TypeError,
        r"\+=: the result cannot be stored in a tensor of dtype int64",
    ),
    # ---- the ops of the API additions
    (
        "cat-shapes",
        lambda: tg.cat([T(2, 3), T(2, 4), T(1, 3)], 0),
        ValueError,
        r"cat: .*same shape except along axis 0; got shapes \(2, 3\), \(2, 4\), \(1, 3\)",
    ),
    (
        "cat-ranks",
        lambda: tg.cat([T(2, 3), T(3)], 0),
        ValueError,
        r"cat: .*got shapes \(2, 3\), \(3,\)",
    ),
    ("cat-not-a-list", lambda: tg.cat(T(2, 3)), TypeError, r"cat: expected a non-empty list"),
    (
        "stack-shapes",
        lambda: tg.stack([T(2, 3), T(3, 2)]),
        ValueError,
        r"stack: every tensor must have the same shape; got shapes \(2, 3\), \(3, 2\)",
    ),
    (
        "gather-out-of-range",
        lambda: T(3, 4).gather(1, np.array([[0, 4]] * 3)),
        IndexError,
        r"gather: index 4 is out of range for axis 1 of size 4 \(valid: 0\.\.3\)",
    ),
    (
        "gather-negative",
        lambda: T(3, 4).gather(1, np.array([[0, -1]] * 3)),
        IndexError,
        r"gather: index -1 is out of range for axis 1 of size 4",
    ),
    (
        "gather-index-dims",
        lambda: T(3, 4).gather(1, np.array([0, 1])),
        ValueError,
        r"gather: index must have as many dims as the input \(2\), got index shape \(2,\)",
    ),
    (
        "gather-float-index",
        lambda: T(3, 4).gather(1, np.array([[0.5, 1.0]] * 3)),
        TypeError,
        r"gather: index must hold integers, got dtype float64",
    ),
    (
        "unsqueeze-past-rank",
        lambda: T(3, 4).unsqueeze(3),
        ValueError,
        r"unsqueeze: axis 3 is out of range for a tensor with 2 dims \(expected -3\.\.2\)",
    ),
    (
        "unsqueeze-negative",
        lambda: T(3, 4).unsqueeze(-4),
        ValueError,
        r"unsqueeze: axis -4 is out of range for a tensor with 2 dims",
    ),
    ("squeeze-axis", lambda: T(3).squeeze(2), ValueError, r"squeeze: axis 2.*1 dims"),
    (
        "split-sizes",
        lambda: T(5, 3).split([2, 2], 0),
        ValueError,
        r"split: sizes \[2, 2\] must .* add up to 5.*\(5, 3\)",
    ),
    ("split-zero", lambda: T(5).split(0), ValueError, r"split: split_size must be positive"),
    (
        "where-cond-dtype",
        lambda: tg.where(np.ones(3), T(3), T(3)),
        TypeError,
        r"where: cond must be boolean, got dtype float64",
    ),
    (
        "where-broadcast",
        lambda: tg.where(np.ones(3, bool), T(3), T(4)),
        ValueError,
        r"where: shapes \(3,\), \(3,\) and \(4,\) cannot be broadcast",
    ),
    (
        "maximum-broadcast",
        lambda: tg.maximum(T(3), T(4)),
        ValueError,
        r"maximum: shapes \(3,\) and \(4,\) cannot be broadcast",
    ),
    ("clamp-no-bounds", lambda: T(3).clamp(), ValueError, r"clamp: at least one of min and max"),
    (
        "pad-widths",
        lambda: T(3, 4).pad(((1, 2), (1, 2), (0, 1))),
        ValueError,
        r"pad: pad_width .* does not fit a tensor with 2 dims",
    ),
    ("pad-negative", lambda: T(3).pad(-1), ValueError, r"pad: pad widths must be non-negative"),
    (
        "einsum-sizes",
        lambda: tg.einsum("ij,jk->ik", T(2, 3), T(4, 2)),
        ValueError,
        r"einsum: subscript 'j' has sizes 3 and 4.*\(2, 3\), \(4, 2\)",
    ),
    (
        "einsum-operands",
        lambda: tg.einsum("ij->i", T(3, 3), T(3)),
        ValueError,
        r"einsum: 'ij->i' names 1 operands, got 2",
    ),
    (
        "einsum-diagonal",
        lambda: tg.einsum("ii->i", T(3, 3)),
        ValueError,
        r"einsum: repeated subscripts.*not supported",
    ),
    (
        "swapaxes-axis",
        lambda: T(2, 3).swapaxes(0, 2),
        ValueError,
        r"swapaxes: axis 2 is out of range for 2 dims",
    ),
    (
        "transpose-two-axes-matrix",
        lambda: T(2, 3).transpose(0, 1),
        ValueError,
        r"transpose: transpose\(0, 1\) of a tensor of shape \(2, 3\) is the identity in NumPy.*"
        r"swapaxes\(0, 1\)",
    ),
    (
        "permute-not-a-permutation",
        lambda: T(3, 4).permute(0, 0),
        ValueError,
        r"transpose: axes \(0, 0\) are not a permutation.*\(3, 4\)",
    ),
    (
        "view-size",
        lambda: T(3, 4).view(5),
        ValueError,
        r"reshape: cannot reshape a tensor of shape \(3, 4\) \(12 elements\) into \(5,\)",
    ),
    (
        "var-ddof",  # (ddof >= n gives NaN with a warning, as in PyTorch)
        lambda: T(1, 3).var(axis=0, ddof=-1),
        ValueError,
        r"var: ddof must be a non-negative int, got -1",
    ),
    (
        "flatten-order",
        lambda: T(2, 3, 4).flatten(2, 1),
        ValueError,
        r"flatten: start_axis 2 comes after end_axis 1",
    ),
    ("cumsum-no-axis", lambda: T(3).cumsum(), TypeError, r"cumsum: axis \(or dim\) is required"),
    (
        "broadcast-to",
        lambda: T(2, 3).broadcast_to((3, 3)),
        ValueError,
        r"broadcast_to: cannot broadcast shape \(2, 3\) to \(3, 3\)",
    ),
    (
        "max-empty-all",  # (logsumexp of nothing is -inf, as in PyTorch)
        lambda: T(0).max(),
        ValueError,
        r"max: cannot reduce an empty axis of a tensor of shape \(0,\)",
    ),
    (
        "sum-axis-and-dim",
        lambda: T(2, 3).sum(axis=0, dim=1),
        TypeError,
        r"sum: got both axis=0 and dim=1",
    ),
    (
        "backward-grad-and-gradient",
        lambda: (T(2, rg=True) * 2).backward([1.0, 1.0], gradient=[1.0, 1.0]),
        TypeError,
        r"backward: pass grad or gradient",
    ),
    ("iterate-0d", lambda: list(T()), TypeError, r"iteration over a 0-d tensor"),
    ("sum-0d", lambda: sum(T()), TypeError, r"iteration over a 0-d tensor"),
    (
        "mse-list-target-shape",
        lambda: F.mse_loss(T(3, rg=True), [[1.0, 2.0], [2.0, 1.0]]),
        ValueError,
        r"mse_loss: target shape \(2, 2\) does not broadcast with the prediction's shape \(3,\)",
    ),
    (
        "ce-int-logits",
        lambda: F.cross_entropy(Tensor([[1, 2], [3, 4]], dtype=np.int64), np.array([0, 1])),
        TypeError,
        r"cross_entropy: logits must be floating point, got dtype int64",
    ),
    # ---- factories
    ("zeros-negative", lambda: tg.zeros(2, -1), ValueError, r"zeros: sizes must be non-negative"),
    ("zeros-float", lambda: tg.zeros(2.5), TypeError, r"zeros: sizes must be ints, got \(2\.5,\)"),
    (
        "manual-seed-negative",
        lambda: tg.manual_seed(-1),
        ValueError,
        r"manual_seed: seed must be a non-negative int, got -1",
    ),
    ("arange-step", lambda: tg.arange(0, 3, 0), ValueError, r"arange: step must be nonzero"),
]


@pytest.mark.parametrize(
    "thunk, exc_type, pattern", [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE]
)
def test_bad_input(thunk: Callable[[], Any], exc_type: type[Exception], pattern: str) -> None:
    with pytest.raises(Exception) as info:
        thunk()
    err = info.value
    assert not isinstance(err, AssertionError), f"AssertionError: {err}"
    assert isinstance(err, exc_type), f"{type(err).__name__}: {err}"
    assert re.search(pattern, str(err)), f"message {str(err)!r} does not match {pattern!r}"


def test_catalogue_ids_are_unique() -> None:
    ids = [c[0] for c in CATALOGUE]
    assert len(ids) == len(set(ids))


def test_an_error_leaves_no_half_built_state() -> None:
    x = T(3, rg=True)
    with pytest.raises(ValueError):
        x + T(4)
    assert x.grad is None and tg.is_grad_enabled()
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])
