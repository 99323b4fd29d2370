"""The op table read on Hypothesis-drawn shapes: every binary elementwise case on
mutually broadcastable shapes, every matmul case on shapes drawn from the gufunc
signature ``(m?,n),(n,p?)->(m?,p?)`` with broadcast batch dimensions; values and all
gradients checked against PyTorch in float64."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from .op_cases import CASES, TG, OpCase, output_shape
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
    assert SIGNATURE and all(c.signature == SIGNATURE[0].signature for c in SIGNATURE)
    assert TG.name == "tinygrad_bp"
