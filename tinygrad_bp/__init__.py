"""tinygrad_bp: a small, fast, honest autograd engine on NumPy.

It grows out of the tutorial "反向传播详解BP" (backpropagation explained); it is not
affiliated with the tinygrad project.  The public surface is listed in ``__all__``.
"""

from __future__ import annotations

# _gc and _malloc first: no full collections while a graph grows, freed array memory
# stays in the process (CPython <= 3.12, glibc; see their docstrings)
from . import _gc, _malloc, autograd, functional, ops  # noqa: F401
from .autograd import (
    Function,
    detect_anomaly,
    enable_grad,
    grad,
    is_anomaly_enabled,
    is_grad_enabled,
    keep_values,
    no_grad,
)
from .compile import compile  # noqa: A004 (tg.compile, as torch.compile)
from .creation import (
    arange,
    full,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import cat, einsum, maximum, minimum, stack, where
from .tensor import Tensor, get_default_dtype, set_default_dtype

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "keep_values",
    "is_anomaly_enabled",
    "gradcheck",
    "gradgradcheck",
    "GradcheckError",
    "grad",
    "autograd",
    "Function",
    "maximum",
    "minimum",
    "where",
    "cat",
    "stack",
    "einsum",
    "compile",
    "tensor",
    "zeros",
    "ones",
    "full",
    "zeros_like",
    "ones_like",
    "arange",
    "linspace",
    "randn",
    "rand",
    "manual_seed",
    "get_default_dtype",
    "set_default_dtype",
    "functional",
    "ops",
    "nn",
    "optim",
    "viz",
    "reference",
    "data",
    "check",
    "__version__",
]


def __getattr__(name: str):  # lazy submodules: nothing heavy computed or imported at import
    if name in ("nn", "optim", "viz", "reference", "data", "check"):
        import importlib

        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise  # a dependency of the submodule is missing: say which
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from exc
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
