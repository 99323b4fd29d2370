"""Linear layers: the article's ``Dense`` (``W (in, out)``, ``a = x·W + b``) and PyTorch's
``Linear`` (``weight (out, in)``, ``y = x·weightᵀ + bias``).

A ``Dense`` layer is the article's "weights as a layer": ``a = x·W + b``, ``h = act(a)``
with ``W`` of shape ``(in, out)`` and ``b`` of shape ``(out,)``.  Its graph is the plain
``matmul -> add -> activation`` chain, so the pictures show exactly the article's steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ops
from ..autograd import release
from ..tensor import Tensor, get_default_dtype
from ._checks import as_input
from .module import Module, Parameter, _rng

__all__ = ["Dense", "Linear", "ACTIVATIONS", "INITS"]

ACTIVATIONS: dict[str | None, Callable[[Tensor], Tensor] | None] = {
    None: None,
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "relu": ops.relu,
}

INITS = ("auto", "tutorial", "xavier", "he")


class Dense(Module):
    """The article's layer: ``a = x @ W + b``, ``h = act(a)``.

    Parameters
    ----------
    in_features, out_features : int
        ``W`` has shape ``(in_features, out_features)``, ``b`` shape ``(out_features,)``.
    activation : None, "sigmoid", "tanh" or "relu"
        ``None`` leaves ``h = a`` (the output layer; put the softmax in the loss).
    init : "auto", "tutorial", "xavier" or "he"
        ``"tutorial"``: W ~ N(0, 0.1²), b = 0, as in the article's notebook.
        ``"xavier"``: Glorot uniform, b = 0.  ``"he"``: N(0, 2/in), b = 0.
        ``"auto"`` (default): He for ReLU, Xavier otherwise.
    rng : int or numpy Generator, optional
        Seed or generator for the initial weights.
    dtype : dtype, optional
        Parameter dtype (the default float dtype if omitted).
    bias : bool
        ``False`` leaves out ``b`` (``.b`` is then None): ``h = act(x @ W)``.

    Notes
    -----
    The graph is ``matmul → add → activation``, but the layer keeps one array, as
    hand-written NumPy does: the bias is added and the activation computed in place in the
    matmul's fresh array.  The matmul and add nodes keep their shape, dtype and gradient
    (``retain_grad()`` works) but not their value; reading it raises an error that says so.
    Under :func:`tinygrad_bp.keep_values` every node keeps its value.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> layer = tg.nn.Dense(4, 10, activation="tanh", init="tutorial", rng=0)
    >>> layer.W.shape, layer.b.shape
    ((4, 10), (10,))
    >>> layer(tg.Tensor(np.ones((150, 4)))).shape
    (150, 10)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str | None = None,
        init: str = "auto",
        rng: Any = None,
        dtype: Any = None,
        bias: bool = True,
    ) -> None:
        _check_features("Dense", in_features=in_features, out_features=out_features)
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"Dense: unknown activation {activation!r}; expected one of "
                f"None, 'sigmoid', 'tanh', 'relu'"
            )
        if init not in INITS:
            raise ValueError(f"Dense: unknown init {init!r}; expected one of {INITS}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.activation = activation  # (the setter below also sets the function)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        g = _rng(rng)
        if init == "auto":
            init = "he" if activation == "relu" else "xavier"
        shape = (self.in_features, self.out_features)
        if init == "tutorial":
            w = g.normal(0.0, 0.1, size=shape)
        elif init == "xavier":
            limit = np.sqrt(6.0 / (self.in_features + self.out_features))
            w = g.uniform(-limit, limit, size=shape)
        else:  # he
            w = g.normal(0.0, np.sqrt(2.0 / self.in_features), size=shape)
        self.init = init
        self.W = Tensor(w.astype(dtype), requires_grad=True)
        self.b = (
            Tensor(np.zeros(self.out_features, dtype=dtype), requires_grad=True) if bias else None
        )

    @property
    def activation(self) -> str | None:
        """The activation's name; setting it after construction changes what
        :meth:`forward` computes (the initial weights stay as drawn)."""
        return self._activation

    @activation.setter
    def activation(self, value: str | None) -> None:
        if value not in ACTIVATIONS:
            raise ValueError(
                f"Dense: unknown activation {value!r}; expected one of None, 'sigmoid', "
                f"'tanh', 'relu'"
            )
        self._activation = value
        self._act = ACTIVATIONS[value]

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = as_input(x, "Dense")
        if x.data.ndim == 0 or x.data.shape[-1] != self.in_features:
            raise ValueError(
                f"Dense({self.in_features}→{self.out_features}): expected input whose last "
                f"dimension is {self.in_features}, got shape {x.data.shape}"
            )
        z = ops.matmul(x, self.W)
        b, act = self.b, self._act
        if b is None:
            return z if act is None else act(z)
        # One array per layer, as hand-written NumPy keeps: the bias and the activation are
        # computed in place in the matmul's fresh array, which nothing but this graph can
        # see (the engine does it where the shapes and dtypes allow, and not under
        # keep_values()).  The matmul and add nodes stay in the graph (their backward never
        # reads their own value) and say that their value was released if it is read.
        zd = z.data
        a = ops.add(release(z, reuse=True), b)
        if act is None:
            return a
        if a.data is not zd:  # the sum did not fit (mixed dtypes), or keep_values()
            return act(a)
        if act is not ops.tanh and act is not ops.relu and act is not ops.sigmoid:
            return act(a)  # an activation registered by the user: called as any op
        return act(release(a, reuse=True))

    def extra_repr(self) -> str:
        act = f", activation={self.activation!r}" if self.activation else ""
        nob = ", bias=False" if self.b is None else ""
        return f"{self.in_features}, {self.out_features}{act}{nob}"


def _check_features(layer: str, **sizes: Any) -> None:
    for label, v in sizes.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f"{layer}: {label} must be a positive int, got {v!r}")


def _uniform(g: np.random.Generator, bound: float, shape: tuple[int, ...], dtype: Any) -> Any:
    return g.uniform(-bound, bound, size=shape).astype(dtype)


class Linear(Module):
    """PyTorch's linear layer: ``y = x @ weight.T + bias``, ``weight (out, in)``.

    Initialised as PyTorch does: ``weight`` and ``bias`` uniform in ±1/√in_features.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> layer = tg.nn.Linear(4, 3, rng=0)
    >>> layer.weight.shape, layer.bias.shape
    ((3, 4), (3,))
    >>> layer(tg.Tensor(np.ones((2, 4)))).shape
    (2, 3)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        _check_features("Linear", in_features=in_features, out_features=out_features)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        g = _rng(rng)
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight = Parameter(_uniform(g, bound, (self.out_features, self.in_features), dtype))
        self.bias = Parameter(_uniform(g, bound, (self.out_features,), dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = as_input(x, "Linear")
        if x.data.ndim == 0 or x.data.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}→{self.out_features}): expected input whose last "
                f"dimension is {self.in_features}, got shape {x.data.shape}"
            )
        lead = x.data.shape[:-1]
        if len(lead) > 1:
            # (N, T, C) and beyond: one 2-D product over all N·T rows, so the weight's
            # gradient is one GEMM too, not a stack of N products summed afterwards
            x = ops.reshape(x, -1, self.in_features)
        y = ops.matmul(x, ops.transpose(self.weight))
        if self.bias is not None:
            # the bias is added in place in the product's fresh array (only this graph
            # sees it; its backward never reads it), as nn.Dense does: one array a layer
            y = ops.add(release(y, reuse=True), self.bias)
        return ops.reshape(y, *lead, self.out_features) if len(lead) > 1 else y

    def extra_repr(self) -> str:
        nob = ", bias=False" if self.bias is None else ""
        return f"in_features={self.in_features}, out_features={self.out_features}{nob}"
