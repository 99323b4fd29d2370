"""tinygrad_bp: a small, fast, honest autograd engine on NumPy.

It grows out of the tutorial "反向传播详解BP" (backpropagation explained); it is not
affiliated with the tinygrad project.  The public surface is listed in ``__all__``.
"""

from __future__ import annotations

import numpy as np

# _gc and _malloc first: no full collections while a graph grows, freed array memory
# stays in the process (CPython <= 3.12, glibc; see their docstrings)
from . import _gc, _malloc, autograd, functional, linalg, ops  # noqa: F401
from ._functions import *  # noqa: F403  (torch.exp(x), torch.sum(x, dim)... as tg.exp(x)...)
from ._functions import __all__ as _function_names
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
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    is_tensor,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import cat, maximum, minimum, stack, where
from .tensor import Tensor, get_default_dtype, set_default_dtype

__version__ = "0.1.0"

# PyTorch's dtype names, as NumPy dtypes (``dtype=tg.float32``, ``x.dtype == tg.long``)
float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)  # noqa: A001
float64 = double = np.dtype(np.float64)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)  # noqa: A001
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)  # noqa: A001
_DTYPE_NAMES = [
    "float16", "half", "float32", "float", "float64", "double", "uint8", "int8", "int16",
    "short", "int32", "int", "int64", "long", "bool",
]  # fmt: skip

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
    "nn",  # noqa: F405  (a lazy submodule: __getattr__ below)
    "optim",  # noqa: F405  (a lazy submodule: __getattr__ below)
    "viz",  # noqa: F405  (a lazy submodule: __getattr__ below)
    "reference",  # noqa: F405  (a lazy submodule: __getattr__ below)
    "data",  # noqa: F405  (a lazy submodule: __getattr__ below)
    "check",  # noqa: F405  (a lazy submodule: __getattr__ below)
    "__version__",
    "linalg",
    "full_like",
    "empty",
    "empty_like",
    "rand_like",
    "randn_like",
    "randint",
    "randperm",
    "eye",
    "from_numpy",
    "as_tensor",
    "is_tensor",
    *_function_names,
    *_DTYPE_NAMES,
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
