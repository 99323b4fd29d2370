"""The one array namespace the engine calls.

Every array operation in the engine goes through ``xp``.  Today it is NumPy; a GPU
array library that implements NumPy's API (CuPy, for instance) can be swapped in here
so the same engine runs on it.
"""

from __future__ import annotations

import numpy

xp = numpy
ndarray = numpy.ndarray

__all__ = ["xp", "ndarray"]
