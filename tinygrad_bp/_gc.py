"""Keep Python's cyclic garbage collector from rescanning a growing graph.

Every node of a graph is a handful of objects the collector tracks (the Tensor, its
parents tuple, its backward closure).  CPython (before 3.13) runs a full collection,
which visits every tracked object in the process, whenever the objects that survived
two younger collections have grown by a quarter since the last full one: while a
program builds a graph of a million nodes, that is some twenty full scans of an
ever larger graph, and building slows from about 2.5 µs a node to about 10 (measured
on this project's machine, CPU time, ``y = y * 1.0001`` a million times).  The graph
itself needs no collector: the engine's nodes hold no reference cycles, so a graph is
freed by reference counting the moment its last Tensor goes.

So on import, where the collector still has CPython's default thresholds (700, 10, 10)
and the version is one whose collector works this way (3.12 and earlier), this module
raises the third threshold to 1000: a full collection is considered after 1000 collections
of the middle generation instead of 10.  The two young generations are collected as
before (cycles among new objects are found as promptly as ever); only cyclic garbage that
has already survived two collections waits longer.  Thresholds a program set itself are
left alone.  ``TINYGRAD_BP_GC=default`` in the environment leaves the collector alone;
:func:`status` says what was done.
"""

from __future__ import annotations

import gc
import os
import sys

__all__ = ["tune", "status", "ENV_VAR", "DEFAULT", "TUNED"]

ENV_VAR = "TINYGRAD_BP_GC"
DEFAULT = (700, 10, 10)  # CPython's own thresholds
TUNED = (700, 10, 1000)

_status = "not tried"


def tune() -> str:
    """Raise the oldest generation's threshold (once); returns what was done."""
    global _status
    if _status != "not tried":
        return _status
    if os.environ.get(ENV_VAR, "").strip().lower() in ("default", "off", "0", "no"):
        _status = f"left at its thresholds ({ENV_VAR} is set)"
    elif sys.implementation.name != "cpython" or sys.version_info >= (3, 13):
        _status = "left at its thresholds (not CPython 3.12 or earlier)"
    elif gc.get_threshold() != DEFAULT:
        _status = f"left at the program's thresholds {gc.get_threshold()}"
    else:
        gc.set_threshold(*TUNED)
        _status = f"thresholds {TUNED} (a full collection after 1000 middle ones, not 10)"
    return _status


def status() -> str:
    """What :func:`tune` did in this process."""
    return _status


tune()
