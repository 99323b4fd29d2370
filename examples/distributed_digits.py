"""Data-parallel training of the digits CNN over several processes, on MPI.

    mpiexec -n 2 python examples/distributed_digits.py            # 2 processes
    python examples/distributed_digits.py                         # 1 process: the same steps

Every process builds the same model, DistributedDataParallel copies process 0's weights
into all of them, each process takes its own share of every batch (DistributedSampler),
and after each backward() the gradients are averaged over the processes: every process
takes the same step, the one a single process would take on the whole batch.  Only
process 0 prints.  Needs the mpi extra: pip install 'tinygrad-bp[mpi]'.
"""

from __future__ import annotations

import argparse
import time

import tinygrad_bp as tg
from tinygrad_bp import distributed as dist
from tinygrad_bp import functional as F
from tinygrad_bp import nn, optim


def build() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 10, rng=0),
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64, help="the global batch, over all processes")
    args = ap.parse_args()

    dist.init()  # a world of one without mpiexec
    rank, size = dist.rank(), dist.world_size()
    if args.batch % size:
        raise SystemExit(f"--batch {args.batch} must divide evenly over {size} processes")

    X, y = tg.data.load_digits()
    X = ((X - X.mean()) / X.std()).reshape(-1, 1, 8, 8)
    train = tg.data.TensorDataset(X[:1500], y[:1500])
    X_test, y_test = tg.Tensor(X[1500:]), y[1500:]

    model = dist.DistributedDataParallel(build())
    sampler = tg.data.DistributedSampler(train, shuffle=True, seed=0)
    loader = tg.data.DataLoader(train, batch_size=args.batch // size, sampler=sampler)
    opt = optim.Adam(model.parameters(), lr=3e-3)

    start = time.perf_counter()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new order, the same in every process
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()  # .grad: the mean over the processes
            opt.step()
        with tg.no_grad():
            acc = float((model(X_test).numpy().argmax(1) == y_test).mean())
        if rank == 0:
            print(f"epoch {epoch + 1}: held-out accuracy {acc:.3f}", flush=True)
    if rank == 0:
        took = time.perf_counter() - start
        print(f"{size} process{'es' if size > 1 else ''}, {took:.1f} s; "
              f"{model.comm_seconds:.2f} s in MPI calls (process 0)")  # fmt: skip
        # every process holds the same weights: their largest difference is 0
    w = model.module[0].weight.data.copy()
    lo, hi = w.copy(), w.copy()
    dist.all_reduce(lo, "min")
    dist.all_reduce(hi, "max")
    if rank == 0:
        print(f"largest difference between the processes' weights: {float((hi - lo).max())}")


if __name__ == "__main__":
    main()
