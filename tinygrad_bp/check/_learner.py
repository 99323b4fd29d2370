"""Calling the learner's code: their exceptions as their own tracebacks, their results checked."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))


class LearnerError(RuntimeError):
    """The learner's own code raised; the message holds *their* traceback (the checker's
    frames left out).  ``.original`` is the exception itself."""

    def __init__(self, message: str, original: BaseException | None = None) -> None:
        super().__init__(message)
        self.original = original


class NotWrittenYet(LearnerError):
    """The learner's code raised NotImplementedError: the starter's backward, untouched."""


def call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args)``; an exception becomes a :class:`LearnerError` showing the learner's
    frames only."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # the learner's code: any exception at all
        te = traceback.TracebackException.from_exception(exc)
        frames = [f for f in te.stack if not os.path.abspath(f.filename).startswith(_HERE)]
        te.stack = traceback.StackSummary.from_list(frames)
        text = "".join(te.format()).rstrip()
        if isinstance(exc, NotImplementedError):
            said = "" if "not written yet" in str(exc) or not str(exc) else f" ({exc})"
            raise NotWrittenYet(
                f"{what} is not written yet{said}: fill it in (the comments in it say what "
                "goes where)",
                exc,
            ) from None
        raise LearnerError(
            f"{what} raised {type(exc).__name__}: {exc}\n--- your code's traceback ---\n{text}",
            exc,
        ) from None


def as_result(what: str, value: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A float64 array from the learner's result, or a clear error: None, not numbers, an
    integer or a lower-precision float, NaN or infinity, the wrong shape."""
    if value is None:
        raise ValueError(f"{what} returned None; expected an array" + (
            f" of shape {shape}" if shape is not None else ""))  # fmt: skip
    if isinstance(value, (tuple, list)) and value and not np.isscalar(value[0]):
        raise TypeError(
            f"{what} returned a {type(value).__name__} of {len(value)} values; expected one array"
        )
    if hasattr(value, "data") and type(value).__module__.startswith("tinygrad_bp"):
        raise TypeError(f"{what} returned a Tensor; the learner's code works on NumPy arrays")
    try:
        arr = np.asarray(value)
    except Exception:  # an object NumPy cannot read
        raise TypeError(f"{what} returned a {type(value).__name__}; expected an array") from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{what} returned an array of dtype {arr.dtype}; expected float64 numbers")
    if arr.dtype != np.float64 and not (arr.dtype.kind in "iub" and arr.ndim == 0):
        raise TypeError(
            f"{what} returned dtype {arr.dtype}; expected float64 (the check runs in float64: "
            "every input and parameter it gives is float64, so a float32 or integer result "
            "means a cast or an integer array inside)"
        )
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0]) if arr.ndim else ()
        raise ValueError(
            f"{what} returned {arr.reshape(-1)[np.flatnonzero(bad)[0]]} at index {idx}; "
            "expected finite numbers (an overflow, a division by zero, a log of 0?)"
        )
    return arr
