"""tg.compile's step against hand-written NumPy and the eager engine, in one process.

    python benchmarks/compile_ratio.py --workloads W1 W4 --rounds 15

Builds the bench's workloads (``tinygrad_bp.commands._bench_impls``) three ways in one
process, BLAS pinned to one thread (threadpoolctl): hand-written NumPy, the engine's plain
user code, and the same code wrapped in ``tg.compile``.  Each round times a block of
steps of each, in a rotating order; prints the median per-step time of each and the
median of the per-round ratios to hand NumPy.  The clock is the thread's CPU time
(``time.thread_time``), which a busy machine disturbs less than the wall clock; ``--wall``
uses the wall clock.  Also checks that the compiled and eager steps stay bit-identical.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from tinygrad_bp.commands import _bench_impls as B  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", nargs="+", default=["W1", "W4"])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--block-seconds", type=float, default=0.2)
    ap.add_argument("--wall", action="store_true", help="time with the wall clock")
    args = ap.parse_args(argv)
    clock = time.perf_counter if args.wall else time.thread_time
    threadpool_limits(1)
    for wl in args.workloads:
        p = B.make_problem(B.WORKLOADS[wl])
        hand, _ = B.build_numpy(p)
        eager, eager_params = B.build_tinygrad_bp(p)
        compiled, compiled_params = B.build_tinygrad_bp_compiled(p)
        for _ in range(5):  # eager warm-up, two traces, then replays
            assert eager() == compiled()
        assert all(np.array_equal(a, b) for a, b in zip(eager_params(), compiled_params()))
        steps = {"hand NumPy": hand, "tinygrad_bp": eager, "tg.compile": compiled}
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() - t0 < args.block_seconds:
            hand()
            n += 1
        times: dict[str, list[float]] = {k: [] for k in steps}
        names = list(steps)
        for r in range(args.rounds):
            order = names[r % 3 :] + names[: r % 3]
            for name in order:
                f = steps[name]
                c0 = clock()
                for _ in range(n):
                    f()
                times[name].append((clock() - c0) / n)
        assert all(np.array_equal(a, b) for a, b in zip(eager_params(), compiled_params()))
        base = times["hand NumPy"]
        cells = []
        for name in names:
            med = statistics.median(times[name]) * 1e6
            ratio = statistics.median(t / b for t, b in zip(times[name], base))
            cells.append(f"{name} {med:.1f} us ({ratio:.2f}x)")
        clock_name = "wall" if args.wall else "CPU"
        print(f"{wl} ({clock_name}, {args.rounds} rounds of {n} steps): " + ", ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
