"""W5, W6 and W7 of the benchmark: tinygrad_bp's step, PyTorch's and the hand-written one
agree on the same problem."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import peers
from tinygrad_bp.commands import _bench_impls as bi

peers.register_all()  # PyTorch eager, the oracle here, is one of the benchmarks page's peers


@pytest.mark.parametrize("key", ["W5", "W6"])  # W7: below, in float64
def test_model_workloads_agree_with_pytorch(key):
    w = bi.MODEL_WORKLOADS[key]
    runs = {}
    for impl in ("tinygrad_bp", "torch"):
        step, params = bi.IMPLS[impl](bi.make_problem(w))
        runs[impl] = ([step() for _ in range(3)], params())
    (la, pa), (lb, pb) = runs["tinygrad_bp"], runs["torch"]
    np.testing.assert_allclose(la, lb, rtol=1e-5)
    p0 = bi.make_problem(w).arrays
    assert [a.shape for a in pa] == [a.shape for a in p0] == [b.shape for b in pb]
    for a, b, start in zip(pa, pb, p0):
        scale = float(np.abs(b - start).max()) or 1.0
        assert float(np.abs(a - b).max()) / scale < 1e-3  # the bench's float32 tolerance
    assert all(a.dtype == np.float32 for a in pa)


def test_model_workloads_are_skipped_by_the_mlp_only_peers():
    for impl in ("tutorial", "mygrad", "autograd"):
        assert bi.skip_reason(impl, bi.MODEL_WORKLOADS["W5"]) is not None
    assert bi.skip_reason("tinygrad_bp", bi.MODEL_WORKLOADS["W6"]) is None


def test_w7_checks_in_float64_where_every_implementation_agrees():
    # W7's AdamW turns float32 noise on exactly-zero gradients (the key bias) into ±lr
    # steps; in float64 the three implementations agree to the float64 tolerance.
    w = bi.MODEL_WORKLOADS["W7"].for_check()
    assert w.dtype == "float64" and bi.MODEL_WORKLOADS["W7"].dtype == "float32"
    p0 = bi.make_problem(w).arrays
    runs = {}
    for impl in ("numpy", "tinygrad_bp", "torch"):
        step, params = bi.IMPLS[impl](bi.make_problem(w))
        runs[impl] = ([step() for _ in range(3)], params())
    for impl in ("tinygrad_bp", "torch"):
        np.testing.assert_allclose(runs[impl][0], runs["numpy"][0], rtol=1e-9)
        for a, b, start in zip(runs[impl][1], runs["numpy"][1], p0):
            assert a.dtype == np.float64
            scale = float(np.abs(b - start).max())
            assert float(np.abs(a - b).max()) / scale < 1e-6  # the bench's float64 tolerance
