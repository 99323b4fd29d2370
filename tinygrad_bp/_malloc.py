"""Keep freed array memory in the process instead of handing it back to the system.

A training step frees and allocates the same few megabytes of temporaries every step.
glibc's malloc, left to its defaults, gives the free top of its heap back to the kernel
once more than 128 KiB is free there (``M_TRIM_THRESHOLD``), and serves every block over
its adaptive mmap threshold (128 KiB to begin with) by a fresh ``mmap``; both mean that
the next step touches new pages and takes a page fault for every 4 KiB of them (thousands
per step on the transformer, a fifth of its time).  PyTorch keeps its memory for reuse
with its own allocator; NumPy has none.

So on import, where the C library is glibc, this module raises the two thresholds with
``mallopt`` (through ctypes): freed memory up to 1 GiB stays in the heap, and blocks up to
32 MiB (glibc's largest mmap threshold on 64-bit) come from the heap.  Memory is reused,
not returned: the process's resident size stays at its high-water mark, as PyTorch's does.
Nothing happens on other platforms.  Set ``TINYGRAD_BP_MALLOC=default`` in the environment
before importing to leave glibc's defaults alone.  :func:`status` says what was done.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["tune", "status", "ENV_VAR", "TRIM_THRESHOLD", "MMAP_THRESHOLD"]

ENV_VAR = "TINYGRAD_BP_MALLOC"
TRIM_THRESHOLD = 2**30  # bytes of free heap top glibc keeps before trimming
MMAP_THRESHOLD = 2**25  # blocks up to this size come from the heap (glibc's maximum)
# <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_status = "not tried"


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        version = libc.gnu_get_libc_version  # glibc only (musl has no such function)
        version.restype = ctypes.c_char_p
        version()
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.mallopt.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def tune() -> str:
    """Raise glibc's trim and mmap thresholds (once); returns what was done."""
    global _status
    if _status != "not tried":
        return _status
    if os.environ.get(ENV_VAR, "").strip().lower() in ("default", "off", "0", "no"):
        _status = f"left at the C library's defaults ({ENV_VAR} is set)"
        return _status
    libc = _glibc()
    if libc is None:
        _status = "left at the C library's defaults (not glibc)"
        return _status
    ok = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    ok &= libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    _status = (
        f"glibc: trim threshold {TRIM_THRESHOLD} bytes, mmap threshold {MMAP_THRESHOLD} bytes"
        if ok
        else "glibc refused mallopt; left at its defaults"
    )
    return _status


def status() -> str:
    """What :func:`tune` did in this process."""
    return _status


tune()
