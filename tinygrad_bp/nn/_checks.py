"""The layers' first checks on what they are given: each names the layer, what it
expected and what it got (a NumPy or Python error from deep inside names none of them)."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor


def as_input(x: Any, layer: str) -> Tensor:
    """``x`` as a Tensor: a Tensor as it is, an array or nested list of numbers converted
    (as the layers have always accepted); anything else refused naming ``layer``."""
    if isinstance(x, Tensor):
        return x
    try:
        return Tensor(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{layer}: expected a Tensor (or an array of numbers), got {type(x).__name__} ({exc})"
        ) from None


def not_a_tensor(x: Any, layer: str, exc: BaseException) -> BaseException:
    """The error for a non-Tensor given to an activation layer (which, as PyTorch's,
    takes Tensors only), or ``exc`` itself when ``x`` is a Tensor."""
    if isinstance(x, Tensor):
        return exc
    return TypeError(f"{layer}: expected a Tensor, got {type(x).__name__} (wrap it: Tensor(x))")
