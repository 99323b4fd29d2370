"""The processes and their collectives, on MPI through ``mpi4py``.

``mpi4py`` is imported by :func:`init`, not when this module is imported, so the rest of
the package works without it; a missing ``mpi4py`` raises one line naming the ``mpi``
extra.  Every collective here works on NumPy buffers with MPI's own buffer calls
(``Allreduce``, ``Bcast``, ``Iallreduce``), never on pickled objects, except the small
shape lists :func:`check_same` gathers to say *which* rank differs.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = [
    "init",
    "is_initialized",
    "rank",
    "world_size",
    "all_reduce",
    "broadcast",
    "barrier",
    "abort",
    "broadcast_parameters",
]

INSTALL_HINT = (
    "tinygrad_bp.distributed needs mpi4py and an MPI library: install the mpi extra, "
    "pip install 'tinygrad-bp[mpi]'"
)

_state: dict[str, Any] = {"MPI": None, "comm": None}


def _import_mpi() -> Any:
    if _state["MPI"] is None:
        _tune_for_oversubscription()
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError(INSTALL_HINT) from None
        _state["MPI"] = MPI
    return _state["MPI"]


def _local_ranks() -> int:
    """How many processes of this job share this machine, as the launcher says (MPICH's
    Hydra, Open MPI, Slurm); 1 when not launched by one."""
    for var in ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"):
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 1


def _tune_for_oversubscription() -> None:
    """With more processes than cores on a machine, a process waiting inside MPI should
    give its core to one that computes: MPICH spins by default.  ``MPIR_CVAR_ENABLE_HEAVY_
    YIELD`` makes its wait loop sleep between polls (measured in the chapter's scaling
    page); a value the user set is kept."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # (not on Linux)
        cores = os.cpu_count() or 1
    if _local_ranks() > cores:
        os.environ.setdefault("MPIR_CVAR_ENABLE_HEAVY_YIELD", "1")


def _excepthook(kind: Any, value: Any, tb: Any) -> None:
    """An uncaught exception on one rank ends every rank (MPI_Abort) after printing it,
    instead of leaving the others waiting forever in their next collective."""
    text = "".join(traceback.format_exception(kind, value, tb))
    sys.stderr.write(f"[rank {rank()} of {world_size()}] {text}")
    sys.stderr.flush()
    abort(1)


def init() -> None:
    """Join the processes started by ``mpiexec -n N`` (MPI's ``COMM_WORLD``); run alone,
    a world of one.  Call it once in every process, before anything else distributed.
    From then on an uncaught exception in any process prints its traceback and ends all
    of them (``MPI_Abort``), so that no process waits forever for one that died.

    Raises ImportError (one line) when ``mpi4py`` is not installed.
    """
    if _state["comm"] is not None:
        return
    MPI = _import_mpi()
    _state["comm"] = MPI.COMM_WORLD
    if world_size() > 1 and sys.excepthook is sys.__excepthook__:
        sys.excepthook = _excepthook


def is_initialized() -> bool:
    """Whether :func:`init` has run in this process."""
    return _state["comm"] is not None


def _comm(where: str) -> Any:
    comm = _state["comm"]
    if comm is None:
        raise RuntimeError(
            f"{where}: call tinygrad_bp.distributed.init() first, in every process "
            f"(started with mpiexec -n N python ...)"
        )
    return comm


def rank() -> int:
    """This process's number, 0 to ``world_size() - 1`` (0 before :func:`init`)."""
    comm = _state["comm"]
    return 0 if comm is None else comm.Get_rank()


def world_size() -> int:
    """How many processes train together (1 before :func:`init`)."""
    comm = _state["comm"]
    return 1 if comm is None else comm.Get_size()


_OPS = ("sum", "prod", "min", "max")


def _buffer(array: Any, where: str) -> np.ndarray:
    arr = array.data if isinstance(array, Tensor) else array
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{where}: expected a NumPy array or a Tensor, got {type(array).__name__}")
    if not arr.flags.c_contiguous or not arr.flags.writeable:
        raise ValueError(
            f"{where}: the array must be C-contiguous and writeable (it is changed in place); "
            f"pass np.ascontiguousarray(a) and use the result"
        )
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{where}: expected an array of numbers, got dtype {arr.dtype}")
    return arr


def all_reduce(array: Any, op: str = "sum") -> Any:
    """Combine ``array`` over every process, in place: afterwards each process holds the
    sum (or ``"prod"``, ``"min"``, ``"max"``) of all processes' arrays, as
    ``torch.distributed.all_reduce``.  ``array`` is a C-contiguous NumPy array (or a
    Tensor, whose data is used) of the same shape and dtype in every process; it is
    returned.  MPI's ``Allreduce`` moves the buffer itself, no pickling.

    Example (run under ``mpiexec -n 2``)::

        dist.init()
        a = np.array([1.0, 2.0]) * (dist.rank() + 1)   # [1, 2] and [2, 4]
        dist.all_reduce(a)                              # both: [3, 6]
    """
    if op not in _OPS:
        raise ValueError(f"all_reduce: op must be one of {_OPS}, got {op!r}")
    comm = _comm("all_reduce")
    arr = _buffer(array, "all_reduce")
    MPI = _state["MPI"]
    mpi_op = {"sum": MPI.SUM, "prod": MPI.PROD, "min": MPI.MIN, "max": MPI.MAX}[op]
    if comm.Get_size() > 1:
        comm.Allreduce(MPI.IN_PLACE, arr, op=mpi_op)
    return array


def broadcast(array: Any, root: int = 0) -> Any:
    """Overwrite ``array`` in every process with ``root``'s, in place (MPI ``Bcast``)."""
    comm = _comm("broadcast")
    _check_root(root, comm, "broadcast")
    arr = _buffer(array, "broadcast")
    if comm.Get_size() > 1:
        comm.Bcast(arr, root=root)
    return array


def barrier() -> None:
    """Wait until every process has reached this call."""
    _comm("barrier").Barrier()


def abort(code: int = 1) -> None:
    """End every process of the job with exit status ``code`` (``MPI_Abort``); alone, or
    before :func:`init`, exit this process."""
    comm = _state["comm"]
    sys.stdout.flush()
    sys.stderr.flush()
    if comm is not None and comm.Get_size() > 1:
        time.sleep(0.2)  # (lets the launcher forward what this rank printed)
        comm.Abort(code)
    os._exit(code)


def _check_root(root: Any, comm: Any, where: str) -> None:
    size = comm.Get_size()
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not 0 <= root < size:
        raise ValueError(f"{where}: root must be a rank from 0 to {size - 1}, got {root!r}")


def _state_arrays(module: Any, where: str) -> list[tuple[str, np.ndarray]]:
    named = getattr(module, "_named_state", None)
    if named is None:
        raise TypeError(f"{where}: expected an nn.Module, got {type(module).__name__}")
    return [(name, t.data) for name, t in named()]


def check_same(module: Any, where: str) -> None:
    """Raise ValueError in every process when the processes' modules differ in their
    parameters' and buffers' names, shapes or dtypes: one small Allreduce of a
    fingerprint, then (only on a mismatch) the lists themselves, to say where."""
    comm = _comm(where)
    if comm.Get_size() == 1:
        return
    import zlib

    sig = [(name, tuple(a.shape), a.dtype.str) for name, a in _state_arrays(module, where)]
    fp = zlib.crc32(repr(sig).encode())
    MPI = _state["MPI"]
    lo_hi = np.array([fp, -fp], dtype=np.int64)
    comm.Allreduce(MPI.IN_PLACE, lo_hi, op=MPI.MIN)
    if lo_hi[0] == fp and -lo_hi[1] == fp:
        return
    every = comm.allgather(sig)  # (pickled, but only on this error path)
    for r, other in enumerate(every):
        if other != every[0]:
            first = next(
                (f"{a} on rank 0, {b} on rank {r}" for a, b in zip(every[0], other) if a != b),
                f"{len(every[0])} tensors on rank 0, {len(other)} on rank {r}",
            )
            raise ValueError(
                f"{where}: the processes' models differ: rank 0 and rank {r} do not have the "
                f"same parameters (name, shape, dtype): {first}; build the same model in "
                f"every process"
            )


def broadcast_parameters(module: Any, root: int = 0, *, _where: str = "") -> None:
    """Copy ``root``'s parameters and buffers into every process's ``module``, in place,
    so that all processes start equal (as Horovod's ``broadcast_parameters``).  The
    processes' modules must have the same parameters (names, shapes, dtypes): that is
    checked first, in every process."""
    where = _where or "broadcast_parameters"
    comm = _comm(where)
    _check_root(root, comm, where)
    check_same(module, where)
    if comm.Get_size() == 1:
        return
    by_dtype: dict[str, list[np.ndarray]] = {}
    for _, arr in _state_arrays(module, where):
        by_dtype.setdefault(arr.dtype.str, []).append(arr)
    for arrays in by_dtype.values():  # one Bcast per dtype, of the arrays laid end to end
        flat = np.concatenate([a.ravel() for a in arrays]) if len(arrays) > 1 else None
        buf = flat if flat is not None else np.ascontiguousarray(arrays[0])
        comm.Bcast(buf, root=root)
        if flat is None:
            if buf is not arrays[0]:
                arrays[0][...] = buf
            continue
        start = 0
        for a in arrays:
            a[...] = flat[start : start + a.size].reshape(a.shape)
            start += a.size
