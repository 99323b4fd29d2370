"""What the MPI tests run in each process: ``mpiexec -n N python tests/mpi/mpi_worker.py
MODE OUT``.  Also imported by the tests (one process, no MPI) for the reference runs.

Modes: ``equal`` (the tutorial's network, the digits CNN and the names LSTM, 100 SGD steps
in float64, data-parallel; rank 0 writes the final parameters to OUT), ``nosync``
(gradients accumulated under no_sync vs one big batch), ``sampler`` (every rank's
indices, gathered), ``raise`` (rank 1 raises while rank 0 waits in an all_reduce),
``mismatch`` (rank 1 builds a different model).
"""

from __future__ import annotations

import sys

import numpy as np

import tinygrad_bp as tg
from tinygrad_bp import functional as F
from tinygrad_bp import nn, optim

STEPS = 100
GLOBAL_BATCH = 12  # divides evenly over 1, 2 and 3 processes


def _names_task() -> tuple[np.ndarray, np.ndarray]:
    from tinygrad_bp.commands.models import encode_names

    words = tg.data.load_names()[:240]
    block = max(len(w) for w in words) + 1
    return encode_names(words, block)


def problems() -> dict[str, tuple]:
    """name -> (build(), X, y, loss(model, xb, yb, scale)) for the three networks."""
    from tinygrad_bp.commands.models import DigitsCNN, NamesLSTM

    iris = tg.data.load_iris()
    Xi = tg.data.standardize(np.asarray(iris[0], dtype=np.float64))[0]
    yi = np.asarray(iris[1])
    dig = tg.data.load_digits()
    Xd = (np.asarray(dig[0], dtype=np.float64)[:600].reshape(-1, 1, 8, 8) - 4.9) / 6.0
    yd = np.asarray(dig[1])[:600]
    Xn, yn = _names_task()

    def mean_ce(model, xb, yb, count):  # mean over the whole global batch
        return F.cross_entropy(model(tg.Tensor(xb)), yb, reduction="sum") / count

    def lstm_ce(model, xb, yb, count):
        t = np.ascontiguousarray(yb.T).ravel()
        return F.cross_entropy(model(xb), t, reduction="sum", ignore_index=-1) / count

    return {
        "tutorial": (
            lambda: nn.mlp([4, 10, 5, 3], activation="tanh", rng=0, dtype=np.float64),
            Xi, yi, mean_ce, 0.1,
        ),
        "cnn": (lambda: DigitsCNN(rng=0, dtype=np.float64), Xd, yd, mean_ce, 0.05),
        "lstm": (
            lambda: NamesLSTM(emb=8, hidden=16, rng=0, dtype=np.float64),
            Xn, yn, lstm_ce, 0.5,
        ),
    }  # fmt: skip


def _count(name: str, yb: np.ndarray) -> int:
    return int((yb >= 0).sum()) if name == "lstm" else len(yb)


def train(name: str, rank: int = 0, size: int = 1, steps: int = STEPS) -> dict[str, np.ndarray]:
    """Train problem ``name``; with ``size`` > 1 (after dist.init()), data-parallel: each
    process takes rows ``rank::size`` of every global batch and its loss is the sum over
    its rows divided by the global batch's count, times ``size`` (DDP averages)."""
    build, X, y, loss_fn, lr = problems()[name]
    model = build()
    if size > 1:
        from tinygrad_bp import distributed as dist

        model = dist.DistributedDataParallel(model, bucket_cap_mb=0.01)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        idx = rng.choice(len(X), GLOBAL_BATCH, replace=False)
        count = _count(name, y[idx])
        mine = idx[rank::size]
        opt.zero_grad()
        loss = loss_fn(model, X[mine], y[mine], count) * size
        loss.backward()
        opt.step()
    inner = model.module if size > 1 else model
    return {k: v for k, v in inner.state_dict().items()}


def nosync(rank: int = 0, size: int = 1, micro: int = 3) -> dict[str, np.ndarray]:
    """One step from ``micro`` micro-batches per process accumulated under no_sync (each
    loss divided by ``micro``), or (size 1, micro 1) from the whole batch at once."""
    build, X, y, loss_fn, _ = problems()["cnn"]
    model = build()
    if size > 1:
        from tinygrad_bp import distributed as dist

        model = dist.DistributedDataParallel(model, bucket_cap_mb=0.01)
    idx = np.arange(4 * 3 * 6)  # 72 rows: 6 per micro-batch with 3 processes x 4 micro
    total = len(idx)
    mine = idx[rank::size]
    parts = np.array_split(mine, micro)
    for k, part in enumerate(parts):
        loss = loss_fn(model, X[part], y[part], total) * size
        if k < micro - 1 and size > 1:
            with model.no_sync():
                loss.backward()
        else:
            loss.backward()
    inner = model.module if size > 1 else model
    return {n: p.grad.copy() for n, p in inner.named_parameters()}


def fit_names(steps: int = 30) -> dict[str, np.ndarray]:
    """``tinygrad-bp train``'s loop (``models.fit``, with ``_parallel`` under mpiexec) on
    padded names sequences, float64; the losses and the final parameters."""
    from tinygrad_bp.commands import _parallel, models

    X, y = _names_task()
    task = models.Task("names", X, y, X[:0], y[:0], "sequence", X.shape[1])
    par = _parallel.current()
    model = models.NamesLSTM(emb=8, hidden=16, rng=0, dtype=np.float64)
    net = par.wrap(model)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    batches = models.batch_indices(task, steps, GLOBAL_BATCH, seed=3)
    h = models.fit(net, task, opt, steps, GLOBAL_BATCH, batches=batches,
                   parallel=par if par.size > 1 else None)  # fmt: skip
    return {"losses": np.array(h["losses"]), **model.state_dict()}


def main(mode: str, out: str) -> None:
    from tinygrad_bp import distributed as dist

    dist.init()
    rank, size = dist.rank(), dist.world_size()
    if mode == "equal":
        result = {}
        for name in problems():
            for k, v in train(name, rank, size).items():
                result[f"{name}/{k}"] = v
                lo, hi = v.copy(), v.copy()
                dist.all_reduce(lo, "min")
                dist.all_reduce(hi, "max")
                result[f"spread/{name}/{k}"] = hi - lo  # must be 0: every rank the same
    elif mode == "unused":
        # "a" is used in every process, "b" in process 1 only, "c" in none
        class Three(nn.Module):
            def __init__(self) -> None:
                self.a, self.b, self.c = (nn.Linear(2, 1, rng=i) for i in range(3))

            def forward(self, x, use_b):
                y = self.a(x) * float(rank + 1)
                return y + self.b(x) if use_b else y

        model = Three()
        ddp = dist.DistributedDataParallel(model)
        ddp(tg.Tensor(np.ones((1, 2))), rank == 1).sum().backward()
        result = {
            "a": model.a.weight.grad, "b": model.b.weight.grad,
            "c_is_none": np.array(model.c.weight.grad is None),
        }  # fmt: skip
    elif mode == "fit":
        result = fit_names()
    elif mode == "nosync":
        result = nosync(rank, size)
    elif mode == "sampler":
        ds = tg.data.TensorDataset(np.arange(47.0))
        got = []
        for epoch in range(3):
            s = tg.data.DistributedSampler(ds, shuffle=True, seed=7)
            s.set_epoch(epoch)
            mine = np.full(len(s), -1, dtype=np.int64)
            mine[:] = s.indices()
            every = np.zeros((size, len(s)), dtype=np.int64)
            every[rank] = mine
            dist.all_reduce(every)
            got.append(every)
        result = {f"epoch{e}": a for e, a in enumerate(got)}
    elif mode == "raise":
        if rank == 1:
            raise ValueError("rank 1 fails on purpose")
        dist.all_reduce(np.zeros(3))  # rank 0 waits here for a rank that died
        result = {}
    elif mode == "mismatch":
        model = nn.Linear(3, 4 if rank == 0 else 5, rng=0)
        try:
            dist.DistributedDataParallel(model)
        except ValueError as exc:
            print(f"rank {rank}: {exc}", flush=True)
            result = {"raised": np.array(1)}
        else:
            result = {"raised": np.array(0)}
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    if rank == 0:
        np.savez(out, **result)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
