"""The op table read on Hypothesis-drawn shapes: every binary elementwise case on
mutually broadcastable shapes (maximum, minimum and where included), every matmul case on
shapes drawn from the gufunc signature ``(m?,n),(n,p?)->(m?,p?)`` with broadcast batch
dimensions, and every shape op (squeeze, unsqueeze, flatten, permute, swapaxes, flip, pad,
cat, stack, split, broadcast_to) on drawn shapes with arguments drawn to fit, empty axes
included; values and all gradients checked against PyTorch in float64."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

from .op_cases import CASES, TG, OpCase, case, output_shape
from .test_op_torch import check_against_torch

BROADCAST = [c for c in CASES if c.broadcast]
SIGNATURE = [c for c in CASES if c.signature]


def _ints(shapes: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(n) for n in s) for s in shapes)


@pytest.mark.parametrize("c", BROADCAST, ids=repr)
@given(
    data=mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=4
    ),
    seed=st.integers(0, 2**16),
)
def test_broadcast_shapes_match_torch(c: OpCase, data, seed: int) -> None:
    shapes = _ints(data.input_shapes)
    arrays = c.inputs(shapes=shapes, seed=seed)
    assert output_shape(c, arrays) == data.result_shape
    check_against_torch(c, arrays)


# One matmul case suffices per signature: the drawn shapes cover 1-D, 2-D and batched.
@pytest.mark.parametrize("c", SIGNATURE[:1], ids=repr)
@given(
    data=mutually_broadcastable_shapes(
        signature="(m?,n),(n,p?)->(m?,p?)", max_dims=5, min_side=0, max_side=4
    ),
    seed=st.integers(0, 2**16),
)
def test_matmul_signatures_match_torch(c: OpCase, data, seed: int) -> None:
    shapes = _ints(data.input_shapes)
    arrays = c.inputs(shapes=shapes, seed=seed)
    assert output_shape(c, arrays) == data.result_shape
    check_against_torch(c, arrays)


def test_table_has_hypothesis_cases() -> None:
    names = {c.name for c in BROADCAST}
    assert {"add", "sub", "mul", "div", "pow_tensor"} <= names
    assert {"maximum", "minimum", "where_compare"} <= names  # the new binary ops
    assert SIGNATURE and all(c.signature == SIGNATURE[0].signature for c in SIGNATURE)
    assert TG.name == "tinygrad_bp"


# ---------------------------------------------------------------- shape ops on drawn shapes
def _axis(data: st.DataObject, nd: int, extra: int = 0) -> int:
    """An axis of an nd-dim tensor (``extra`` = 1: one past, as unsqueeze and stack take),
    negative half of the time."""
    return data.draw(st.integers(-nd - extra, nd - 1 + extra))


def _shape_op(name: str, data: st.DataObject, shape: tuple[int, ...]) -> OpCase:
    """An op case for shape op ``name`` with arguments drawn to fit ``shape``."""
    nd = len(shape)
    if name == "squeeze":
        axis = _axis(data, nd)
        return case(name, lambda m, a: a.squeeze(axis) * 2, shape)
    if name == "unsqueeze":
        axis = _axis(data, nd, extra=1)
        return case(name, lambda m, a: a.unsqueeze(axis) * 2, shape)
    if name == "flatten":
        s = data.draw(st.integers(0, nd - 1))
        e = data.draw(st.integers(s, nd - 1))
        return case(name, lambda m, a: a.flatten(s, e) * 2, shape)
    if name == "permute":
        perm = data.draw(st.permutations(range(nd)))
        return case(name, lambda m, a: a.permute(*perm) * 2, shape)
    if name == "swapaxes":
        a0, a1 = _axis(data, nd), _axis(data, nd)
        return case(name, lambda m, a: a.swapaxes(a0, a1) * 2, shape)
    if name == "flip":
        axes = tuple(data.draw(st.lists(st.integers(0, nd - 1), min_size=1, unique=True)))
        return case(name, lambda m, a: m.flip(a, axes) * 2, shape)
    if name == "pad":
        widths = tuple(
            (data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in range(nd)
        )
        return case(name, lambda m, a: m.pad(a, widths, 0.25) * 2, shape)
    if name == "cat":
        axis = _axis(data, nd)
        other = list(shape)
        other[axis] = data.draw(st.integers(0, 3))
        return case(name, lambda m, a, b: m.cat([a, b * b], axis), shape, tuple(other))
    if name == "stack":
        axis = _axis(data, nd, extra=1)
        return case(name, lambda m, a, b: m.stack([a, b * b], axis), shape, shape)
    if name == "split":
        axis = _axis(data, nd)
        size = data.draw(st.integers(1, max(1, shape[axis])))
        return case(
            name,
            lambda m, a: m.cat([p * (k + 1) for k, p in enumerate(a.split(size, axis))], axis),
            shape,
        )
    if name == "broadcast_to":
        lead = tuple(data.draw(st.lists(st.integers(0, 3), max_size=2)))
        small = tuple(1 if data.draw(st.booleans()) else n for n in shape)
        return case(name, lambda m, a: a.broadcast_to(lead + shape) * 2, small)
    raise AssertionError(name)


SHAPE_OPS = ["squeeze", "unsqueeze", "flatten", "permute", "swapaxes", "flip", "pad", "cat",
             "stack", "split", "broadcast_to"]  # fmt: skip


@pytest.mark.parametrize("name", SHAPE_OPS)
@given(
    shape=array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=3),
    data=st.data(),
)
def test_shape_ops_on_drawn_shapes_match_torch(name: str, shape, data) -> None:
    c = _shape_op(name, data, tuple(int(n) for n in shape))
    check_against_torch(c, c.inputs(seed=data.draw(st.integers(0, 2**16))))
