"""Issue 24's side-by-side table: every implementation in ONE process, interleaved.

    python benchmarks/inprocess.py --workloads W1 W4 W5 W6 W7 --rounds 7

``tinygrad-bp bench`` (and ``docs/benchmarks.md``) runs each implementation in a process
of its own.  This script measures the other way the issue asks for: the implementations
share one process (and one C heap: torch's allocations then hide some of another
engine's page faults, so both ways are worth a look).  Each workload's implementations
are built from the same seeded problem, warmed up, given a block length of about
``--block-s`` seconds each, then timed in ``--rounds`` rounds, each round running one
block of every implementation in a rotated order.  BLAS is pinned to one thread
(threadpoolctl; ``torch.set_num_threads(1)``).  The clock is the thread's CPU time
(``--clock wall`` for the wall clock).  Printed: the median per-step time of each and
the median over rounds of the paired ratios against PyTorch eager and hand NumPy.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import peers  # noqa: E402

from tinygrad_bp.commands import _bench_impls as impls  # noqa: E402


def _time(step: Any, n: int, clock: Any) -> float:
    t0 = clock()
    for _ in range(n):
        step()
    return (clock() - t0) / n


def measure(
    workload: str, names: list[str], rounds: int, block_s: float, clock: Any
) -> dict[str, list[float]]:
    """Per-step seconds of each implementation in each round."""
    wl = impls.WORKLOADS[workload]
    steps = {}
    for name in names:
        if impls.skip_reason(name, wl) is None:
            steps[name] = impls.IMPLS[name](impls.make_problem(wl))[0]
    ns = {}
    for name, step in steps.items():
        for _ in range(3):
            step()
        n = 1
        while True:  # a block of about block_s
            t = _time(step, n, time.perf_counter) * n
            if t > block_s / 4 or n > 1 << 16:
                break
            n *= 2
        ns[name] = max(1, math.ceil(block_s / (t / n)))
    times: dict[str, list[float]] = {name: [] for name in steps}
    order = list(steps)
    for r in range(rounds):
        k = r % len(order)
        for name in order[k:] + order[:k]:
            times[name].append(_time(steps[name], ns[name], clock))
    return times


def _paired(times: dict[str, list[float]], a: str, b: str) -> float | None:
    if a not in times or b not in times:
        return None
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def main(argv: list[str] | None = None) -> int:
    peers.register_all()
    parser = argparse.ArgumentParser(prog="benchmarks/inprocess.py", description=__doc__)
    parser.add_argument(
        "--workloads", nargs="+", default=["W1", "W2", "W3", "W4", "W5", "W6", "W7"]
    )
    parser.add_argument("--impls", nargs="+", default=None,
                        help="default: every registered one that is installed among "
                        "tinygrad_bp, tinygrad_bp-compiled, torch, numpy")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--block-s", type=float, default=0.3)
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    args = parser.parse_args(argv)
    for w in args.workloads:
        if w not in impls.WORKLOADS:
            parser.error(f"unknown workload {w!r} (one of {', '.join(impls.WORKLOADS)})")
    if args.rounds < 1 or args.block_s <= 0:
        parser.error("--rounds must be >= 1 and --block-s > 0")
    wanted = args.impls or ["tinygrad_bp", "tinygrad_bp-compiled", "torch", "numpy"]
    names = [n for n in wanted if n in impls.IMPLS]
    if args.impls:
        missing = [n for n in args.impls if n not in impls.IMPLS]
        if missing:
            parser.error(f"unknown implementation(s) {missing} (known: {sorted(impls.IMPLS)})")
    # Load every BLAS a step may use before pinning: threadpoolctl limits the libraries
    # loaded now, and the optimizers' first step imports SciPy's BLAS (its own OpenBLAS,
    # which would otherwise run W6's SGD axpy on all cores: 2.5x the step on a busy box).
    import scipy.linalg.blas  # noqa: F401
    import scipy.special  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        for name in names:
            if name in impls.SET_THREADS:
                impls.SET_THREADS[name](1)
        clock = time.thread_time if args.clock == "cpu" else time.perf_counter
        print(f"one process, interleaved, 1 BLAS thread, {args.clock} clock, "
              f"medians of {args.rounds} rounds")  # fmt: skip
        print()
        others = [n for n in names if n not in ("torch", "numpy")]
        head = ["workload", *(f"{n} ms" for n in names)]
        head += [f"{n} / torch" for n in others if "torch" in names]
        head += [f"{n} / numpy" for n in others if "numpy" in names]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for w in args.workloads:
            times = measure(w, names, args.rounds, args.block_s, clock)
            row = [w]
            for n in names:
                row.append(f"{statistics.median(times[n]) * 1e3:.3f}" if n in times else "—")
            for base in ("torch", "numpy"):
                if base not in names:
                    continue
                for n in others:
                    r = _paired(times, n, base)
                    row.append("—" if r is None else f"{r:.2f}")
            print("| " + " | ".join(row) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
