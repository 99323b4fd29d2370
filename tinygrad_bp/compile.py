"""``tg.compile(step)``: one training step traced once, replayed as straight-line NumPy.

The engine's ops, their backward closures, the backward walk and the optimizers all
compute on NumPy arrays.  :func:`compile` records a step at that level, as tinygrad's
TinyJit captures kernels: while a traced step runs, every array the step reads (the
parameters, their gradients, the optimizer's buffers, the data it closes over) is a
*tracer*, an ``ndarray`` subclass that computes the real result with NumPy and writes
down each call (``np.matmul(h, W)``, ``g[rows, y] -= 1``, ``tanh_out *= ...``).  The
list of calls becomes the Python source of one function, ``_step``: no Tensors, no
graph, no closures, no per-node bookkeeping, one line per NumPy call, in the same order
on the same kinds of arrays, so its results are bit-identical to the eager step's.

The calls, in order:

1. the first call runs eagerly (the optimizer makes its state: momentum buffers, ...);
2. the second and third are traced (each is a real eager step too) and the two traces
   must agree call by call, constant by constant; a constant that differs between them
   (a dropout mask, a learning rate computed in Python, a step counter) means the step
   reads something the trace cannot see, and is refused with the call and the line;
3. the third call's generated code is run once more on copies of the state it started
   from and must reproduce the eager results bit for bit;
4. from the fourth call on, ``_step`` runs.

A change of the arguments' shapes or dtypes (or of the state's: a parameter replaced,
``model.eval()``, a new learning rate) traces again, up to ``max_traces`` times.

Examples
--------
>>> import numpy as np
>>> import tinygrad_bp as tg
>>> from tinygrad_bp import nn, optim
>>> model = nn.Linear(3, 1, dtype=np.float64)
>>> opt = optim.SGD(model.parameters(), lr=0.1)
>>> x, y = tg.Tensor(np.ones((4, 3))), tg.Tensor(np.zeros((4, 1)))
>>> def step():
...     opt.zero_grad()
...     loss = ((model(x) - y) ** 2).mean()
...     loss.backward()
...     opt.step()
...     return loss.item()
>>> fast = tg.compile(step)
>>> losses = [fast() for _ in range(5)]   # eager, traced, traced, then replayed
>>> "np.matmul" in fast.source
True
"""

from __future__ import annotations

import builtins
import functools
import math
import operator
import os
import re
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["compile", "Compiled", "CompileError"]

_NP = np
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))
_HERE = os.path.abspath(__file__)
_COMMANDS = os.path.join(_PACKAGE, "commands")


class CompileError(RuntimeError):
    """A step :func:`compile` cannot replay faithfully; the message says why and what to do."""


class _PathChanged(CompileError):
    """Two traces took different paths (a branch on a traced value): trace again."""


class _GuardMiss(Exception):
    """A replay's input check failed before anything was written: run eagerly instead."""


# The trace being recorded, per thread (another thread's NumPy calls during a trace are
# its own business: they see plain arrays and record nothing).
_STATE = threading.local()
_TRACING = threading.RLock()


def _active() -> Any:
    """The trace this thread is recording, or None."""
    return getattr(_STATE, "trace", None)


_WRAPPING = [False]


# ------------------------------------------------------------------------- the tracer
class _Ref:
    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot

    def __repr__(self) -> str:
        return f"_Ref({self.slot})"


class _Const:
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class _Call:
    """One recorded call: ``out = fn(*args, **kwargs)``; ``kind`` says how to emit it."""

    __slots__ = ("kind", "fn", "name", "args", "kwargs", "out", "writes", "site", "value")

    def __init__(
        self,
        kind: str,
        fn: Any,
        name: str,
        args: Any,
        kwargs: Any,
        out: Any,
        writes: tuple[int, ...],
        site: tuple[str, str],
        value: Any = None,
    ) -> None:
        self.kind = kind  # "call", "method", "getitem", "setitem", "item", "guard"
        self.fn = fn
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.out = out  # None, a slot, or a tuple of slots
        self.writes = writes  # slots written in place
        self.site = site  # (where in the package, where in user code)
        self.value = value  # item / guard: the value seen


def _site() -> tuple[str, str]:
    """(innermost frame outside NumPy and this file, innermost frame outside the package)."""
    f: Any = sys._getframe(1)
    inner = outer = ""
    while f is not None:
        fn = os.path.abspath(f.f_code.co_filename)
        if fn != _HERE and not fn.startswith(_NUMPY_DIR):
            code = f.f_code
            qual = getattr(code, "co_qualname", code.co_name).replace(".<locals>.", " ")
            where = f"{os.path.basename(fn)}:{f.f_lineno} in {qual}"
            if not inner:
                inner = where
            if not fn.startswith(_PACKAGE):
                outer = f"{fn}:{f.f_lineno} in {code.co_name}"
                break
        f = f.f_back
    return inner, outer


def _plainview(x: Any) -> Any:
    """A plain view of a tracer (never recorded)."""
    return np.ndarray.view(x, np.ndarray)


def _root(a: np.ndarray) -> Any:
    """The object that owns ``a``'s memory."""
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a


class _Traced(np.ndarray):
    """An array whose every NumPy call is recorded in the active trace.  Outside its
    trace it behaves as a plain array (its results are plain arrays)."""

    _tr: Any = None
    _slot: Any = None  # int, None when an unrecorded method made it
    _p: Any = None  # the plain array it views
    _poison: Any = None  # where an unrecorded method made it

    def __array_finalize__(self, obj: Any) -> None:
        tr = _active()
        if tr is None or _WRAPPING[0]:
            return
        self._tr = tr
        self._poison = _site()

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # ``x.__class__ is np.ndarray`` checks take their fast path
        return np.ndarray

    # -- NumPy's protocols
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        tr = _active()
        if tr is None:
            return fn(*_strip(inputs), **_strip(kwargs))
        writes: tuple[Any, ...] = ()
        if method == "at":
            writes = (inputs[0],)
        out = kwargs.get("out")
        if out is not None:
            writes = out if isinstance(out, tuple) else (out,)
            if any(isinstance(w, _Traced) and w._slot in tr.scalars for w in writes):
                # ``s += 1`` on what is a NumPy scalar in the eager step: a new value there
                kwargs = {k: v for k, v in kwargs.items() if k != "out"}
                writes = ()
        return tr.record("call", fn, name, inputs, kwargs, writes)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        tr = _active()
        if tr is None:
            return func(*_strip(args), **_strip(kwargs))
        name = func.__name__
        if name in _STRUCTURAL:
            return func(*_strip(args), **_strip(kwargs))
        writes: tuple[Any, ...] = ()
        if name in ("copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis"):
            writes = (args[0] if args else kwargs.get("dst", kwargs.get("a")),)
        out = kwargs.get("out")
        if out is not None:
            writes = out if isinstance(out, tuple) else (out,)
        return tr.record("call", func, name, args, kwargs, writes)

    # -- methods that do not dispatch to the protocols: each is recorded
    def _method(self, name: str, *args: Any, **kwargs: Any) -> Any:
        tr = _active()
        if tr is None:
            return getattr(np.ndarray, name)(_plainview(self), *_strip(args), **_strip(kwargs))
        writes = (self,) if name in _INPLACE_METHODS else ()
        out = kwargs.get("out")
        if out is not None:
            writes = (out,)
        return tr.record("method", name, name, (self,) + args, kwargs, writes)

    def __getitem__(self, key: Any) -> Any:
        tr = _active()
        if tr is None:
            return np.ndarray.__getitem__(_plainview(self), _strip(key))
        return tr.record("getitem", operator.getitem, "getitem", (self, key), {}, ())

    def __setitem__(self, key: Any, value: Any) -> None:
        tr = _active()
        if tr is None:
            np.ndarray.__setitem__(_plainview(self), _strip(key), _strip(value))
            return
        tr.record("setitem", operator.setitem, "setitem", (self, key, value), {}, (self,))

    def item(self, *args: Any) -> Any:
        tr = _active()
        if tr is None:
            return np.ndarray.item(_plainview(self), *args)
        return tr.record_item(self, "item", args)

    def __float__(self) -> float:
        return builtins.float(self.item())

    def __int__(self) -> int:
        return builtins.int(self.item())

    def __index__(self) -> int:
        tr = _active()
        if tr is None:
            return operator.index(_plainview(self))
        v = operator.index(tr.plain(self))
        tr.guard(self, "index", v)
        return v

    def __bool__(self) -> bool:
        tr = _active()
        if tr is None:
            return bool(_plainview(self))
        v = bool(tr.plain(self))
        tr.guard(self, "bool", v)
        return v

    def tolist(self) -> Any:
        tr = _active()
        if tr is None:
            return _plainview(self).tolist()
        raise CompileError(
            f"compile: the step reads a traced array's values as a Python list (.tolist(), "
            f"at {_site()[0]}); a replay cannot see what happens to them.  Keep the values "
            f"in arrays"
        )

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    def __reduce__(self) -> Any:
        return np.ndarray.__reduce__(_plainview(self))

    def __deepcopy__(self, memo: Any) -> Any:
        return self.copy()

    def __copy__(self) -> Any:
        return self.copy()

    def __repr__(self) -> str:
        return repr(_plainview(self))

    __str__ = __repr__

    @property
    def base(self) -> Any:  # the plain array's base: a traced result "owns" its memory
        p = self._p
        return np.ndarray.base.__get__(self) if p is None else p.base

    @property
    def flags(self) -> Any:
        p = self._p
        return np.ndarray.flags.__get__(self) if p is None else p.flags

    @property
    def T(self) -> Any:  # noqa: N802
        return self._method("transpose")

    @property
    def mT(self) -> Any:  # noqa: N802
        return self._method("swapaxes", -1, -2)

    @property
    def flat(self) -> Any:
        tr = _active()
        if tr is None:
            return _plainview(self).flat
        raise CompileError(f"compile: .flat of a traced array is not supported (at {_site()[0]})")


# ndarray methods that make new arrays without passing through __array_ufunc__ or
# __array_function__: each is recorded as ``x.method(...)``.
_METHODS = (
    "reshape", "transpose", "swapaxes", "astype", "copy", "view", "ravel", "flatten",
    "squeeze", "fill", "dot", "take", "repeat", "sort", "argsort", "argmax", "argmin",
    "round", "nonzero", "diagonal", "conj", "conjugate", "put", "compress", "choose",
    "searchsorted", "partition", "argpartition", "byteswap", "trace", "resize",
    "clip", "cumsum", "cumprod", "mean", "std", "var", "ptp", "__array__", "__copy__",
)  # fmt: skip
_INPLACE_METHODS = frozenset({"fill", "sort", "put", "partition", "resize"})
# functions that read only shapes and layouts: their answers are fixed by the signature
_STRUCTURAL = frozenset({
    "shape", "ndim", "size", "shares_memory", "may_share_memory", "result_type",
    "can_cast", "iscomplexobj", "isrealobj", "min_scalar_type", "broadcast_shapes",
})  # fmt: skip


def _make_method(name: str) -> Any:
    def method(self: _Traced, *args: Any, **kwargs: Any) -> Any:
        return self._method(name, *args, **kwargs)

    method.__name__ = name
    return method


for _m in _METHODS:
    if _m not in ("__copy__",):
        setattr(_Traced, _m, _make_method(_m))
del _m


def _strip(x: Any) -> Any:
    """``x`` with every tracer replaced by a plain view (outside a trace)."""
    if isinstance(x, _Traced):
        return _plainview(x)
    t = type(x)
    if t is tuple or t is list:
        return t(_strip(v) for v in x)
    if t is dict:
        return {k: _strip(v) for k, v in x.items()}
    return x


_LITERALS = (int, float, bool, str, type(None), type(Ellipsis), complex)
_MISSING = object()


# ------------------------------------------------------------------------- the trace
class _Trace:
    """The calls of one traced step, their slots (values) and constants."""

    def __init__(self) -> None:
        self.calls: list[_Call] = []
        self.names: list[str] = []  # a readable name per slot
        self.meta: list[Any] = []  # (shape, dtype) per slot, None for scalars
        self.plains: list[Any] = []  # the plain array per slot
        self.consts: list[Any] = []
        self.roots: dict[int, int] = {}  # id(owner of memory) -> slot
        self.keep: list[Any] = []  # objects whose ids are keys above
        self.inputs: list[tuple[int, Any]] = []  # (slot, source)
        self.first_state_write: int | None = None  # index of the first call writing state
        self.unreadable: dict[int, str] = {}  # id -> where: arrays a replay could not read
        self.input_slots: set[int] = set()
        self.plain_ids: dict[int, int] = {}  # id(plain array of a slot) -> slot
        self.scalars: set[int] = set()  # slots that hold NumPy scalars in the eager step
        self.int_inputs: set[int] = set()  # number slots read from Python ints

    # -- slots
    def new_slot(self, plain: Any, hint: str) -> _Traced:
        slot = len(self.names)
        self.names.append(f"{hint}_{slot}")
        self.plains.append(plain)
        if isinstance(plain, np.ndarray):
            self.plain_ids[id(plain)] = slot
            self.meta.append((plain.shape, plain.dtype))
            root = _root(plain)
            if id(root) not in self.roots:
                self.roots[id(root)] = slot
                self.keep.append(root)
            _WRAPPING[0] = True
            try:
                t = plain.view(_Traced)
            finally:
                _WRAPPING[0] = False
            t._tr, t._slot, t._p = self, slot, plain
            return t
        self.meta.append(None)
        return plain

    def add_input(self, plain: Any, hint: str, source: Any) -> _Traced:
        t = self.new_slot(plain, hint)
        self.inputs.append((t._slot, source))
        self.input_slots.add(t._slot)
        return t

    def plain(self, x: _Traced) -> Any:
        if x._tr is self:
            if x._slot is None:
                self._poisoned(x)
            return x._p
        return _plainview(x)

    def _poisoned(self, x: _Traced) -> None:
        inner, outer = x._poison or ("?", "?")
        raise CompileError(
            f"compile: an array made at {inner} (called from {outer}) by a NumPy method that "
            f"compile does not record is used in the traced step; its values would be "
            f"baked into the replay.  Use a NumPy function (np.reshape, np.transpose, ...) "
            f"there, or leave this step uncompiled"
        )

    # -- templates: arguments with tracers replaced by slot references
    def template(self, x: Any) -> tuple[Any, Any]:
        """(template, plain value) of an argument."""
        if isinstance(x, _Traced):
            if x._tr is self:
                if x._slot is None:
                    self._poisoned(x)
                return _Ref(x._slot), x._p
            return self.const(_plainview(x))
        t = type(x)
        if t is tuple or t is list:
            pairs = [self.template(v) for v in x]
            return t(p[0] for p in pairs), t(p[1] for p in pairs)
        if t is dict:
            tm, pv = {}, {}
            for k, v in x.items():
                tm[k], pv[k] = self.template(v)
            return tm, pv
        if t is float or t is int:
            return x, x
        if t is _ItemFloat or t is _ItemInt:
            if x._tr is self:
                return _Ref(x._slot), x.plain()
            return x.plain(), x.plain()
        if isinstance(x, np.ndarray):
            slot = self.plain_ids.get(id(x))
            if slot is not None and self.plains[slot] is x:
                return _Ref(slot), x
            slot = self.roots.get(id(_root(x)))
            if slot is not None:
                view = self.rederive(x)
                if view is not None:
                    return _Ref(view), x
                raise CompileError(
                    f"compile: the step hands NumPy a plain view of a traced array (slot "
                    f"{self.names[slot]}), made outside the recorded calls (np.asarray from "
                    f"code compile does not patch?), at {_site()[0]}; its values would be "
                    f"baked into the replay.  Keep tinygrad_bp's arrays as they are"
                )
            return self.const(x)
        if t in _LITERALS or t is slice:
            return x, x
        if hasattr(x, "__array__") and hasattr(x, "_backward") and hasattr(x, "grad"):
            raise CompileError(  # a Tensor handed to NumPy directly
                f"compile: the step hands a Tensor to NumPy at {_site()[0]}; use t.numpy()"
            )
        return self.const(x)

    def rederive(self, x: np.ndarray) -> int | None:
        """A plain array whose memory lies in a traced array's (``np.asarray`` of a tracer
        in code compile does not patch): recorded as a view of that slot, at the same
        offset, shape and strides, so a replay derives it from the replay's array."""
        slot = self.roots[id(_root(x))]
        base = self.plains[slot]
        if not (isinstance(base, np.ndarray) and base.flags.c_contiguous):
            return None
        offset = x.__array_interface__["data"][0] - base.__array_interface__["data"][0]
        if not 0 <= offset < max(base.nbytes, 1):
            return None
        try:
            _view_at(base, x.shape, x.dtype, offset, x.strides)
        except (TypeError, ValueError):
            return None
        dtype, _ = self.const(x.dtype)
        args = (_Ref(slot), tuple(x.shape), dtype, offset, tuple(x.strides))
        t = self.new_slot(x, "view")
        self.calls.append(_Call("call", _view_at, "view_at", args, {}, t._slot, (), _site()))
        return t._slot

    def const(self, x: Any) -> tuple[_Const, Any]:
        if isinstance(x, np.ndarray) and id(x) in self.unreadable:
            raise CompileError(
                f"compile: the step reads an array held in a tuple "
                f"({self.unreadable[id(x)]}, at {_site()[0]}); a replay would use the values "
                f"it had when traced.  Hold it in a list or dict, or pass it as an argument"
            )
        if isinstance(x, np.ndarray):
            x = x.copy()  # its value now: later writes into the original do not matter
        self.consts.append(x)
        return _Const(len(self.consts) - 1), x

    # -- recording
    def record(self, kind: str, fn: Any, name: str, args: Any, kwargs: Any, writes: Any) -> Any:
        for w in writes:
            if type(w) is np.ndarray and self.plain_ids.get(id(w)) is None:
                if self.roots.get(id(_root(w))) is not None:
                    self.rederive(w)  # a plain view of a traced array, written
                else:
                    # an array made from constants outside the recorded calls, now written
                    # with traced values: from here on it is a slot (a copy of its value now)
                    tmpl, _ = self.const(w)
                    t = self.new_slot(w, "array")
                    self.calls.append(_Call("call", np.array, "array", (tmpl,), {}, t._slot,
                                            (), _site()))  # fmt: skip
        targs, pargs = self.template(tuple(args))
        tkw, pkw = self.template(dict(kwargs))
        wslots = []
        for w in writes:
            if isinstance(w, _Traced) and w._tr is self and w._slot is not None:
                wslots.append(w._slot)
            elif type(w) is np.ndarray and self.plain_ids.get(id(w)) is not None:
                wslots.append(self.plain_ids[id(w)])
            elif w is not None:
                inner, outer = _site()
                raise CompileError(
                    f"compile: the traced step writes in place into an array compile did not "
                    f"find as state ({name} at {inner}, from {outer}): a replay would not "
                    f"see it.  Pass its owner (the Module, Optimizer or Tensor) in "
                    f"compile(step, state=[...])"
                )
        if kind == "method":
            self_plain = pargs[0]
            result = getattr(self_plain, fn)(*pargs[1:], **pkw)
        else:
            result = fn(*pargs, **pkw)
        site = _site()
        wslots_t = tuple(wslots)
        if wslots_t and self.first_state_write is None:
            if any(self._base_input(s) for s in wslots_t):
                self.first_state_write = len(self.calls)
        # results that are one of the inputs (out=, asarray of an array already right)
        if isinstance(result, np.ndarray) or isinstance(result, np.generic):
            for a, p in zip(_flat(args, kwargs), _flat(pargs, pkw)):
                if p is result and isinstance(a, _Traced):
                    if wslots_t:
                        self.calls.append(_Call(kind, fn, name, targs, tkw, None, wslots_t, site))
                    return a
            out = self.new_slot(_as_array(result), _hint(name))
            if isinstance(result, np.generic):
                self.scalars.add(out._slot)
            self.calls.append(_Call(kind, fn, name, targs, tkw, out._slot, wslots_t, site))
            return out
        if (
            isinstance(result, tuple)
            and result
            and all(isinstance(r, (np.ndarray, np.generic)) for r in result)
        ):
            outs = tuple(self.new_slot(_as_array(r), _hint(name)) for r in result)
            self.calls.append(
                _Call(kind, fn, name, targs, tkw, tuple(o._slot for o in outs), wslots_t, site)
            )
            return outs
        if isinstance(result, list) and all(isinstance(r, np.ndarray) for r in result):
            outs = tuple(self.new_slot(r, _hint(name)) for r in result)
            self.calls.append(
                _Call(kind, fn, name, targs, tkw, tuple(o._slot for o in outs), wslots_t, site)
            )
            return list(outs)
        if result is None:
            self.calls.append(_Call(kind, fn, name, targs, tkw, None, wslots_t, site))
            return None
        if isinstance(result, bool) and not wslots_t:  # np.array_equal, np.allclose, ...
            self.calls.append(_Call("guard", fn, name, targs, tkw, None, (), site, result))
            return result
        raise CompileError(
            f"compile: {name} (at {site[0]}, from {site[1]}) gave a {type(result).__name__} "
            f"that compile cannot follow through a replay"
        )

    def _base_input(self, slot: int) -> bool:
        """Whether a slot's memory belongs to an input (the state)."""
        root = _root(self.plains[slot])
        for s in self.input_slots:
            if _root(self.plains[s]) is root:
                return True
        return False

    def record_item(self, x: _Traced, name: str, args: Any) -> Any:
        targs, pargs = self.template((x,) + tuple(args))
        v = pargs[0].item(*pargs[1:])
        if not isinstance(v, (float, int, complex)) or isinstance(v, bool):
            raise CompileError(
                f"compile: .item() gave a {type(v).__name__} at {_site()[0]}; compile follows "
                f"floats and ints only"
            )
        out = self.new_number(v)
        self.calls.append(_Call("item", "item", "item", targs, {}, out._slot, (), _site(), None))
        return out

    def new_number(self, v: Any) -> Any:
        """A Python number the trace follows: arithmetic on it is recorded, comparisons
        and conversions become guards."""
        slot = len(self.names)
        self.names.append(f"value_{slot}")
        self.plains.append(v)
        self.meta.append(None)
        cls = _ItemFloat if isinstance(v, float) else _ItemInt if isinstance(v, int) else None
        if cls is None:
            raise CompileError(f"compile: a {type(v).__name__} read from a traced array at "
                               f"{_site()[0]}; compile follows floats and ints only")  # fmt: skip
        out = cls(v)
        out._tr, out._slot = self, slot
        return out

    def guard(self, x: _Traced, how: str, value: Any) -> None:
        targs, _ = self.template((x,))
        self.calls.append(_Call("guard", how, how, targs, {}, None, (), _site(), value))


class _Number:
    """What ``.item()`` returns while tracing: a float (int) that records arithmetic done
    on it, and turns comparisons and conversions into guards checked by every replay."""

    _tr: Any = None
    _slot: int = -1

    def plain(self) -> Any:
        if isinstance(self, float):
            return float.__float__(self)
        return int.__int__(self)  # type: ignore[call-overload, arg-type]

    def _op(self, fn: Any, name: str, args: tuple[Any, ...]) -> Any:
        if _active() is not None and any(isinstance(a, np.ndarray) for a in args):
            # ``number * array``: NumPy's reflected operator records the call with the number
            # as a followed value (here it would be a constant, stale in every replay)
            return NotImplemented
        plain = tuple(a.plain() if isinstance(a, _Number) else a for a in args)
        r = fn(*plain)
        tr = _active()
        if tr is None or self._tr is not tr or r is NotImplemented:
            return r
        if not all(isinstance(a, (int, float)) for a in plain):
            return r
        targs, _ = tr.template(args)
        if isinstance(r, bool) or name in _CONVERSIONS:
            tr.calls.append(_Call("guard", fn, name, targs, {}, None, (), _site(), r))
            return r
        if isinstance(r, (int, float)):
            out = tr.new_number(r)
            tr.calls.append(_Call("call", fn, name, targs, {}, out._slot, (), _site()))
            return out
        return r

    def _text(self, *args: Any) -> str:
        if _active() is not None and self._tr is _active():
            raise CompileError(
                f"compile: the step turns a traced value into text (print, format, str) at "
                f"{_site()[0]}, from {_site()[1]}; a replay runs none of the step's Python "
                f"code.  Return the value and print it outside the compiled step"
            )
        return self.plain().__format__(*args) if args else repr(self.plain())


_CONVERSIONS = {"int", "float", "index", "round", "trunc", "floor", "ceil", "bool"}
_NUMBER_OPS = {
    "__add__": (operator.add, False), "__radd__": (operator.add, True),
    "__sub__": (operator.sub, False), "__rsub__": (operator.sub, True),
    "__mul__": (operator.mul, False), "__rmul__": (operator.mul, True),
    "__truediv__": (operator.truediv, False), "__rtruediv__": (operator.truediv, True),
    "__floordiv__": (operator.floordiv, False), "__rfloordiv__": (operator.floordiv, True),
    "__mod__": (operator.mod, False), "__rmod__": (operator.mod, True),
    "__pow__": (operator.pow, False), "__rpow__": (operator.pow, True),
    "__lt__": (operator.lt, False), "__le__": (operator.le, False),
    "__gt__": (operator.gt, False), "__ge__": (operator.ge, False),
    "__eq__": (operator.eq, False), "__ne__": (operator.ne, False),
}  # fmt: skip
_NUMBER_UNARY = {
    "__neg__": (operator.neg, "neg"), "__pos__": (operator.pos, "pos"),
    "__abs__": (operator.abs, "abs"), "__bool__": (bool, "bool"), "__int__": (int, "int"),
    "__float__": (float, "float"), "__index__": (operator.index, "index"),
    "__trunc__": (math.trunc, "trunc"), "__floor__": (math.floor, "floor"),
    "__ceil__": (math.ceil, "ceil"),
}  # fmt: skip


def _number_class(base: type) -> type:
    ns: dict[str, Any] = {"__hash__": base.__hash__, "__str__": _Number._text,
                          "__repr__": _Number._text, "__format__": _Number._text}  # fmt: skip
    for dunder, (fn, reflected) in _NUMBER_OPS.items():

        def binary(self: Any, other: Any, fn: Any = fn, reflected: bool = reflected,
                   name: str = fn.__name__) -> Any:  # fmt: skip
            return self._op(fn, name, (other, self) if reflected else (self, other))

        ns[dunder] = binary
    for dunder, (fn, name) in _NUMBER_UNARY.items():  # type: ignore[assignment]

        def unary(self: Any, fn: Any = fn, name: str = name) -> Any:
            return self._op(fn, name, (self,))

        ns[dunder] = unary

    def rnd(self: Any, *nd: Any) -> Any:
        return self._op(round, "round", (self, *nd))

    ns["__round__"] = rnd
    return type(f"_Item{base.__name__.title()}", (_Number, base), ns)


_ItemFloat: Any = _number_class(float)
_ItemInt: Any = _number_class(int)


def _view_at(base: Any, shape: Any, dtype: Any, offset: int, strides: Any) -> Any:
    """The view of ``base``'s memory at ``offset`` bytes with this shape and strides."""
    return np.ndarray(shape, dtype, buffer=base, offset=offset, strides=strides)


def _flat(args: Any, kwargs: Any) -> list[Any]:
    out: list[Any] = []

    def walk(x: Any) -> None:
        t = type(x)
        if t is tuple or t is list:
            for v in x:
                walk(v)
        elif t is dict:
            for v in x.values():
                walk(v)
        else:
            out.append(x)

    walk(args)
    walk(kwargs)
    return out


def _as_array(r: Any) -> Any:
    return np.asarray(r) if isinstance(r, np.generic) else r


def _hint(name: str) -> str:
    name = name.split(".")[0]
    return name if name.isidentifier() else "t"


# ------------------------------------------------- the NumPy namespace seen while tracing
_CREATE = (
    "empty", "zeros", "ones", "full", "arange", "eye", "identity", "linspace", "tri",
    "array", "asarray", "ascontiguousarray", "asanyarray", "asfortranarray", "frombuffer",
    "empty_like", "zeros_like", "ones_like", "full_like",
)  # fmt: skip


def _has_traced(x: Any) -> bool:
    if isinstance(x, _Traced):
        return True
    t = type(x)
    if t is tuple or t is list:
        return any(_has_traced(v) for v in x)
    if t is dict:
        return any(_has_traced(v) for v in x.values())
    return False


def _creator(name: str) -> Any:
    fn = getattr(np, name)

    def create(*args: Any, **kwargs: Any) -> Any:
        tr = _active()
        if tr is None:
            return fn(*args, **kwargs)
        if name in ("asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "array"):
            x = args[0] if args else kwargs.get("a", kwargs.get("object"))
            if isinstance(x, _Traced) or (
                hasattr(x, "numpy") and hasattr(x, "_backward") and not isinstance(x, np.ndarray)
            ):
                if not isinstance(x, _Traced):  # a Tensor
                    x = x.numpy()  # type: ignore[union-attr]
                    args = (x,) + tuple(args[1:])
                    if not isinstance(x, _Traced):
                        return fn(*args, **kwargs)
                result = fn(tr.plain(x), *args[1:], **_strip(kwargs))
                if result is tr.plain(x):
                    return x
                return tr.record("call", fn, name, args, kwargs, ())
            if isinstance(x, np.ndarray) and not _has_traced(kwargs):
                result = fn(*args, **kwargs)
                if result is x:  # a plain array stays the same object
                    return result
        return tr.record("call", fn, name, args, kwargs, ())

    create.__name__ = name
    return create


class _TracingNumPy(types.ModuleType):
    """NumPy, with the functions that make arrays from nothing (or from a tracer, where
    NumPy would drop it) recording themselves."""

    def __init__(self) -> None:
        super().__init__("numpy")
        for name in _CREATE:
            setattr(self, name, _creator(name))
        self.ndarray = np.ndarray

    def __getattr__(self, name: str) -> Any:
        value = getattr(np, name)
        setattr(self, name, value)
        return value


class _TracingMath(types.ModuleType):
    """``math``, with its functions recording themselves when given a traced number."""

    def __init__(self) -> None:
        super().__init__("math")

    def __getattr__(self, name: str) -> Any:
        value = getattr(math, name)
        if callable(value):
            fn = value

            def call(*args: Any) -> Any:
                tr = _active()
                if tr is not None and any(isinstance(a, _Number) and a._tr is tr for a in args):
                    number = next(a for a in args if isinstance(a, _Number))
                    return number._op(fn, name, args)
                return fn(*args)

            call.__name__ = name
            value = call
        setattr(self, name, value)
        return value


def _external(fn: Any, name: str) -> Any:
    """A compiled kernel outside NumPy (SciPy's BLAS axpy), recorded as one call; a result
    that is one of its arguments is an in-place write into it."""

    def call(*args: Any, **kwargs: Any) -> Any:
        tr = _active()
        if tr is None or not _has_traced((args, kwargs)):
            return fn(*_strip(args), **_strip(kwargs))
        # which argument comes back (an intent(in,out) argument updated in place)?
        plain = [tr.template(a)[1] if isinstance(a, _Traced) else a for a in args]
        probe_writes = [a for a, p in zip(args, plain) if isinstance(a, _Traced)]
        result = tr.record("call", fn, name, args, kwargs, ())
        # record() returned the traced argument when the kernel handed it back: mark the
        # write (the call is kept: it updated that array in place)
        if result is not None and any(result is a for a in probe_writes):
            targs, tkw = tr.template((tuple(args), dict(kwargs)))[0]
            call_ = _Call("call", fn, name, targs, tkw,
                          None, (result._slot,), _site())  # fmt: skip
            tr.calls.append(call_)
            if tr.first_state_write is None and tr._base_input(result._slot):
                tr.first_state_write = len(tr.calls) - 1
        return result

    call.__name__ = name
    return call


# --------------------------------------------------------------------------- codegen
def _literal(x: Any) -> str | None:
    t = type(x)
    if x is None or t is bool or t is int or t is str:
        return repr(x)
    if t is float:
        return repr(x) if math.isfinite(x) else None
    if x is Ellipsis:
        return "..."
    return None


_SCALAR_OPS = {
    np.add: ("+", 2), np.subtract: ("-", 2), np.multiply: ("*", 2), np.true_divide: ("/", 2),
    np.less: ("<", 2), np.less_equal: ("<=", 2), np.greater: (">", 2),
    np.greater_equal: (">=", 2), np.equal: ("==", 2), np.not_equal: ("!=", 2),
    np.negative: ("-", 1),
}  # fmt: skip
_NP_ATTR = re.compile(r"\bnp\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)\b(?=\()")
_WORD = re.compile(r"\b[A-Za-z_]\w*\b")
_REDUCE_DEFAULTS = {("dtype", None), ("keepdims", False), ("where", True), ("out", None)}


class _Emitter:
    def __init__(self, trace: _Trace, names: list[str]) -> None:
        self.trace = trace
        self.names = names
        self.ns: dict[str, Any] = {"np": np}
        self.const_names: dict[int, str] = {}
        self.fn_names: dict[int, str] = {}

    def obj(self, x: Any, hint: str) -> str:  # noqa: C901
        """A name in the generated code's namespace for the object ``x``."""
        key = id(x)
        got = self.fn_names.get(key)
        if got is not None:
            return got
        owner = getattr(x, "__self__", None)
        if isinstance(x, np.ufunc) and getattr(np, x.__name__, None) is x:
            name = f"np.{x.__name__}"  # type: ignore[union-attr]
        elif getattr(x, "__module__", None) == "math" and getattr(math, x.__name__, None) is x:
            name = f"math.{x.__name__}"  # type: ignore[union-attr]
        elif getattr(x, "__module__", None) == "_operator":
            name = f"operator.{x.__name__}"  # type: ignore[union-attr]
        elif isinstance(owner, np.ufunc) and getattr(np, owner.__name__, None) is owner:
            name = f"np.{owner.__name__}.{x.__name__}"  # type: ignore[union-attr]
        elif (
            callable(x)
            and getattr(x, "__module__", "") in ("numpy", "numpy._core.multiarray", "numpy.core")
            and getattr(np, getattr(x, "__name__", ""), None) is x
        ):
            name = f"np.{x.__name__}"  # type: ignore[union-attr]
        elif isinstance(x, types.BuiltinFunctionType) and getattr(np, x.__name__, None) is x:
            name = f"np.{x.__name__}"  # type: ignore[union-attr]
        else:
            base = hint if hint.isidentifier() else "f"
            name = base
            k = 1
            while name in self.ns:
                name = f"{base}_{k}"
                k += 1
            self.ns[name] = x
        self.fn_names[key] = name
        return name

    def src(self, x: Any) -> str:
        if isinstance(x, _Ref):
            return self.names[x.slot]
        if isinstance(x, _Const):
            name = self.const_names.get(x.index)
            if name is None:
                value = self.trace.consts[x.index]
                lit = _literal(value)
                if lit is not None:
                    return lit
                if isinstance(value, np.dtype):
                    name = f"np.dtype({str(value)!r})"
                    self.const_names[x.index] = name
                    return name
                if isinstance(value, type) and getattr(np, value.__name__, None) is value:
                    name = f"np.{value.__name__}"  # type: ignore[union-attr]
                    self.const_names[x.index] = name
                    return name
                name = f"c{x.index}"
                self.ns[name] = value
                self.const_names[x.index] = name
            return name
        t = type(x)
        if t is tuple:
            inner = ", ".join(self.src(v) for v in x)
            return f"({inner},)" if len(x) == 1 else f"({inner})"
        if t is list:
            return "[" + ", ".join(self.src(v) for v in x) + "]"
        if t is dict:
            return "{" + ", ".join(f"{k!r}: {self.src(v)}" for k, v in x.items()) + "}"
        if t is slice:
            return f"slice({self.src(x.start)}, {self.src(x.stop)}, {self.src(x.step)})"
        lit = _literal(x)
        if lit is not None:
            return lit
        return self.obj(x, "k")

    def scalar_args(self, args: Any) -> bool:
        """Whether every argument is a NumPy scalar of the replay or a Python number, and
        one at least is the former."""
        seen = False
        for a in args:
            if isinstance(a, _Ref) and a.slot in self.trace.scalars:
                seen = True
            elif type(a) not in (int, float):
                return False
        return seen

    def key(self, x: Any) -> str:
        """An indexing key: ``a[1:, None]`` rather than ``a[(slice(1, None, None), None)]``."""
        if type(x) is slice:
            parts = [self.src(v) if v is not None else "" for v in (x.start, x.stop)]
            s = ":".join(parts)
            return s + (f":{self.src(x.step)}" if x.step is not None else "")
        if type(x) is tuple and x:
            return ", ".join(self.key(v) for v in x) + ("," if len(x) == 1 else "")
        return self.src(x)

    def call(self, c: _Call) -> str:
        args = c.args
        kw = c.kwargs
        if c.kind == "getitem":
            return f"{self.src(args[0])}[{self.key(args[1])}]"
        if c.kind == "setitem":
            return f"{self.src(args[0])}[{self.key(args[1])}] = {self.src(args[2])}"
        if c.kind == "item":
            return f"{self.src(args[0])}.item({', '.join(self.src(a) for a in args[1:])})"
        op = _SCALAR_OPS.get(c.fn) if c.kind == "call" and not kw else None
        if op is not None and len(args) == op[1] and self.scalar_args(args):
            # NumPy scalars: their operators run the ufunc's loop, without its call overhead
            if op[1] == 1:
                return f"{op[0]}{self.src(args[0])}"
            return f"{self.src(args[0])} {op[0]} {self.src(args[1])}"
        parts = [self.src(a) for a in (args[1:] if c.kind == "method" else args)]
        if c.name.endswith(".reduce"):  # leave out the defaults NumPy's methods pass on
            kw = {k: v for k, v in kw.items() if (k, v) not in _REDUCE_DEFAULTS}
        parts += [
            f"{k}={self.src(v[0] if k == 'out' and type(v) is tuple and len(v) == 1 else v)}"
            for k, v in kw.items()
            if v is not np._NoValue
        ]
        if c.kind == "method":
            return f"{self.src(args[0])}.{c.fn}({', '.join(parts)})"
        fname = self.obj(c.fn, c.name.split(".")[0])
        if "." in c.name and not fname.endswith(c.name.split(".", 1)[1]):
            pass
        return f"{fname}({', '.join(parts)})"


# ------------------------------------------------------------------------- the state
class _Owners:
    """What a step reads and changes beyond its arguments: Modules, Optimizers, Tensors,
    and arrays in its closure cells and globals."""

    def __init__(self) -> None:
        self.tensors: dict[int, tuple[Any, str]] = {}  # id -> (Tensor, name)
        self.modules: dict[int, tuple[Any, str]] = {}
        self.optimizers: dict[int, tuple[Any, str]] = {}
        self.arrays: list[tuple[Any, Any, str, str]] = []  # (cell or dict, key, name, how)
        self.by_module: set[int] = set()  # tensors named after a module's attribute
        self.via: dict[int, tuple[Any, Any]] = {}  # id(Tensor) -> (cell, None) / (dict, key)
        self.same: list[tuple[Any, Any, Any, str]] = []  # (cell / dict, key, object, name)
        self.tuple_arrays: dict[int, str] = {}  # arrays in tuples: a replay cannot read them

    def add(self, x: Any, name: str, depth: int = 0) -> None:
        from .nn import Module
        from .optim import Optimizer
        from .tensor import Tensor

        if isinstance(x, Tensor):
            self.tensors.setdefault(id(x), (x, name))
            self._tensor_hooks(x)
        elif isinstance(x, Module):
            if id(x) in self.modules:
                return
            self.modules[id(x)] = (x, name)
            for pname, p in x.named_parameters():
                if id(p) not in self.by_module:
                    self.by_module.add(id(p))
                    self.tensors[id(p)] = (p, f"{name}.{pname}" if name else pname)
            for bname, b in x.named_buffers():
                if isinstance(b, Tensor):
                    self.tensors.setdefault(id(b), (b, f"{name}.{bname}" if name else bname))
            # the hooks run Python inside the step: what they change is watched too
            for _, sub in x.named_modules():
                hooks = sub.__dict__.get("_hooks")
                for kind in ("pre", "post", "backward"):
                    for fn in getattr(getattr(hooks, kind, None), "hooks", {}).values():
                        self.add_function(fn)
            for held, _ in list(self.tensors.values()):
                self._tensor_hooks(held)
        elif isinstance(x, Optimizer):
            if id(x) in self.optimizers:
                return
            self.optimizers[id(x)] = (x, name)
            for gi, group in enumerate(x.param_groups):
                for pi, p in enumerate(group["params"]):
                    self.tensors.setdefault(id(p), (p, f"{name}.param{gi}_{pi}"))
        elif depth < 2 and isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                self._held(x, i, v)
                self.add(v, f"{name}{i}", depth + 1)
        elif depth < 2 and isinstance(x, dict):
            for k, v in list(x.items()):
                if isinstance(k, str):
                    self._held(x, k, v)
                    self.add(v, f"{name}{k}", depth + 1)
        elif depth < 2 and _plain_object(x):  # its attributes, as a dict's items
            self.add(vars(x), f"{name}.", depth + 1)

    def _held(self, holder: Any, key: Any, v: Any) -> None:
        """A Tensor, Module or Optimizer the step reads from a list or dict it holds: read
        through the container each call (a Tensor), or guarded to be the same object."""
        from .nn import Module
        from .optim import Optimizer
        from .tensor import Tensor

        if isinstance(v, Tensor):
            if id(v) not in self.tensors and id(v) not in self.via:
                self.via[id(v)] = (holder, key)
        elif isinstance(v, (Module, Optimizer)) and type(holder) is not tuple:
            self.same.append((holder, key, v, f"[{key!r}]"))
        elif isinstance(v, _Traced) or type(v) is np.ndarray:
            if type(holder) is tuple:  # (it cannot be replaced by a tracer there)
                self.tuple_arrays[id(v)] = f"[{key!r}]"
            elif v.dtype.kind in "biufc" and not any(
                a[0] is holder and a[1] == key for a in self.arrays
            ):
                self.arrays.append((holder, key, f"{key}", "global"))

    def _tensor_hooks(self, t: Any) -> None:
        for slot in ("_hooks", "_post_hooks"):
            try:
                hooks = getattr(t, slot)
            except AttributeError:
                continue
            for fn in list(hooks.values()):
                self.add_function(fn)

    def add_function(self, fn: Any, seen: set[int] | None = None) -> None:
        """Owners named by a function: its closure cells and the globals it reads, and
        those of the functions it names (defined outside this package)."""
        seen = set() if seen is None else seen
        if id(fn) in seen:
            return
        seen.add(id(fn))
        self_obj = getattr(fn, "__self__", None)
        if self_obj is not None and not isinstance(self_obj, types.ModuleType):
            self.add(self_obj, "self")
            attrs = getattr(self_obj, "__dict__", None)
            if isinstance(attrs, dict):
                for k, v in list(attrs.items()):
                    # (read through self's __dict__ each call, as a closure cell is)
                    self._value(v, k, attrs, "global", seen)
            fn = getattr(fn, "__func__", fn)
        if isinstance(fn, types.FunctionType):
            code = fn.__code__
            where = os.path.abspath(code.co_filename)
            if where.startswith(_PACKAGE) and not where.startswith(_COMMANDS):
                return  # the engine's own functions hold no user state
            for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
                try:
                    v = cell.cell_contents
                except ValueError:
                    continue
                self._value(v, name, cell, "cell", seen)
            g = fn.__globals__
            for name in _code_names(code):
                if name in g:
                    self._value(g[name], name, g, "global", seen)
        elif isinstance(fn, functools.partial):  # its function and the values it binds
            self.add_function(fn.func, seen)
            for i, v in enumerate([*fn.args, *fn.keywords.values()]):
                if isinstance(v, (types.FunctionType, types.MethodType)):
                    self.add_function(v, seen)
                else:
                    self.add(v, f"partial{i}")
        elif callable(fn) and not isinstance(fn, type):
            for k, v in list(getattr(fn, "__dict__", {}).items()):
                self.add(v, k)

    def _value(self, v: Any, name: str, holder: Any, how: str, seen: set[int]) -> None:
        from .tensor import Tensor

        if not isinstance(v, (types.ModuleType, type, str, int, float, bool, type(None))):
            # the step reads this cell (global) each call: a new object there is a new step
            if not (isinstance(v, Tensor) or isinstance(v, np.ndarray)):
                self.same.append((holder, name if how == "global" else None, v, name))
        if isinstance(v, Tensor) and id(v) not in self.tensors:
            self.via[id(v)] = (holder, name if how == "global" else None)
        if isinstance(v, _Traced) or type(v) is np.ndarray:
            entry = (holder, name if how == "global" else None, name, how)
            # (a global two functions name is one input)
            if v.dtype.kind in "biufc" and not any(
                a[0] is holder and a[1] == entry[1] and a[2] == name for a in self.arrays
            ):
                self.arrays.append(entry)
        elif isinstance(v, types.FunctionType):
            self.add_function(v, seen)
        elif isinstance(v, types.MethodType):
            self.add_function(v, seen)
        else:
            self.add(v, name)


def _plain_object(x: Any) -> bool:
    """An instance of a user's class (a config, a trainer, a box of arrays)."""
    return (
        isinstance(getattr(x, "__dict__", None), dict)
        and not isinstance(x, (type, types.ModuleType, types.FunctionType, types.MethodType))
        and not callable(x)
        and type(x).__module__ not in ("builtins", "numpy")
        and not type(x).__module__.startswith("tinygrad_bp")
    )


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _code_names(c)
    return names


def _ident(name: str) -> str:
    s = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_") or "x"
    return s if not s[0].isdigit() else "p" + s


# ---------------------------------------------------------------------- the compiled step
class _Variant:
    """One traced signature: the generated function and what it reads and writes."""

    def __init__(self) -> None:
        self.fn: Callable[..., Any] | None = None
        self.source = ""
        self.calls = 0


class Compiled:
    """A step compiled by :func:`compile`: call it as the step; ``source`` is the code of
    the last trace (also what ``print(compiled)`` shows)."""

    def __init__(self, step: Callable[..., Any], state: Any, max_traces: int, verify: bool) -> None:
        self._partial = step if type(step) is functools.partial else None
        self.step = step.func if type(step) is functools.partial else step
        self.extra_state = list(state) if state is not None else []
        self.max_traces = max_traces
        self.verify = verify
        self._entries: dict[Any, dict[str, Any]] = {}
        self.traces = 0
        self.source = ""
        self.replays = 0
        self._why = ""
        self.__doc__ = getattr(step, "__doc__", None)
        self.__name__ = getattr(step, "__name__", "step")

    def __repr__(self) -> str:
        return f"<compiled {self.__name__}: {self.traces} trace(s), {self.replays} replay(s)>"

    def __str__(self) -> str:
        return self.source or f"# {self.__name__}: not traced yet (it traces on its 2nd call)"

    # -- the call
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._partial is not None:  # its bound arguments are arguments: read each call
            p = self._partial
            args, kwargs = (*p.args, *args), {**p.keywords, **kwargs}
        key = _arg_key((args, kwargs)) if args or kwargs else ()
        entry = self._entries.get(key)
        if entry is not None:
            for run in entry["runs"]:
                try:
                    out = run(args, kwargs)
                except _GuardMiss:
                    continue
                self.replays += 1
                return out
        else:
            entry = self._entries[key] = {"calls": 0, "runs": [], "pending": None}
        return self._slow(entry, args, kwargs)

    def _slow(self, entry: dict[str, Any], args: Any, kwargs: Any) -> Any:
        entry["calls"] += 1
        if entry["calls"] == 1:
            entry["pending"] = []
            return self.step(*args, **kwargs)
        if self.traces >= self.max_traces:
            raise CompileError(
                f"compile: {self.__name__} was traced {self.traces} times (max_traces="
                f"{self.max_traces}); its arguments' shapes or dtypes, or the state it reads "
                f"(parameters replaced, train/eval, hyperparameters), keep changing.  Keep "
                f"them fixed, or raise max_traces, or call the step uncompiled"
                + (f" (the last two traces differed: {self._why})" if self._why else "")
            )
        self.traces += 1
        owners = self._owners(args, kwargs)
        # traces not yet compiled, each waiting for a second one from the same state (a
        # step called alternately with .grad set and not, as in gradient accumulation)
        pending: list[_Record] = entry.get("pending") or []
        entry["pending"] = pending
        with _TRACING:  # one trace at a time: the package's ``np`` names are shared
            rec, result = _run_traced(
                self.step, owners, args, kwargs, bool(pending) and self.verify
            )
        prev = next((p for p in reversed(pending) if _same_state(p, rec)), None)
        if prev is None or rec.structure_changed or prev.structure_changed:
            if prev is not None:
                pending.remove(prev)
            pending.append(rec)
            return result
        pending.remove(prev)
        try:
            _compare(prev, rec)
        except _PathChanged as exc:  # another branch: trace again (up to max_traces)
            self._why = str(exc)
            pending.append(rec)
            return result
        if rec.copies is None and self.verify:  # (traced without copies: wait for another)
            pending.append(rec)
            return result
        program = _Program(rec)
        if self.verify:
            program.verify(rec)
        rec.copies = None
        self.source = program.source
        entry["runs"].append(program.run)
        return result

    def _owners(self, args: Any, kwargs: Any) -> _Owners:
        from .nn import Module
        from .optim import Optimizer

        owners = _Owners()
        owners.add_function(self.step)
        # a model or optimizer passed as an argument (the same object: its id is in the key)
        for i, v in enumerate([*args, *kwargs.values()]):
            if isinstance(v, (Module, Optimizer)):
                owners.add(v, f"arg{i}")
        for i, s in enumerate(self.extra_state):
            owners.add(s, f"state{i}")
        return owners


def compile(  # noqa: A001 (tg.compile, as torch.compile)
    step: Callable[..., Any] | None = None,
    *,
    state: Any = None,
    max_traces: int = 8,
    verify: bool = True,
) -> Any:
    """Compile a training step of fixed shapes into straight-line NumPy calls.

    ``step`` is a function (or a bound method) that runs one step: forward, backward,
    optimizer.  It may take arrays and Tensors as arguments (new ones each call, of the
    same shapes and dtypes) and return a Python number from ``.item()``, an array, a
    Tensor (returned detached) or a tuple of those.  The state it changes is found in its
    closure cells and in the globals it names (Modules, Optimizers, Tensors, arrays), and
    in the functions and bound methods it names; pass others in ``state=[...]``.

    The first call runs eagerly, the second and third are traced and must agree, then the
    generated code is checked once against the eager step on copies of the state
    (``verify``), and every later call replays it.  ``compiled.source`` (or
    ``print(compiled)``) is the generated code.  Usable as a decorator, with or without
    arguments.  See the docs' page "A compiled step".
    """
    if step is None:
        return lambda fn: Compiled(fn, state, max_traces, verify)
    if not callable(step):
        raise TypeError(
            f"compile: expected a function (the training step), got {type(step).__name__}"
        )
    return Compiled(step, state, max_traces, verify)


def _arg_key(x: Any) -> Any:
    """What a trace depends on in the arguments: structure, shapes, dtypes, numbers."""
    if x == ((), {}):
        return ()
    from .tensor import Tensor

    def key(v: Any) -> Any:
        t = type(v)
        if t is tuple or t is list:
            return (t.__name__,) + tuple(key(u) for u in v)
        if t is dict:
            return ("dict",) + tuple((k, key(u)) for k, u in v.items())
        if isinstance(v, Tensor):
            d = v.data
            return ("T", d.shape, d.dtype.str, d.strides, v.requires_grad)
        if isinstance(v, np.ndarray):
            return ("A", v.shape, v.dtype.str, v.strides)
        if t in _LITERALS:
            return (t.__name__, v)
        return (t.__name__, id(v))

    return key(x)


# ------------------------------------------------------------------------ tracing a step
class _Source:
    """Where an input is read and a result written back: ``expr`` on objects named in the
    generated code's namespace."""

    __slots__ = ("expr", "bind", "hint")

    def __init__(self, expr: str, bind: dict[str, Any], hint: str) -> None:
        self.expr = expr
        self.bind = bind
        self.hint = hint


class _Record:
    """A traced step: the trace, its inputs, write-backs, guards and output."""

    def __init__(self, trace: _Trace) -> None:
        self.trace = trace
        self.sources: dict[int, _Source] = {}  # input slot -> where it is read
        self.writebacks: list[tuple[_Source, Any]] = []  # (where, slot / None / ("bump", n))
        self.guards: list[tuple[str, dict[str, Any], Any]] = []  # (expr, bind, value)
        self.aliases: list[tuple[str, str]] = []  # two sources that held one array
        self.output: Any = None
        self.structure_changed = False
        self.copies: dict[int, Any] | None = None
        self.notes: set[str] = set()  # what may explain a difference between two traces


def _patch_modules(step: Any) -> list[tuple[dict[str, Any], str, Any]]:
    """Point the package's (and the step's module's) ``np`` and ``xp`` at the tracing
    namespace; returns what to put back."""
    ns = _TracingNumPy()
    undo: list[tuple[dict[str, Any], str, Any]] = []
    dicts = [m.__dict__ for name, m in list(sys.modules.items())
             if name.startswith("tinygrad_bp.") and m is not None and name != __name__]  # fmt: skip
    g = getattr(getattr(step, "__func__", step), "__globals__", None)
    if g is not None and g.get("__name__") != __name__:
        dicts.append(g)
    tracing_math = _TracingMath()
    for d in dicts:
        for key in ("np", "xp", "numpy"):
            if d.get(key) is np:
                undo.append((d, key, np))
                d[key] = ns
        if d.get("math") is math:
            undo.append((d, "math", math))
            d["math"] = tracing_math
        if "_AXPY" in d and d.get("_axpy") is not None:
            from scipy.linalg import blas

            undo.append((d, "_AXPY", d["_AXPY"]))
            d["_AXPY"] = {"d": _external(blas.daxpy, "daxpy"), "f": _external(blas.saxpy, "saxpy")}
    _clear_caches()
    return undo


def _clear_caches() -> None:
    for name, m in list(sys.modules.items()):
        if name.startswith("tinygrad_bp.") and m is not None:
            for v in list(m.__dict__.values()):
                clear = getattr(v, "cache_clear", None)
                if clear is not None and getattr(v, "__module__", "").startswith("tinygrad_bp"):
                    clear()


def _run_traced(
    step: Any, owners: _Owners, args: Any, kwargs: Any, copy_inputs: bool
) -> tuple[_Record, Any]:
    from .tensor import Tensor, leaf

    tr = _Trace()
    tr.unreadable = owners.tuple_arrays
    rec = _Record(tr)
    if copy_inputs:
        rec.copies = {}
    by_array: dict[int, tuple[_Traced, str]] = {}  # id(plain input) -> (tracer, its expr)
    restore: list[_Put] = []
    n_bind = [0]

    def bind(obj: Any, prefix: str) -> tuple[str, dict[str, Any]]:
        n_bind[0] += 1
        name = f"{prefix}{n_bind[0]}"
        return name, {name: obj}

    def take(value: Any, expr: str, b: dict[str, Any], hint: str) -> Any:
        """The tracer to put where ``expr`` reads ``value`` (an input)."""
        if not (type(value) is np.ndarray or isinstance(value, _Traced)):
            return value
        plain = _plainview(value) if isinstance(value, _Traced) else value
        hit = by_array.get(id(plain))
        if hit is not None:
            rec.aliases.append((hit[1], expr))
            rec.guards.append((f"{expr} is {hit[1]}", b, True))
            return hit[0]
        t = tr.add_input(plain, hint, None)
        rec.sources[t._slot] = _Source(expr, b, hint)
        by_array[id(plain)] = (t, expr)
        if rec.copies is not None:
            rec.copies[t._slot] = plain.copy()
        return t

    # -- the state, before: tensors, optimizers, modules, cells and globals
    from .autograd import HAS_HOOKS, POST_HOOKS

    hook_flags = HAS_HOOKS | POST_HOOKS
    tensors = []
    for t, name in owners.tensors.values():
        via = owners.via.get(id(t))
        if via is None:
            nm, b = bind(t, "T")
        elif via[1] is None:  # a Tensor in a closure cell: read through the cell each call
            cnm, b = bind(via[0], "C")
            nm = f"{cnm}.cell_contents"
        else:
            cnm, b = bind(via[0], "G")
            nm = f"{cnm}[{via[1]!r}]"
        ident = _ident(name)
        data0, grad0 = t.data, t.grad
        tensors.append((t, nm, b, ident, data0, grad0))
    for t, nm, b, ident, data0, grad0 in tensors:
        td = take(data0, f"{nm}.data", b, ident)
        if td is not data0:
            t.data = td
            restore.append(_Put(t, "data", data0, td))
        tg = take(grad0, f"{nm}.grad", b, f"grad_{ident}")
        if tg is not grad0:
            t.grad = tg
            restore.append(_Put(t, "grad", grad0, tg))
        rec.guards.append((f"{nm}.grad is None", b, grad0 is None))
        # the backward walk reads these: a layer frozen, a hook added, is another step
        rec.guards.append((f"{nm}.requires_grad", b, bool(t.requires_grad)))
        flags = t._flags & hook_flags
        rec.guards.append((f"({nm}._flags & {hook_flags})", b, flags))
        if flags:
            rec.guards.append((f"_tensor_hooks({nm})", {**b, "_tensor_hooks": _tensor_hooks},
                               _tensor_hooks(t)))  # fmt: skip
    from . import autograd

    rec.guards.append(("_grad_enabled()", {"_grad_enabled": autograd.is_grad_enabled},
                       autograd.is_grad_enabled()))  # fmt: skip
    opts = []
    int_state: set[str] = set()  # optimizer state keys holding Python ints
    group_values: list[tuple[Any, int, dict[str, Any], str, Any]] = []
    for opt, _oname in owners.optimizers.values():
        nm, b = bind(opt, "O")
        states = {}
        # the parameters it updates: a group added, a list replaced or changed, is another step
        rec.guards.append((f"_param_ids({nm})", {**b, "_param_ids": _param_ids}, _param_ids(opt)))
        for gi, group in enumerate(opt.param_groups):
            gnm, gb = bind(group, "GROUP")
            gb = {**gb, **b}
            rec.guards.append((f"{nm}.param_groups[{gi}] is {gnm}", gb, True))
            for k, v in group.items():
                if k != "params":
                    rec.guards.append((f"{gnm}[{k!r}]", gb, _freeze(v)))
                    group_values.append((opt, gi, group, k, _freeze(v)))
            for p in group["params"]:
                entry = opt.state._by_id.get(id(p))
                if entry is not None and entry[0] is p:
                    st = entry[1]
                    snm, sb = bind(st, "S")
                    pname = _ident(owners.tensors.get(id(p), (None, "p"))[1])
                    before = dict(st)
                    for k, v in before.items():
                        if type(v) is int:  # a step count: a number the trace follows
                            # (as a float: ``b1 ** t`` with a float on the left asks a float
                            # subclass on the right first, an int subclass never; the same
                            # value, exactly, below 2**53; written back as an int)
                            tv = tr.new_number(float(v))
                            int_state.add(k)
                            tr.int_inputs.add(tv._slot)
                            tr.input_slots.add(tv._slot)
                            rec.sources[tv._slot] = _Source(
                                f"{snm}[{k!r}]", sb, f"{_ident(k)}_{pname}"
                            )
                            if rec.copies is not None:
                                rec.copies[tv._slot] = v
                            st[k] = tv
                            restore.append(_Put(st, k, v, tv, item=True))
                            continue
                        tv = take(v, f"{snm}[{k!r}]", sb, f"{_ident(k)}_{pname}")
                        if tv is not v:
                            st[k] = tv
                            restore.append(_Put(st, k, v, tv, item=True))
                    states[id(p)] = (st, snm, sb, before)
        steps_before = list(getattr(opt, "_steps", [0, 0]))
        opts.append((opt, nm, b, states, steps_before, len(opt.state._by_id)))
    watched = []  # plain Python containers and objects the step names: it must not change them
    for holder, key, obj, name in owners.same:
        nm, b = bind(holder, "C")
        b = dict(b)
        b[f"{nm}_was"] = obj
        expr = f"{nm}.cell_contents" if key is None else f"{nm}[{key!r}]"
        rec.guards.append((f"{expr} is {nm}_was", b, True))
        snap = _snapshot(obj)
        if snap is not None:
            watched.append((obj, name, snap))
    tensor_versions = [(t, _version_of(t)) for t, *_ in tensors]
    module_attrs = []
    seen_modules: set[int] = set()
    for m, mname in owners.modules.values():
        for sub_name, sub in m.named_modules() if hasattr(m, "named_modules") else []:
            if id(sub) in seen_modules:
                continue
            seen_modules.add(id(sub))
            nm, b = bind(sub, "M")
            rec.guards.append((f"{nm}.training", b, sub.training))
            # its parameters and sub-modules (attributes), hooks and forward: replaced or
            # added, the step is another one
            rec.guards.extend(_module_guards(sub, nm, b))
            where = f"{mname}.{sub_name}" if sub_name else mname
            module_attrs.append((sub, nm, b, where, dict(vars(sub))))
    cells = []
    for holder, gname, name, how in owners.arrays:
        if how == "cell":
            nm, b = bind(holder, "C")
            expr = f"{nm}.cell_contents"
            v = holder.cell_contents
            tv = take(v, expr, b, _ident(name))
            if tv is not v:
                holder.cell_contents = tv
                restore.append(_Put(holder, "cell_contents", v, tv))
            cells.append((holder, None, v, expr, b, tv))
        else:
            nm, b = bind(holder, "G")
            expr = f"{nm}[{gname!r}]"
            v = holder[gname]
            tv = take(v, expr, b, _ident(name))
            if tv is not v:
                holder[gname] = tv
                restore.append(_Put(holder, gname, v, tv, item=True))
            cells.append((holder, gname, v, expr, b, tv))

    # -- the arguments: arrays and Tensors' arrays become inputs
    def arg(v: Any, expr: str) -> Any:
        t = type(v)
        if t is tuple or t is list:
            return t(arg(u, f"{expr}[{i}]") for i, u in enumerate(v))
        if t is dict:
            return {k: arg(u, f"{expr}[{k!r}]") for k, u in v.items()}
        if isinstance(v, Tensor):
            d = v.data
            tv = take(d, f"{expr}.data", {}, "x")
            if tv is not d:
                v.data = tv
                restore.append(_Put(v, "data", d, tv))
            return v
        if isinstance(v, np.ndarray):
            return take(v, expr, {}, "x")
        return v

    targs = arg(tuple(args), "args")
    tkwargs = arg(dict(kwargs), "kwargs")

    # -- run it
    undo = _patch_modules(step)
    _STATE.trace = tr
    ok = False
    try:
        result = step(*targs, **tkwargs)
        ok = True
    finally:
        _STATE.trace = None
        for d, k, v in reversed(undo):
            d[k] = v
        _clear_caches()
        if not ok:
            _restore_all(tensors, opts, cells, restore, tr)
            for sub, *_ in module_attrs:  # (a running statistic set as an attribute)
                for k, v in list(vars(sub).items()):
                    if isinstance(v, _Traced):
                        setattr(sub, k, _plainview(v))
                    elif isinstance(v, _Number):
                        setattr(sub, k, v.plain())

    # -- the state, after: what changed is written back by the replay
    def slot_of(v: Any) -> int | None:
        if isinstance(v, _Traced) and v._tr is tr and v._slot is not None:
            return v._slot
        if isinstance(v, _Number) and v._tr is tr:
            return v._slot
        return None

    problems: list[str] = []
    for t, nm, b, ident, data0, grad0 in tensors:
        for attr, was in (("data", data0), ("grad", grad0)):
            now = getattr(t, attr)
            s = slot_of(now)
            src = _Source(f"{nm}.{attr}", b, f"{'grad_' if attr == 'grad' else 'new_'}{ident}")
            if s is not None:
                if s not in tr.input_slots or rec.sources.get(s, src).expr != src.expr:
                    rec.writebacks.append((src, s))
                setattr(t, attr, tr.plains[s])
            elif now is None and was is not None:
                rec.writebacks.append((src, None))
            elif now is not was and not (isinstance(was, _Traced) and now is _plainview(was)):
                problems.append(f"{src.expr} ({owners.tensors[id(t)][1]}.{attr}) was set to a "
                                f"{type(now).__name__} made outside the trace")  # fmt: skip
    for opt, nm, b, states, steps_before, n_states in opts:
        if len(opt.state._by_id) != n_states:
            rec.structure_changed = True  # the optimizer made its state: a warm-up step
        for st, snm, sb, before in states.values():
            if set(st) != set(before):
                rec.structure_changed = True
            for k, now in list(st.items()):
                was = before.get(k)
                s = slot_of(now)
                src = _Source(f"{snm}[{k!r}]", sb, f"{_ident(k)}")
                if s is not None:
                    as_int = k in int_state and isinstance(now, _Number)
                    if s not in tr.input_slots or rec.sources[s].expr != src.expr:
                        rec.writebacks.append((src, ("int", s) if as_int else s))
                    st[k] = int(tr.plains[s]) if as_int else tr.plains[s]
                elif isinstance(now, _Traced):
                    st[k] = _plainview(now)
                elif now is not was and not _same_value(now, was):
                    if type(now) is int and type(was) is int:
                        rec.writebacks.append((src, ("add", now - was)))
                        rec.notes.add(
                            f"{type(opt).__name__}'s state[p][{k!r}] is a Python int the "
                            f"trace did not follow"
                        )
                    else:
                        problems.append(
                            f"the optimizer's state {k!r} went from {was!r} to {now!r}, a "
                            f"Python value a replay cannot compute"
                        )
        steps_now = getattr(opt, "_steps", [0, 0])
        if steps_now[1] != steps_before[1]:
            rec.writebacks.append((_Source(f"{nm}._steps", b, "steps"),
                                   ("bump", steps_now[1] - steps_before[1])))  # fmt: skip
    for opt, gi, group, k, val in group_values:
        if k not in group or _freeze(group[k]) != val:
            problems.append(
                f"the step changed {type(opt).__name__}'s param_groups[{gi}][{k!r}] (a "
                f"scheduler inside the step?): call the scheduler outside the compiled step "
                f"(each new value traces again)"
            )
    for holder, gname, _was, expr, b, tv in cells:
        now = holder.cell_contents if gname is None else holder[gname]
        s = slot_of(now)
        if s is not None:
            if now is not tv:
                rec.writebacks.append((_Source(expr, b, "new"), s))
            val = tr.plains[s]
        else:
            val = now
            if now is not tv:
                problems.append(f"{expr} was rebound to a {type(now).__name__}")
        if gname is None:
            holder.cell_contents = val
        else:
            holder[gname] = val

    for obj, name, snap in watched:
        if _snapshot(obj) != snap:
            problems.append(
                f"the step changes {name!r} (a {type(obj).__name__}), which a replay would not "
                f"do (it runs none of the step's Python code): return the value from the step "
                f"and keep the bookkeeping outside it"
            )
    for (t, nm, b, *_), (_, v0) in zip(tensors, tensor_versions):
        n = _version_of(t) - v0
        if n > 0:  # changed in place by a Tensor operator: the version check's counter
            rec.writebacks.append((_Source(nm, b, "version"), ("modified", n)))
    for sub, nm, b, where, before in module_attrs:
        now = vars(sub)
        for k in set(before) | set(now):
            was, v = before.get(k, _MISSING), now.get(k, _MISSING)
            if v is was:
                continue
            s = slot_of(v)
            if s is not None:
                rec.writebacks.append((_Source(f"{nm}.{k}", b, _ident(k)), s))
                setattr(sub, k, tr.plains[s])
            elif type(v) is int and type(was) is int:
                rec.writebacks.append((_Source(f"{nm}.{k}", b, _ident(k)), ("add", v - was)))
            else:
                problems.append(
                    f"the step set {where}.{k} (to a {type(v).__name__}), which a replay "
                    f"would not do"
                )

    # -- what the step returns
    state_tensors = {id(t): nm for t, nm, *_ in tensors}

    def out(v: Any) -> Any:
        t = type(v)
        if t is tuple or t is list:
            return (t.__name__, [out(u) for u in v])
        if t is dict:
            return ("dict", [(k, out(u)) for k, u in v.items()])
        if isinstance(v, Tensor) and id(v) in state_tensors:
            return ("state", state_tensors[id(v)])  # a parameter: the Tensor itself
        if isinstance(v, Tensor):
            s = slot_of(v.data)
            if s is None:
                return ("const", _freeze(v.data))
            v.data = tr.plains[s]
            return ("tensor", s)
        s = slot_of(v)
        if s is not None:
            return ("array", s)
        if (t is _ItemFloat or t is _ItemInt) and v._tr is tr:
            return ("value", v._slot)
        if isinstance(v, np.ndarray):
            slot = tr.roots.get(id(_root(v)))
            if slot is not None:
                problems.append("it returns a plain view of a traced array")
            return ("const", _freeze(v))
        return ("const", v)

    rec.output = out(result)
    if problems:
        raise CompileError(
            "compile: the traced step changed Python-level state that a replay cannot "
            "reproduce: " + "; ".join(problems)
        )
    return rec, _plain_result(result, tr, leaf)


def _plain_result(v: Any, tr: _Trace, leaf: Any) -> Any:
    t = type(v)
    if t is tuple or t is list:
        return t(_plain_result(u, tr, leaf) for u in v)
    if t is dict:
        return {k: _plain_result(u, tr, leaf) for k, u in v.items()}
    if isinstance(v, _Traced):
        return _plainview(v)
    if t is _ItemFloat or t is _ItemInt:
        return v.plain()
    return v


class _Put:
    """Where the trace put a tracer in place of a plain value (an attribute, or an item),
    and what to leave there after a failed trace."""

    __slots__ = ("obj", "key", "was", "put", "item")

    def __init__(self, obj: Any, key: Any, was: Any, put: Any, item: bool = False) -> None:
        self.obj, self.key, self.was, self.put, self.item = obj, key, was, put, item

    def __call__(self) -> None:
        """The step raised: what it did before is done, as in an eager step (its in-place
        writes are in the plain arrays already); only tracers are turned back into the
        plain values they stand for."""
        now = self.obj.get(self.key, _MISSING) if self.item else getattr(self.obj, self.key)
        if now is self.put:
            new = self.was
        elif isinstance(now, _Traced):
            new = _plainview(now)
        elif isinstance(now, _Number):
            new = now.plain()
            new = int(new) if type(self.was) is int else new
        else:
            return  # (a plain value the step set)
        if self.item:
            self.obj[self.key] = new
        else:
            setattr(self.obj, self.key, new)


def _restore_all(tensors: Any, opts: Any, cells: Any, restore: Any, tr: _Trace) -> None:
    """After a failed trace: put plain arrays back everywhere a tracer may be."""
    for fn in restore:
        fn()
    for t, *_ in tensors:
        for attr in ("data", "grad"):
            v = getattr(t, attr)
            if isinstance(v, _Traced):
                setattr(t, attr, _plainview(v))
    for opt, _nm, _b, _states, *_ in opts:
        for entry in opt.state._by_id.values():
            st = entry[1]
            for k, v in list(st.items()):
                if isinstance(v, _Traced):
                    st[k] = _plainview(v)


def _snapshot(obj: Any) -> Any:
    """What a plain Python container or object holds (by identity), or None for others."""
    from .nn import Module
    from .optim import Optimizer

    if isinstance(obj, (Module, Optimizer, types.FunctionType, types.MethodType)):
        return None
    if type(obj) is list:
        return ("list", [id(v) for v in obj])
    if type(obj) is dict:
        return ("dict", [(k, id(v)) for k, v in obj.items()])
    if type(obj) is set:
        return ("set", set(obj))
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict) and not isinstance(obj, type):
        return ("attrs", [(k, id(v)) for k, v in attrs.items()])
    return None


def _tensor_hooks(t: Any) -> Any:
    """The handles of a Tensor's hooks (None: none)."""
    h, p = getattr(t, "_hooks", None), getattr(t, "_post_hooks", None)
    return (tuple(h or ()), tuple(p or ())) if h or p else None


def _param_ids(opt: Any) -> Any:
    return tuple(tuple(map(id, g["params"])) for g in opt.param_groups)


def _module_guards(m: Any, nm: str, b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Guards that a module's call runs what was traced: its attributes that hold
    parameters, sub-modules or functions (the same objects, in lists too), no attribute
    added (an instance ``forward``), and the handles of its hooks."""
    from .nn import Module
    from .tensor import Tensor

    kinds = (Tensor, Module, types.FunctionType, types.MethodType)
    d = vars(m)
    out: list[tuple[str, Any, Any]] = [(f"len({nm}.__dict__)", b, len(d))]
    for k, v in d.items():
        if isinstance(v, kinds):
            out.append((f"{nm}.__dict__.get({k!r}) is {nm}_{_ident(k)}",
                        {**b, f"{nm}_{_ident(k)}": v}, True))  # fmt: skip
        elif type(v) in (list, tuple) and any(isinstance(u, kinds) for u in v):
            # (the items are kept alive by the binding: their ids stay theirs)
            out.append((f"_ids({nm}.__dict__.get({k!r}))",
                        {**b, "_ids": _ids, f"{nm}_{_ident(k)}": list(v)}, _ids(v)))  # fmt: skip
    hooks = d.get("_hooks")
    if hooks is None:
        out.append((f"{nm}._hooks is None", b, True))
    else:
        out.append((f"_module_hooks({nm})", {**b, "_module_hooks": _module_hooks},
                    _module_hooks(m)))  # fmt: skip
    return out


def _ids(v: Any) -> Any:
    return tuple(map(id, v)) if type(v) in (list, tuple) else None


def _module_hooks(m: Any) -> Any:
    h = vars(m).get("_hooks")
    if h is None:
        return None
    return (tuple(h.pre.hooks), tuple(h.post.hooks), tuple(h.backward.hooks))


def _version_of(t: Any) -> int:
    from . import autograd

    if t._flags & autograd.VIEW:
        t = t._base
    return t._version if t._flags & autograd.MODIFIED else 0


def _freeze(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return (v.shape, v.dtype.str, v.tobytes())
    if isinstance(v, list):
        return tuple(_freeze(u) for u in v)
    return v


def _same_value(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


# ---------------------------------------------------------------- comparing two traces
def _same(a: Any, b: Any, ta: _Trace, tb: _Trace) -> bool:
    if isinstance(a, _Ref):
        return isinstance(b, _Ref) and a.slot == b.slot
    if isinstance(a, _Const):
        if not isinstance(b, _Const):
            return False
        va, vb = ta.consts[a.index], tb.consts[b.index]
        if isinstance(va, np.ndarray):
            return (
                isinstance(vb, np.ndarray)
                and va.dtype == vb.dtype
                and va.shape == vb.shape
                and va.tobytes() == vb.tobytes()
            )
        if isinstance(va, np.generic):
            return type(va) is type(vb) and va.tobytes() == vb.tobytes()
        return va is vb or (type(va) is type(vb) and _same_value(va, vb))
    ta_, tb_ = type(a), type(b)
    if ta_ is not tb_:
        return False
    if ta_ is tuple or ta_ is list:
        return len(a) == len(b) and all(_same(x, y, ta, tb) for x, y in zip(a, b))
    if ta_ is dict:
        return a.keys() == b.keys() and all(_same(a[k], b[k], ta, tb) for k in a)
    if ta_ is slice:
        return _same((a.start, a.stop, a.step), (b.start, b.stop, b.step), ta, tb)
    if ta_ is float and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _same_state(a: _Record, b: _Record) -> bool:
    """Whether two traces started from the same state: every guard of ``_run`` agrees."""
    try:
        return len(a.guards) == len(b.guards) and all(
            x[2] is y[2] or bool(x[2] == y[2]) for x, y in zip(a.guards, b.guards)
        )
    except (TypeError, ValueError):
        return False


def _compare(a: _Record, b: _Record) -> None:
    """Two traces of the same step must be the same program."""
    if not _same_state(a, b):  # (a .grad set or not, a module swapped): another step
        raise _PathChanged("compile: the state the step reads changed between two traced calls")
    ca, cb = a.trace.calls, b.trace.calls
    for i, (x, y) in enumerate(zip(ca, cb)):
        same_fn = x.fn is y.fn or x.fn == y.fn
        if not (x.kind == y.kind and same_fn and x.out == y.out and x.writes == y.writes):
            raise _PathChanged(
                f"compile: two traced calls of the step ran different NumPy calls (call {i}: "
                f"{x.name} at {x.site[0]} vs {y.name} at {y.site[0]}, from {y.site[1]}): the "
                f"step takes a different path from one call to the next; leave it uncompiled"
            )
        if not (_same(x.args, y.args, a.trace, b.trace)
                and _same(x.kwargs, y.kwargs, a.trace, b.trace)):  # fmt: skip
            raise CompileError(
                f"compile: the step passes a value to {x.name} (at {y.site[0]}, from "
                f"{y.site[1]}) that differs from one traced call to the next: it reads "
                f"something the trace cannot follow (random numbers such as a dropout mask, "
                f"a learning rate or step count computed in Python, data outside the "
                f"state).  A replay would reuse the old value; compile refuses instead.  "
                f"Put the model in eval() for dropout, move schedules outside the step, or "
                f"leave the step uncompiled" + "".join(f".  Here: {n}" for n in sorted(b.notes))
            )
        if x.kind == "guard" and x.value != y.value and x.name in _CONVERSIONS - {"bool"}:
            # (each call another number: every replay would miss, up to max_traces)
            raise CompileError(
                f"compile: the step turns a traced value into a Python number with "
                f"{x.name}() (at {y.site[0]}, from {y.site[1]}), and the number changes from "
                f"call to call ({x.value!r}, then {y.value!r}); a replay cannot compute a "
                f"number made by {x.name}().  Use .item() (a number the trace follows: "
                f"return loss.item(), not float(loss)), or leave the step uncompiled"
            )
        if x.kind == "guard" and x.value != y.value:
            raise _PathChanged(
                f"compile: the step branches differently from one call to the next on a "
                f"traced value ({x.name} at {y.site[0]}, from {y.site[1]}); leave it uncompiled"
            )
    if len(ca) != len(cb):
        raise _PathChanged(
            f"compile: two traced calls of the step made {len(ca)} and {len(cb)} NumPy calls: "
            f"it takes a different path from one call to the next; leave it uncompiled"
        )
    wa = [(s.expr, v) for s, v in a.writebacks]
    wb = [(s.expr, v) for s, v in b.writebacks]
    if wa != wb or [s.expr for s in a.sources.values()] != [s.expr for s in b.sources.values()]:
        raise CompileError(
            "compile: two traced calls of the step changed different state (write-backs "
            f"{wa} vs {wb}); leave it uncompiled"
        )
    if not _same(a.output, b.output, a.trace, b.trace):
        raise CompileError(
            f"compile: the step returns a value that changes from one call to the next but "
            f"is not computed by the trace ({a.output!r} vs {b.output!r}); return values "
            f"from .item() or arrays"
        )


# ------------------------------------------------------------- the generated program
def _refs(x: Any, into: set[int]) -> None:
    if isinstance(x, _Ref):
        into.add(x.slot)
    elif type(x) in (tuple, list):
        for v in x:
            _refs(v, into)
    elif type(x) is dict:
        for v in x.values():
            _refs(v, into)
    elif type(x) is slice:
        _refs((x.start, x.stop, x.step), into)


def _outs(c: _Call) -> tuple[int, ...]:
    if c.out is None:
        return ()
    return c.out if isinstance(c.out, tuple) else (c.out,)


class _Program:
    """The generated code of one trace: ``_body`` (the step's NumPy calls, on the input
    arrays) and ``_run`` (reads the state, checks it is what was traced, calls ``_body``,
    writes back the rebound attributes)."""

    def __init__(self, rec: _Record) -> None:
        from .tensor import bump_steps, leaf, mark_modified

        tr = rec.trace
        calls = tr.calls
        # -- what is needed: the write-backs and the output, and what they read
        live: set[int] = set()
        out_slots: list[int] = []

        def walk_out(o: Any) -> None:
            kind, v = o
            if kind in ("tuple", "list", "dict"):
                for u in v:
                    walk_out(u[1] if kind == "dict" else u)
            elif kind in ("tensor", "array", "value"):
                out_slots.append(v)

        walk_out(rec.output)
        live.update(out_slots)
        wb_slots = [
            v if isinstance(v, int) else v[1]
            for _, v in rec.writebacks
            if isinstance(v, int) or (isinstance(v, tuple) and v[0] == "int")
        ]
        live.update(wb_slots)
        # each slot's memory: the slot that owns it (views share their base's)
        root_of: list[int | None] = []
        for plain in tr.plains:
            root_of.append(
                tr.roots.get(id(_root(plain))) if isinstance(plain, np.ndarray) else None
            )
        escaping = {root_of[s] for s in live} | {root_of[s] for s in rec.sources}
        escaping.discard(None)
        keep = [False] * len(calls)
        live_roots = set(escaping)
        for i in range(len(calls) - 1, -1, -1):
            c = calls[i]
            outs = _outs(c)
            if (
                c.kind == "guard"
                or any(o in live for o in outs)
                or any(root_of[w] in live_roots for w in c.writes)
            ):
                keep[i] = True
                reads: set[int] = set()
                _refs(c.args, reads)
                _refs(c.kwargs, reads)
                live |= reads
                live.update(c.writes)
                live_roots.update(root_of[r] for r in reads)
        # constants: arrays made from constants only (np.ones for a sum by BLAS, np.arange
        # of row offsets, the seed of the backward pass filled with 1) are computed once,
        # here, with every write into them, where all of those come before any use
        reads_of: list[set[int]] = []
        for c in calls:
            r: set[int] = set()
            _refs(c.args, r)
            _refs(c.kwargs, r)
            reads_of.append(r)
        folded: dict[int, Any] = {}

        def foldable(root: int) -> bool:
            if root in escaping or root in tr.scalars:
                return False
            last = -1
            for i, c in enumerate(calls):
                if not keep[i]:
                    continue
                outs = _outs(c)
                mine = [o for o in outs if root_of[o] == root]
                writes = any(root_of[w] == root for w in c.writes)
                others = {r for r in reads_of[i] if root_of[r] != root}
                if writes or mine:
                    if not others <= folded.keys() or (mine and len(mine) != len(outs)):
                        return False
                    if writes:
                        last = i
                elif any(root_of[r] == root for r in reads_of[i]) and i < last:
                    return False  # read before a later write: its value then is not the last
            return True

        changed = True
        while changed:
            changed = False
            for i, c in enumerate(calls):
                if not keep[i]:
                    continue
                if not reads_of[i] <= folded.keys() or c.writes:
                    continue
                outs = _outs(c)
                if c.kind == "guard":
                    keep[i] = False  # a check on constants: it held when traced
                    continue
                if c.kind == "item":
                    folded[outs[0]] = tr.plains[outs[0]]
                    keep[i], changed = False, True
                    continue
                if len(outs) == 1 and root_of[outs[0]] == outs[0] and foldable(outs[0]):
                    root = outs[0]
                    for j, cj in enumerate(calls):
                        if keep[j] and (
                            any(root_of[o] == root for o in _outs(cj))
                            or any(root_of[w] == root for w in cj.writes)
                        ):
                            keep[j] = False
                    for k, rk in enumerate(root_of):
                        if rk == root:
                            folded[k] = tr.plains[k]
                    changed = True
        # the last call that uses each buffer (reads or writes a view of it)
        last_use: dict[int | None, int] = {}
        for i, c in enumerate(calls):
            if keep[i]:
                for used in reads_of[i] | set(c.writes):
                    last_use[root_of[used]] = i
        prealloc: dict[int, int] = {}  # slot -> buffer number
        buffers: list[Any] = []
        free: dict[tuple[Any, ...], list[int]] = {}
        release: dict[int, list[int]] = {}
        for i, c in enumerate(calls):
            for k in release.pop(i - 1, ()):  # buffers whose last use was the call before
                b = buffers[k]
                free.setdefault((b.shape, b.dtype.str), []).append(k)
            if not keep[i] or c.kind in ("guard", "item", "setitem") or c.writes:
                continue
            outs = _outs(c)
            # results no one outside the step sees get a buffer of their own, reused by
            # every replay (out=): no allocation per call
            if (
                c.kind == "call"
                and isinstance(c.fn, np.ufunc)
                and len(outs) == 1
                and "out" not in c.kwargs
                and "where" not in c.kwargs
                and c.fn.nout == 1
            ):
                o = outs[0]
                v = tr.plains[o]
                if (
                    o not in tr.scalars
                    and isinstance(v, np.ndarray)
                    and v.ndim >= 1
                    and root_of[o] == o
                    and o not in escaping
                    and v.flags.c_contiguous
                ):
                    spare = free.get((v.shape, v.dtype.str))
                    if spare:  # a buffer whose value nobody reads any more
                        k = spare.pop()
                    else:
                        k = len(buffers)
                        buffers.append(np.empty_like(v))
                    prealloc[o] = k
                    release.setdefault(max(last_use.get(o, i), i), []).append(k)
        # views of those buffers (``h[:, 0]``, ``g.reshape(-1)``, ``h.T``) are the same
        # views every replay: the executed code makes them once (the printed code keeps them)
        fixed = set(prealloc) | set(folded)
        hoisted: list[int] = []
        for i, c in enumerate(calls):
            outs = _outs(c)
            if not keep[i] or c.writes or c.kind not in ("getitem", "method") or len(outs) != 1:
                continue
            o, reads = outs[0], reads_of[i]
            if (
                reads
                and reads <= fixed
                and o not in tr.scalars
                and any(root_of[o] == root_of[r] for r in reads if r in prealloc)
            ):
                fixed.add(o)
                hoisted.append(i)
        self.folded = len(folded)
        self.dropped = keep.count(False)
        # -- names
        names = list(tr.names)
        used_names: set[str] = set()
        for s, src in rec.sources.items():
            names[s] = src.hint
        for src, v in rec.writebacks:
            if isinstance(v, int) and v not in rec.sources:
                names[v] = src.hint
        shown: set[int] = {s for s in rec.sources if s in live}
        for i, c in enumerate(calls):
            if keep[i]:
                shown.update(_outs(c))
        for s in sorted(shown):
            base = _ident(names[s])
            n, k = base, 1
            while n in used_names or n in ("np", "args", "kwargs"):
                n, k = f"{base}_{k}", k + 1
            names[s] = n
            used_names.add(n)
        for o in folded:
            names[o] = "k_" + names[o]
        em = _Emitter(tr, names)
        for o, v in folded.items():
            em.ns[names[o]] = v
        em.ns.update({"_GuardMiss": _GuardMiss, "CompileError": CompileError, "_leaf": leaf,
                      "_bump": bump_steps, "operator": operator, "math": math,
                      "_mark": mark_modified})  # fmt: skip
        inputs = [s for s in rec.sources if s in live]
        self.inputs = inputs
        # -- _body
        lines = [f"def _body({', '.join(names[s] for s in inputs)}):"]
        hoisted_set = set(hoisted)
        skip_lines: set[int] = set()
        hoisted_text: list[tuple[int, str]] = []
        for i, c in enumerate(calls):
            if not keep[i]:
                continue
            where = c.site[0].split(" in ")[-1]
            where = where if where != "item" else c.site[1].split(" in ")[-1]
            if c.kind == "guard":
                expr = (f"bool({em.src(c.args[0])})" if c.fn == "bool"
                        else f"operator.index({em.src(c.args[0])})" if c.fn == "index"
                        else em.call(c))  # fmt: skip
                if tr.first_state_write is None or i < tr.first_state_write:
                    fail = "raise _GuardMiss"
                else:
                    fail = (f"raise CompileError('compile: a value the traced step branched on "
                            f"changed ({c.name} in {where}) after the state was updated in "
                            f"place: this call may have updated parameters and optimizer buffers, "
                            f"not .grad or the step counts (restore a checkpoint); leave "
                            f"this step uncompiled')")  # fmt: skip
                if c.value is True or c.value is False:
                    test = f"not {expr}" if c.value else expr
                    if c.fn == "bool":  # ``if x:`` is ``bool(x)``
                        test = f"not {em.src(c.args[0])}" if c.value else em.src(c.args[0])
                else:
                    test = f"{expr} != {em.src(c.value)}"
                lines.append(f"    if {test}: {fail}  # {where}")
                continue
            text = em.call(c)
            outs = _outs(c)
            if outs and outs[0] in prealloc:
                buf = f"_b{prealloc[outs[0]]}"
                em.ns[buf] = buffers[prealloc[outs[0]]]
                text = text[:-1] + (", " if text[-2] != "(" else "") + f"out={buf})"
            if outs:
                lhs = ", ".join(names[o] for o in outs)
                if isinstance(c.out, tuple) and len(outs) == 1:
                    lhs += ","
                text = f"{lhs} = {text}"
            lines.append(f"    {text}  # {where}")
            if i in hoisted_set:
                skip_lines.add(len(lines) - 1)
                hoisted_text.append((outs[0], text.split(" = ", 1)[1]))
        results = wb_slots + out_slots
        lines.append(f"    return ({''.join(names[s] + ', ' for s in results)})")
        body_src = "\n".join(lines)
        # -- _run
        run = ["def _run(args, kwargs):"]
        for src in rec.sources.values():
            em.ns.update(src.bind)
        for src, _ in rec.writebacks:
            em.ns.update(src.bind)
        conds = []
        for k, (expr, b, value) in enumerate(rec.guards):
            em.ns.update(b)
            if value is True:
                conds.append(f"not ({expr})" if " " in expr else f"not {expr}")
            elif value is False:
                conds.append(expr)
            elif value is None:
                conds.append(f"({expr}) is not None")
            else:
                em.ns[f"_g{k}"] = value
                conds.append(f"{expr} != _g{k}")
        if conds:
            run.append("    if (" + "\n            or ".join(conds) + "):")
            run.append("        raise _GuardMiss")
        run.append("    try:")
        for s in inputs:
            run.append(f"        {names[s]} = {rec.sources[s].expr}")
        sig: list[Any] = []
        for s in inputs:
            v = tr.plains[s]
            if isinstance(v, np.ndarray):
                sig.extend((v.shape, v.dtype, v.strides))
            else:
                sig.append(int if s in tr.int_inputs else type(v))
        em.ns["_SIG"] = tuple(sig)
        if inputs:
            run.append("        bad = (")
            for s in inputs:
                if isinstance(tr.plains[s], np.ndarray):
                    run.append(
                        f"            {names[s]}.shape, {names[s]}.dtype, {names[s]}.strides,"
                    )
                else:  # a number (a step count)
                    run.append(f"            type({names[s]}),")
            run.append("        ) != _SIG")
        else:
            run.append("        bad = False")
        run.append("    except AttributeError:")
        run.append("        raise _GuardMiss from None")
        run.append("    if bad:")
        run.append("        raise _GuardMiss")
        lhs = "".join(names[s] + ", " for s in results)
        call = f"_body({', '.join(names[s] for s in inputs)})"
        at_call = len(run)
        run.append(f"    ({lhs}) = {call}" if results else f"    {call}")
        for src, v in rec.writebacks:
            if isinstance(v, int):
                run.append(f"    {src.expr} = {names[v]}")
            elif v is None:
                run.append(f"    {src.expr} = None")
            elif v[0] == "bump":
                run.extend([f"    _bump({src.expr})"] * v[1])
            elif v[0] == "modified":
                run.extend([f"    _mark(({src.expr},))"] * v[1])
            elif v[0] == "int":
                run.append(f"    {src.expr} = int({names[v[1]]})")
            else:
                run.append(f"    {src.expr} += {v[1]!r}")

        def emit_out(o: Any) -> str:
            kind, v = o
            if kind == "tuple":
                inner = ", ".join(emit_out(u) for u in v)
                return f"({inner},)" if len(v) == 1 else f"({inner})"
            if kind == "list":
                return "[" + ", ".join(emit_out(u) for u in v) + "]"
            if kind == "dict":
                return "{" + ", ".join(f"{k!r}: {emit_out(u)}" for k, u in v) + "}"
            if kind == "tensor":
                return f"_leaf({names[v]})"
            if kind in ("array", "value"):
                return names[v]
            if kind == "state":
                return v
            return em.obj(v, "out")

        run.append(f"    return {emit_out(rec.output)}")
        run_src = "\n".join(run)
        header = (
            f"# generated by tinygrad_bp.compile: {sum(keep)} NumPy calls on {len(inputs)} "
            f"input arrays\n# ({self.dropped} calls dropped as dead or constant, "
            f"{self.folded} constants computed once,\n#  {len(prealloc)} results written "
            f"into {len(buffers)} buffers allocated once)\n"
        )
        self.source = header + body_src + "\n\n\n" + run_src + "\n"
        code = builtins.compile(self.source, "<tinygrad_bp.compile>", "exec")
        exec(code, em.ns)  # noqa: S102 (our own generated code)
        self.body = em.ns["_body"]
        # what runs: _run with _body's lines in place of the call (one Python call less)
        env = dict(em.ns)
        for o, k in prealloc.items():
            env[names[o]] = buffers[k]
        for o, expr in hoisted_text:
            em.ns[names[o]] = env[names[o]] = eval(expr, env)  # noqa: S307 (our own code)
        fast_lines = [ln for k, ln in enumerate(lines) if k not in skip_lines]

        def localize(src: str) -> str:
            # every name the code reads from the namespace bound as a default argument, so
            # that each is a local (``np.matmul`` a lookup less): same calls, less Python
            return _NP_ATTR.sub(lambda m: "_np_" + m.group(1).replace(".", "_"), src)

        fused = localize("\n".join([*run[1:at_call], *fast_lines[1:-1], *run[at_call + 1 :]]))
        fast_body = localize("\n".join(fast_lines[1:]))
        for m in _NP_ATTR.finditer("\n".join(lines + run)):
            obj: Any = np
            for part in m.group(1).split("."):
                obj = getattr(obj, part)
            em.ns["_np_" + m.group(1).replace(".", "_")] = obj
        local = set(names) - {names[o] for o, _ in hoisted_text}
        unbound = sorted({w for w in _WORD.findall(fused) if w in em.ns and w not in local})
        params = "".join(f", {w}={w}" for w in unbound)
        fused = f"def _fast(args, kwargs{params}):\n{fused}\n"
        inputs_src = "".join(f"{names[s]}, " for s in inputs)
        keywords = f"*{params}" if params else ""
        fused += f"\n\ndef _fast_body({inputs_src}{keywords}):\n{fast_body}\n"
        exec(builtins.compile(fused, "<tinygrad_bp.compile>", "exec"), em.ns)  # noqa: S102
        self.run = em.ns["_fast"]
        self.fast_body = em.ns["_fast_body"]  # what _fast runs, on given arrays (verify)
        self.results = results
        self.wb_slots = wb_slots
        self.names = names

    def verify(self, rec: _Record) -> None:
        """Run ``_body`` on copies of the inputs the traced step started from: it must
        give the eager step's results bit for bit."""
        tr = rec.trace
        assert rec.copies is not None
        copies = {
            s: c.copy() if isinstance(c, np.ndarray) else c
            for s, c in ((s, rec.copies[s]) for s in self.inputs)
        }
        got = self.fast_body(*(copies[s] for s in self.inputs))
        checks = [
            (self.names[s], copies[s], tr.plains[s])
            for s in self.inputs
            if isinstance(copies[s], np.ndarray)  # (numbers are not changed in place)
        ]
        checks += [(self.names[s], g, tr.plains[s]) for s, g in zip(self.results, got)]
        for name, mine, eager in checks:
            if not _bits_equal(mine, eager):
                raise CompileError(
                    f"compile: the generated code does not reproduce the eager step (it "
                    f"differs in {name}): the step computes something outside the calls "
                    f"compile sees.  Leave this step uncompiled (and please report it)"
                )


def _bits_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if type(a) in (int, float) and type(b) in (int, float):  # a step count: int or float
        return a == b
    return type(a) is type(b) and a == b
