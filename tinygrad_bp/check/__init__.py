"""Check your own backward: a learner's hand-written layer against the engine.

- :func:`layer`: a layer in the tutorial's style (``forward(x)``, ``backward(grad_out)``
  returning the input's gradient and leaving ``dW``, ``db``, ... on the layer);
- :func:`functions`: a ``forward(*inputs) -> (out, cache)`` / ``backward(dout, cache)``
  pair, CS231n's style;
- :func:`network`: a whole forward written as named intermediates and a gradient for
  each, Karpathy's "backprop ninja" exercise.

Each returns a :class:`CheckReport`: one row per gradient with ``max|yours − engine|``,
``max|yours − finite differences|``, the verdict, the first wrong element and, where a
known slip explains the difference, a sentence naming it (the batch size, a transpose,
the sign, the activation's derivative, a bias not summed over the batch, the incoming
gradient ignored, the weights updated before the input's gradient).  ``str(report)`` is
the table, ``report.draw(path)`` the backward graph with each gradient green or red.

The engine twin is either a function of Tensors or one of the built-in names in
:data:`BUILTINS`.  Everything runs in float64 on copies; the incoming gradient is seeded
random normals, never all ones (an all-ones gradient hides every slip in how a backward
uses it).

Examples
--------
>>> import numpy as np
>>> import tinygrad_bp as tg
>>> class Layer:
...     def __init__(self, W, b):
...         self.W, self.b, self.activation = W, b, "tanh"
...     def forward(self, x):
...         self.x = x
...         self.h = np.tanh(x @ self.W + self.b)
...         return self.h
...     def backward(self, grad_out):
...         a_grad = grad_out * (1 - self.h**2)
...         self.dW = self.x.T @ a_grad
...         self.db = a_grad.sum(axis=0)
...         return a_grad @ self.W.T
>>> rng = np.random.default_rng(0)
>>> lay = Layer(rng.normal(size=(4, 3)), np.zeros(3))
>>> report = tg.check.layer(lay, rng.normal(size=(5, 4)), engine="dense")
>>> report.ok, [r.name for r in report.rows]
(True, ['out', 'dx', 'dW', 'db'])
"""

from __future__ import annotations

from ._core import functions, layer
from ._engines import NAMES as BUILTINS
from ._learner import LearnerError, NotWrittenYet
from ._network import network
from ._report import CheckReport, Row

__all__ = [
    "layer",
    "functions",
    "network",
    "CheckReport",
    "Row",
    "BUILTINS",
    "LearnerError",
    "NotWrittenYet",
]
