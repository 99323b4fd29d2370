"""W6's GRU twin against PyTorch eager, in one process.

    python benchmarks/gru_twin.py --rounds 9

W6 (the names LSTM) with its LSTM swapped for a GRU: Embedding(27, 32) - GRU(128) -
Linear(128, 27) on 32 sequences of 16 characters, the cross-entropy over all 512
positions, one SGD step (lr 0.01), float32; the same seeded characters and targets as W6
and PyTorch-style initial weights (uniform ±1/√fan_in), copied into both.  tinygrad_bp
runs ``nn.GRU`` (one ``gru_layer`` node a layer), PyTorch its ``nn.GRU``.  Both steps
first run three times from the same weights and must agree (losses to 1e-5, parameters to
the bench's float32 tolerance), or the script exits 1.  Then they are timed as
``benchmarks/inprocess.py`` times the bench's workloads: one process, BLAS pinned to one
thread (SciPy's too: the optimizer's axpy loads it), blocks of about ``--block-s`` seconds,
``--rounds`` rounds in alternating order, the thread's CPU time.  Printed: each step's
median and the median of the per-round ratios.  There is no hand-NumPy GRU step to compare
with (the reference package's GRU is a cell stepped by ``Unroll``, written for clarity).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinygrad_bp.commands import _bench_impls as impls  # noqa: E402

NAMES = (
    "embed.weight", "gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0",
    "gru.bias_hh_l0", "head.weight", "head.bias",
)  # fmt: skip
HIDDEN = 128


def make_problem(seed: int = impls.SEED) -> impls.ModelProblem:
    """W6's characters and targets, and GRU-shaped initial weights (float32)."""
    w6 = impls.make_problem(impls.MODEL_WORKLOADS["W6"], seed)
    rng = np.random.default_rng(seed + 1)
    h = HIDDEN
    shapes = [((27, 32), 0), ((3 * h, 32), h), ((3 * h, h), h), ((3 * h,), h),
              ((3 * h,), h), ((27, h), h), ((27,), h)]  # fmt: skip
    weights = {}
    for name, (shape, fan) in zip(NAMES, shapes):
        bound = 1 / math.sqrt(fan) if fan else 0.0
        w = rng.uniform(-bound, bound, shape) if fan else rng.standard_normal(shape)
        weights[name] = w.astype(np.float32)
    return impls.ModelProblem(w6.X, w6.y, weights, "gru", impls.LR)


def build_tinygrad_bp(p: impls.ModelProblem) -> tuple[Any, Any]:
    import tinygrad_bp as tg
    from tinygrad_bp import nn, optim

    class NamesGRU(nn.Module):
        def __init__(self) -> None:
            self.embed = nn.Embedding(27, 32, dtype=np.float32)
            self.gru = nn.GRU(32, HIDDEN, dtype=np.float32)
            self.head = nn.Linear(HIDDEN, 27, dtype=np.float32)

        def forward(self, idx: Any) -> Any:
            seq, _ = self.gru(self.embed(idx.T))  # time-major (T, N, H), as W6
            return self.head(seq.reshape(-1, HIDDEN))

    model = NamesGRU()
    model.load_state_dict(p.weights)
    opt = optim.SGD(model.parameters(), lr=p.lr)
    x, y = p.X, np.ascontiguousarray(p.y.T).ravel()  # targets in the logits' order
    named = dict(model.named_parameters())

    def step() -> float:
        opt.zero_grad()
        loss = tg.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step, lambda: [named[n].data.copy() for n in NAMES]


def build_torch(p: impls.ModelProblem) -> tuple[Any, Any]:
    import torch

    nn = torch.nn

    class NamesGRU(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(27, 32)
            self.gru = nn.GRU(32, HIDDEN, batch_first=True)
            self.head = nn.Linear(HIDDEN, 27)

        def forward(self, idx: Any) -> Any:
            seq, _ = self.gru(self.embed(idx))
            return self.head(seq).reshape(-1, 27)

    model = NamesGRU().float()
    named = dict(model.named_parameters())
    with torch.no_grad():
        for n, w in p.weights.items():
            named[n].copy_(torch.from_numpy(w))
    opt = torch.optim.SGD(model.parameters(), lr=p.lr)
    x, y = torch.from_numpy(p.X), torch.from_numpy(p.y).reshape(-1)

    def step() -> float:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step, lambda: [named[n].detach().numpy().copy() for n in NAMES]


def check(steps: int = 3) -> tuple[list[float], list[float]]:
    """Both steps ``steps`` times from the same weights; raises AssertionError where they
    disagree.  Returns the two loss curves."""
    runs = {}
    for name, build in (("tinygrad_bp", build_tinygrad_bp), ("torch", build_torch)):
        step, params = build(make_problem())
        runs[name] = ([step() for _ in range(steps)], params())
    (la, pa), (lb, pb) = runs["tinygrad_bp"], runs["torch"]
    np.testing.assert_allclose(la, lb, rtol=1e-5)
    for a, b, start in zip(pa, pb, make_problem().weights.values()):
        assert a.dtype == np.float32 and a.shape == b.shape == start.shape
        scale = float(np.abs(b - start).max()) or 1.0
        assert float(np.abs(a - b).max()) / scale < 1e-3  # the bench's float32 tolerance
    return la, lb


def _time(step: Any, n: int) -> float:
    t0 = time.thread_time()
    for _ in range(n):
        step()
    return (time.thread_time() - t0) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/gru_twin.py", description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--block-s", type=float, default=0.3)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.block_s <= 0:
        parser.error("--rounds must be >= 1 and --block-s > 0")
    try:
        la, lb = check()
    except AssertionError as e:
        print(f"gru_twin: tinygrad_bp and PyTorch disagree: {e}", file=sys.stderr)
        return 1
    print(f"check: 3 steps agree (losses {la[-1]:.6f} and {lb[-1]:.6f})")
    import scipy.linalg.blas  # noqa: F401  (loaded before pinning: SGD's axpy uses it)
    import torch
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        torch.set_num_threads(1)
        steps = {"tinygrad_bp": build_tinygrad_bp(make_problem())[0],
                 "torch": build_torch(make_problem())[0]}  # fmt: skip
        ns = {}
        for name, step in steps.items():
            for _ in range(3):
                step()
            per = _time(step, 5)
            ns[name] = max(1, math.ceil(args.block_s / per))
        times: dict[str, list[float]] = {name: [] for name in steps}
        order = list(steps)
        for r in range(args.rounds):
            for name in order[r % 2 :] + order[: r % 2]:
                times[name].append(_time(steps[name], ns[name]))
    ratio = statistics.median(a / b for a, b in zip(times["tinygrad_bp"], times["torch"]))
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(
        f"GRU twin of W6, one process, 1 BLAS thread, CPU clock, medians of {args.rounds} "
        f"rounds: tinygrad_bp {med['tinygrad_bp']:.3f} ms, torch {med['torch']:.3f} ms, "
        f"tinygrad_bp / torch {ratio:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
