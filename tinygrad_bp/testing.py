"""``tg.testing.assert_close``: PyTorch's ``torch.testing.assert_close`` for tests ported
to tinygrad_bp: Tensors, arrays and numbers, PyTorch's default tolerances by dtype."""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["assert_close"]

# PyTorch's defaults: (rtol, atol) by dtype
_TOL = {
    np.dtype(np.float16): (1e-3, 1e-5),
    np.dtype(np.float32): (1.3e-6, 1e-5),
    np.dtype(np.float64): (1e-7, 1e-7),
}


def _array(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.numpy()
    return np.asarray(x)


def assert_close(actual: Any, expected: Any, *, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False,
                 check_dtype: bool = True, msg: str | None = None) -> None:  # fmt: skip
    """Raise ``AssertionError`` unless ``actual`` and ``expected`` have the same shape
    (and dtype, with ``check_dtype``) and ``|actual − expected| ≤ atol + rtol·|expected|``
    everywhere; integers and booleans must be equal.  Tolerances default to PyTorch's for
    the dtype (float32: 1.3e-6 and 1e-5; float64: 1e-7 and 1e-7); give both or neither.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> tg.testing.assert_close(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 2.0 + 1e-9]))
    """
    if (rtol is None) != (atol is None):
        raise ValueError("assert_close: give both rtol and atol, or neither (as PyTorch)")
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            raise AssertionError(
                f"assert_close: sequences of lengths {len(actual)} and {len(expected)}"
            )
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)  # fmt: skip
        return
    a, e = _array(actual), _array(expected)
    if a.shape != e.shape:
        raise AssertionError(msg or f"assert_close: shapes differ: {a.shape} and {e.shape}")
    if check_dtype and isinstance(actual, Tensor) and isinstance(expected, Tensor):
        if a.dtype != e.dtype:
            raise AssertionError(msg or f"assert_close: dtypes differ: {a.dtype} and {e.dtype}")
    if a.dtype.kind in "biu" and e.dtype.kind in "biu":
        if not np.array_equal(a, e):
            bad = int((a != e).sum())
            raise AssertionError(msg or f"assert_close: {bad} of {a.size} elements differ")
        return
    if rtol is None:
        rtol, atol = _TOL.get(np.result_type(a.dtype, e.dtype), (1e-7, 1e-7))
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    with np.errstate(invalid="ignore"):
        close = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if not close.all():
        bad = ~close
        diff = np.abs(a64 - e64)[bad]
        raise AssertionError(
            msg
            or f"assert_close: {int(bad.sum())} of {a.size} elements differ beyond rtol={rtol}, "
            f"atol={atol} (greatest absolute difference {np.nanmax(diff) if diff.size else 0})"
        )
