"""The op table read with PyTorch as the oracle: forward value and every input's gradient
agree to rtol 1e-10 in float64, with a random seed gradient for non-scalar outputs."""

from __future__ import annotations

import numpy as np
import pytest

from .op_cases import TG, TORCH, TORCH_CASES, OpCase, run_case, seed_for

RTOL = 1e-10
ATOL = 1e-12  # only for entries that are (near) zero, where a relative bound means nothing


def check_against_torch(c: OpCase, arrays: list[np.ndarray]) -> None:
    seed = seed_for(c, arrays)
    ours, our_grads, xs, out = run_case(TG, c, arrays, seed)
    theirs, their_grads, _, tout = run_case(TORCH, c, arrays, seed)
    assert ours.shape == theirs.shape, f"{c.name}: output shape {ours.shape} vs {theirs.shape}"
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=f"{c.name} forward")
    for i, (g, tg_) in enumerate(zip(our_grads, their_grads)):
        assert tg_ is not None, f"{c.name}: torch gave no gradient for input {i}"
        assert g is not None, f"{c.name}: no gradient reached input {i}"
        assert g.shape == xs[i].shape and g.dtype == xs[i].dtype
        np.testing.assert_allclose(
            g, tg_, rtol=RTOL, atol=ATOL, err_msg=f"{c.name}: gradient of input {i}"
        )


@pytest.mark.parametrize("c", TORCH_CASES, ids=repr)
def test_matches_torch(c: OpCase) -> None:
    check_against_torch(c, c.inputs())
