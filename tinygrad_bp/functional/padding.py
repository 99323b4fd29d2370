"""``F.pad``'s border modes: ``reflect``, ``replicate`` and ``circular``, as PyTorch's.

Each padded axis is one ``getitem`` with an index map (which input entry each output
entry copies), so the gradient adds each output's g back to the entry it copied (the
border's copies accumulate), and so does every higher derivative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor

__all__ = ["pad_border", "MODES"]

MODES = ("reflect", "replicate", "circular")


def _source(size: int, lo: int, hi: int, mode: str, ax: int) -> Any:
    """For each entry of the padded axis, the input entry it copies."""
    if mode == "reflect" and (lo >= size or hi >= size):
        raise ValueError(
            f"pad: mode='reflect' needs each width to be less than the input's size along "
            f"its dim, got ({lo}, {hi}) for dim {ax} of size {size} (as PyTorch)"
        )
    if mode == "circular" and (lo > size or hi > size):
        raise ValueError(
            f"pad: mode='circular' wraps around at most once: widths ({lo}, {hi}) exceed the "
            f"size {size} of dim {ax} (as PyTorch)"
        )
    if mode == "replicate" and size == 0 and (lo > 0 or hi > 0):
        raise ValueError(f"pad: mode='replicate' cannot pad dim {ax} of size 0")
    n = size + lo + hi
    if n < 0:
        raise ValueError(
            f"pad: the negative widths ({lo}, {hi}) crop more than dim {ax}'s size {size}"
        )
    src = np.arange(n) - lo
    if mode == "reflect":
        src = np.abs(src)
        src = np.where(src >= size, 2 * (size - 1) - src, src)
    elif mode == "replicate":
        src = np.clip(src, 0, size - 1)
    else:  # PyTorch crops first, then wraps around what is left
        start, kept = max(-lo, 0), size + min(lo, 0) + min(hi, 0)
        if kept <= 0:
            raise ValueError(f"pad: the negative widths ({lo}, {hi}) crop all of dim {ax}")
        src = start + (np.arange(n) - max(lo, 0)) % kept
    return src


def pad_border(x: Tensor, pad: tuple[int, ...], mode: str) -> Tensor:
    """``x`` padded by ``pad`` (``F.pad``'s widths, last axis first) in a border mode.
    As PyTorch: 2 widths pad a 2-D or 3-D input, 4 a 3-D or 4-D one, 6 a 4-D or 5-D one
    (the leading one or two dims are batch and channels)."""
    k = len(pad) // 2
    if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise ValueError(
            f"pad: mode={mode!r} pads the last 1, 2 or 3 dims of an input with a channel dim "
            f"(and maybe a batch dim): {len(pad)} widths need a {k + 1}-D or {k + 2}-D input, "
            f"got a {x.ndim}-D one of shape {x.shape} (as PyTorch)"
        )
    out = x
    for i in range(k):
        ax = x.ndim - 1 - i
        lo, hi = int(pad[2 * i]), int(pad[2 * i + 1])
        if lo == 0 and hi == 0:
            continue
        src = _source(x.shape[ax], lo, hi, mode, ax)
        out = ops.getitem(out, (slice(None),) * ax + (src,))
    return out if out is not x else ops.clone(x)  # (a new tensor, as PyTorch's)
