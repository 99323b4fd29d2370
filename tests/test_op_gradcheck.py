"""The op table read by finite differences through the public ``tg.gradcheck`` (float64).

``gradcheck`` compares the whole Jacobian, so every output element counts already; the
outputs are still weighted by fixed random numbers, which changes nothing the check sees
but keeps each case's function the one the other op tables differentiate.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import tinygrad_bp as tg

from .op_cases import GRADCHECK_CASES, TG, OpCase, output_shape


@pytest.mark.parametrize("c", GRADCHECK_CASES, ids=repr)
def test_gradcheck(c: OpCase) -> None:
    arrays = c.inputs()
    rng = np.random.default_rng([zlib.crc32(c.name.encode()), 7])
    weights = rng.normal(size=output_shape(c, arrays))
    xs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    assert tg.gradcheck(lambda *ts: c.fn(TG, *ts) * weights, xs) is True
