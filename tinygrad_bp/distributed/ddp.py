"""``DistributedDataParallel``: every process holds the whole model and a share of each
batch; after ``backward()`` each gradient is replaced by its mean over the processes, so
every process takes the same optimizer step.

How (the design of PyTorch's DDP, and Horovod's tensor fusion): the parameters are laid
out, in reverse order (the order backward finishes them), in *buckets* of at most
``bucket_cap_mb`` megabytes, each one flat buffer per dtype.  Two of the engine's public
hooks do the work:

- ``Tensor.register_hook`` on each parameter sees its gradient the moment the backward
  walk has completed it: the parameter's total (what ``.grad`` will hold) is copied into
  its place in the bucket, and a bucket whose every gradient is in starts its sum over the
  processes at once, with MPI's non-blocking ``Iallreduce``, while the walk goes on.
  Buckets start in their fixed order, so every process issues the same collectives in the
  same order.
- ``Tensor.register_post_accumulate_grad_hook`` runs when every ``.grad`` of that
  backward is written: the first one waits for the sums (a bucket a parameter left
  incomplete, because the loss did not use it, starts there), divides by the number of
  processes and writes the means into the ``.grad`` arrays.

Only a backward through a graph built by the wrapper's ``forward`` averages (as in
PyTorch): calling the inner module directly trains locally.  Inside ``with
ddp.no_sync():`` neither hook does anything: ``.grad`` accumulates locally,
and the first backward after the block averages the accumulated totals.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..autograd import is_grad_enabled
from ..nn.module import Module
from ..tensor import Tensor
from . import comm as _c

__all__ = ["DistributedDataParallel"]


class _Bucket:
    __slots__ = ("buf", "params", "offsets", "ready", "request", "done")

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.offsets: list[int] = []
        start = 0
        for p in params:
            self.offsets.append(start)
            start += p.data.size
        self.buf = np.empty(start, dtype=params[0].data.dtype)
        self.ready = 0  # parameters whose gradient is in buf this step
        self.request: Any = None
        self.done = [False] * len(params)

    def slot(self, i: int) -> np.ndarray:
        p = self.params[i]
        o = self.offsets[i]
        return self.buf[o : o + p.data.size].reshape(p.data.shape)

    @property
    def nbytes(self) -> int:
        return self.buf.nbytes


class DistributedDataParallel(Module):
    """Wrap ``module`` so that, under ``mpiexec -n N``, gradients are averaged over the
    N processes after every ``backward()``, as ``torch.nn.parallel.
    DistributedDataParallel``.

    Each process feeds its own share of the batch (``tg.data.DistributedSampler``);
    averaging the N processes' mean-loss gradients gives the gradient of the mean loss
    over the whole batch, so N processes with batches of ``B/N`` take the steps one
    process would take with batches of ``B``.

    At wrap time the processes check that their parameters have the same names, shapes
    and dtypes (ValueError in every process if not) and copy rank 0's parameters and
    buffers into all of them (PyTorch does the same).  A parameter the loss does not use
    in some process counts as a zero gradient there (the mean over the processes is still
    written); one no process used keeps ``.grad = None``.  Buffers are not synchronised
    afterwards: BatchNorm's running statistics stay each process's own, computed from its
    share of the batch (PyTorch's default for BatchNorm; ``SyncBatchNorm`` does not
    exist here).

    Parameters
    ----------
    module : nn.Module
        The model, built the same way in every process.
    bucket_cap_mb : float
        Gradients are summed in flat buffers of at most this many megabytes (a single
        larger parameter gets a bucket of its own); smaller buckets start sooner during
        backward, larger ones cost fewer messages.
    overlap : bool
        Start each bucket's sum (non-blocking ``Iallreduce``) as soon as its gradients are
        complete; ``False`` sums all buckets after the backward walk (blocking calls).

    Attributes
    ----------
    comm_seconds, steps_synced, bytes_reduced
        Time spent in MPI calls by the averaging, the number of averaged backwards and
        the gradient bytes summed so far (for measurements).

    Example (``mpiexec -n 2 python train.py``)::

        dist.init()
        model = dist.DistributedDataParallel(build_model())
        sampler = tg.data.DistributedSampler(dataset, shuffle=True, seed=0)
        loader = tg.data.DataLoader(dataset, batch_size=64 // dist.world_size(),
                                    sampler=sampler)
        opt = tg.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(10):
            sampler.set_epoch(epoch)
            for xb, yb in loader:
                opt.zero_grad()
                F.cross_entropy(model(xb), yb).backward()   # .grad: the mean over processes
                opt.step()
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 1.0, overlap: bool = True) -> None:
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}"
            )
        if isinstance(module, DistributedDataParallel):
            raise TypeError("DistributedDataParallel: the module is already wrapped")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)):
            raise TypeError(
                f"DistributedDataParallel: bucket_cap_mb must be a number, got {bucket_cap_mb!r}"
            )
        if not bucket_cap_mb > 0:
            raise ValueError(
                f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}"
            )
        if not _c.is_initialized():
            raise RuntimeError(
                "DistributedDataParallel: call tinygrad_bp.distributed.init() first, in every "
                "process (started with mpiexec -n N python ...)"
            )
        self.module = module
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.overlap = bool(overlap)
        _c.broadcast_parameters(module, 0, _where="DistributedDataParallel")  # (checks shapes)
        self._comm = _c._comm("DistributedDataParallel")
        self._MPI = _c._state["MPI"]
        self._size = self._comm.Get_size()
        self._sync = True
        self._pending = False  # a backward has started whose gradients are not averaged
        self._expect = False  # forward() ran: its backward averages
        self._next = 0  # the next bucket to start
        self._inflight: list[Any] = []  # their requests, while some are unfinished
        self.comm_seconds = 0.0
        self.steps_synced = 0
        self.bytes_reduced = 0
        params = [p for p in module.parameters() if p.requires_grad]
        self._buckets = self._make_buckets(params[::-1], self.bucket_cap_mb * 2**20)
        self._handles = []
        if self._size > 1:
            for b in self._buckets:
                for i, p in enumerate(b.params):
                    self._handles.append(p.register_hook(self._on_grad(b, i)))
                    self._handles.append(p.register_post_accumulate_grad_hook(self._on_accumulated))

    @staticmethod
    def _make_buckets(params: list[Tensor], cap: float) -> list[_Bucket]:
        buckets: list[_Bucket] = []
        current: list[Tensor] = []
        size = 0
        for p in params:
            if current and (p.data.dtype != current[0].data.dtype or size + p.data.nbytes > cap):
                buckets.append(_Bucket(current))
                current, size = [], 0
            current.append(p)
            size += p.data.nbytes
        if current:
            buckets.append(_Bucket(current))
        return buckets

    # ---------------------------------------------------------------- the module
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        # Only a backward through a graph built by this call averages (as PyTorch's DDP):
        # a backward through the inner module called directly stays local.
        self._expect = self._size > 1 and is_grad_enabled()
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside the block, ``backward()`` only accumulates into each process's ``.grad``;
        the first ``backward()`` after it averages the accumulated gradients, as in
        PyTorch.  (Accumulating k micro-batches of mean losses divided by k equals one
        batch k times larger.)"""
        if self._pending:
            raise RuntimeError(
                "DistributedDataParallel.no_sync: a backward's averaging is unfinished"
            )
        old = self._sync
        self._sync = False
        try:
            yield
        finally:
            self._sync = old

    @property
    def bucket_sizes(self) -> list[int]:
        """The buckets' sizes in bytes, in the order they are summed."""
        return [b.nbytes for b in self._buckets]

    # ---------------------------------------------------------------- the hooks
    def _on_grad(self, bucket: _Bucket, i: int) -> Any:
        p = bucket.params[i]

        def hook(g: Tensor) -> None:
            if not (self._sync and self._expect):
                return
            self._pending = True
            if not self.overlap:
                return
            slot = bucket.slot(i)
            if p.grad is None:
                slot[...] = g.data
            else:  # gradients accumulated under no_sync(), plus this backward's
                np.add(p.grad, g.data, out=slot)
            bucket.done[i] = True
            bucket.ready += 1
            if bucket.ready == len(bucket.params):
                self._start_ready()
            elif self._inflight:  # let MPI move the started sums along (no thread does)
                t0 = time.perf_counter()
                if self._MPI.Request.Testall(self._inflight):
                    self._inflight = []
                self.comm_seconds += time.perf_counter() - t0

        return hook

    def _start(self, bucket: _Bucket) -> None:
        t0 = time.perf_counter()
        MPI = self._MPI
        if self.overlap:
            bucket.request = self._comm.Iallreduce(MPI.IN_PLACE, bucket.buf, op=MPI.SUM)
            self._inflight.append(bucket.request)
        else:
            self._comm.Allreduce(MPI.IN_PLACE, bucket.buf, op=MPI.SUM)
        self.comm_seconds += time.perf_counter() - t0
        self.bytes_reduced += bucket.buf.nbytes

    def _start_ready(self) -> None:
        buckets = self._buckets
        while self._next < len(buckets) and buckets[self._next].ready == len(
            buckets[self._next].params
        ):
            self._start(buckets[self._next])
            self._next += 1

    def _on_accumulated(self, _p: Tensor) -> None:
        if not self._sync or not self._pending:
            return
        self._pending = self._expect = False
        for b in self._buckets[self._next :]:
            # Fill what this backward did not reach: each parameter's .grad as it stands
            # (an unused parameter contributes zeros), in every process, in bucket order.
            for i, p in enumerate(b.params):
                if not b.done[i]:
                    slot = b.slot(i)
                    if p.grad is None:
                        slot.fill(0)
                    else:
                        slot[...] = p.grad
                    b.done[i] = True
            b.ready = len(b.params)
        self._start_ready()
        t0 = time.perf_counter()
        if self.overlap:
            self._MPI.Request.Waitall([b.request for b in self._buckets])
            self._inflight = []
        self.comm_seconds += time.perf_counter() - t0
        n = self._size
        for b in self._buckets:
            b.request = None
            np.divide(b.buf, n, out=b.buf)
            for i, p in enumerate(b.params):
                mean = b.slot(i)
                g = p.grad
                if g is not None and g.flags.writeable and g.dtype == mean.dtype:
                    g[...] = mean
                elif g is not None or mean.any():  # (unused in every process: stays None)
                    p.grad = mean.copy()
                b.done[i] = False
            b.ready = 0
        self._next = 0
        self.steps_synced += 1

    def extra_repr(self) -> str:
        return f"buckets={len(self._buckets)}, bucket_cap_mb={self.bucket_cap_mb}"
