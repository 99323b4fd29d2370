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
        ValueError,
        r"cross_entropy.*\(N, C\).*\(4,\)",
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
    ("softmax-0d", lambda: T().softmax(), ValueError, r"softmax.*at least one dimension.*0-d"),
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
        "mean-empty",
        lambda: Tensor(np.ones((0, 3))).mean(axis=0),
        ValueError,
        r"mean.*empty.*\(0, 3\)",
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
