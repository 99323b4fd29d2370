"""tinygrad_bp: a small, fast, honest autograd engine on NumPy.

It grows out of the tutorial "反向传播详解BP" (backpropagation explained); it is not
affiliated with the tinygrad project.  The public surface is listed in ``__all__``.
"""

from __future__ import annotations

import numpy as np

# _gc and _malloc first: no full collections while a graph grows, freed array memory
# stays in the process (CPython <= 3.12, glibc; see their docstrings)
from . import _gc, _malloc, autograd, cuda, functional, linalg, ops, testing  # noqa: F401
from ._functions import *  # noqa: F403  (torch.exp(x), torch.sum(x, dim)... as tg.exp(x)...)
from ._functions import __all__ as _function_names
from .autograd import (
    Function,
    detect_anomaly,
    enable_grad,
    grad,
    inference_mode,
    is_anomaly_enabled,
    is_grad_enabled,
    keep_values,
    no_grad,
    set_grad_enabled,
)
from .compile import compile  # noqa: A004 (tg.compile, as torch.compile)
from .creation import (
    arange,
    as_tensor,
    device,
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
    "device",
    "cuda",
    "testing",
    "set_grad_enabled",
    "inference_mode",
    *_function_names,
    *_DTYPE_NAMES,
]


# PyTorch's functions that are not built: an error naming what to write instead (not the
# bare "has no attribute")
_NOT_BUILT = {
    "atan2": "it has no primitive here; compute it on the arrays outside the graph",
    "sinh": "use (x.exp() - (-x).exp()) / 2",
    "cosh": "use (x.exp() + (-x).exp()) / 2",
    "asin": "it has no primitive here; compute it on the arrays outside the graph",
    "acos": "it has no primitive here; compute it on the arrays outside the graph",
    "atan": "it has no primitive here; compute it on the arrays outside the graph",
    "expm1": "use x.exp() - 1 (it loses digits for |x| < 1e-8)",
    "diag_embed": "use tg.diag(v) for one vector, tg.stack([tg.diag(v) for v in vs])",
    "median": "use x.sort(dim=d).values.index_select(d, tg.tensor([(n - 1) // 2]))",
    "unique": "use np.unique(x.numpy())",
    "cummax": "use np.maximum.accumulate(x.numpy(), axis)",
    "logcumsumexp": "use x.exp().cumsum(dim).log() (stable only for moderate x)",
    "svd": "there is no SVD here; use np.linalg.svd(x.numpy()) outside the graph",
    "inverse": "there is no inverse here; use np.linalg.inv(x.numpy()) outside the graph",
    "det": "there is no determinant here; use np.linalg.det(x.numpy()) outside the graph",
    "fft": "there is no FFT here; use np.fft on x.numpy() outside the graph",
}


def __getattr__(name: str):  # lazy submodules: nothing heavy computed or imported at import
    if name in ("nn", "optim", "viz", "reference", "data", "check"):
        import importlib

        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise  # a dependency of the submodule is missing: say which
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from exc
    if name in _NOT_BUILT:
        raise AttributeError(
            f"tg.{name} (a PyTorch name) is not built in tinygrad_bp: {_NOT_BUILT[name]}"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
