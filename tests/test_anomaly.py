"""tg.detect_anomaly(): the first op whose forward or backward makes NaN or Inf raises,
naming the op and where in the user's code it was created."""

from __future__ import annotations

import inspect
import os
import re

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import Tensor

HERE = os.path.basename(__file__)


def _line_after() -> int:
    return inspect.currentframe().f_back.f_lineno + 1


def test_forward_nan_names_op_and_user_line() -> None:
    x = Tensor([1.0, -1.0], requires_grad=True)
    with tg.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        line = _line_after()
        x.log()
    msg = str(info.value)
    assert re.search(r"\blog\b.*nan.*forward", msg), msg
    assert f"{HERE}:{line}" in msg, msg


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_forward_inf_under_no_grad_is_caught_too() -> None:
    x = Tensor([0.0, 1.0])
    with tg.detect_anomaly(), tg.no_grad(), pytest.raises(FloatingPointError, match="div.*inf"):
        1 / x


def test_backward_inf_names_op() -> None:
    x = Tensor([0.0, 4.0], requires_grad=True)
    with tg.detect_anomaly():
        line = _line_after()
        y = x.sqrt()  # forward is finite: sqrt(0) = 0
        loss = (y * 3).sum()
        with pytest.raises(FloatingPointError) as info:
            loss.backward()
    msg = str(info.value)
    assert re.search(r"\bsqrt\b.*inf.*backward", msg), msg
    assert f"{HERE}:{line}" in msg, msg
    assert x.grad is None  # nothing half-accumulated into the leaf


def test_backward_nan_names_op() -> None:
    x = Tensor([0.0, 1.0], requires_grad=True)
    with tg.detect_anomaly():
        y = (x * x).sqrt()  # d/dx sqrt(x^2) at 0: 0 * inf = nan
        with pytest.raises(FloatingPointError, match=r"sqrt.*(nan|inf).*backward"):
            y.sum().backward()


def test_without_anomaly_mode_nan_passes_silently() -> None:
    x = Tensor([-1.0], requires_grad=True)
    y = x.log()
    assert np.isnan(y.data).all()
    assert not tg.autograd.is_anomaly_enabled()


def test_anomaly_mode_restored_after_error() -> None:
    with pytest.raises(FloatingPointError), tg.detect_anomaly():
        Tensor([-1.0]).sqrt()
    assert not tg.autograd.is_anomaly_enabled()
