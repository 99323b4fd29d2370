"""A/B timing of the engine against an earlier revision of itself.

    python benchmarks/ab.py --base HEAD~1 --threads 1 --workloads W1 W4

Exports ``tinygrad_bp/`` at ``--base`` with ``git archive`` into a temporary directory,
then runs three benchmark workers per workload (hand NumPy, the base revision's engine, the
working tree's engine), each in its own process holding one model, exactly as
``tinygrad-bp bench`` does, and alternates blocks of them.  The rounds are shared among
``--sessions`` sets of fresh processes: where NumPy's arrays land (their alignment) moves
a small network's step time by several per cent for the whole life of a process.
Prints, per workload, the median per-step time of each and the median of the paired
ratios.  With one thread the
default clock is the worker thread's CPU time, which a busy machine disturbs less than the
wall clock.  Used for the before/after figures in the commit messages of engine
optimisations; ``tinygrad-bp bench`` is the benchmark itself.  The base is timed with
the working tree's ``tinygrad_bp/commands/_bench_impls.py`` (today's workloads and user
code).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tinygrad_bp.commands.bench import _Worker  # noqa: E402


def _session(
    wl: str,
    variants: dict[str, tuple[str, str]],
    args: argparse.Namespace,
    key: str,
    rounds: int,
    res: dict[str, list[float]],
    flt: dict[str, list[float]],
) -> None:
    """Start one worker per variant, calibrate, and append ``rounds`` interleaved blocks."""
    workers = {k: _Worker(impl, args.threads, root) for k, (impl, root) in variants.items()}
    try:
        for w in workers.values():
            w.ready()
        with tempfile.TemporaryDirectory() as out:  # as the bench does, before timing
            for k, w in workers.items():
                w.request("check", workload=wl, steps=3, out=os.path.join(out, k + ".npz"))
        n = {
            k: w.request("calibrate", workload=wl, block_s=args.block)["n"]
            for k, w in workers.items()
        }
        for r in range(rounds):
            order = list(workers)[r % 3 :] + list(workers)[: r % 3]
            for k in order:
                reply = workers[k].request("block", workload=wl, n=n[k])
                res[k].append(reply[key])
                flt[k].append(reply["faults_per_step"])
    finally:
        for w in workers.values():
            w.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="git revision to compare with")
    parser.add_argument(
        "--base-dir", help="use this directory (holding tinygrad_bp/) as the base instead"
    )
    parser.add_argument("--new-dir", help="and this one instead of the working tree")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workloads", nargs="+", default=["W1", "W2", "W3", "W4"])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--sessions",
        type=int,
        default=3,
        help="fresh worker processes this many times, the rounds shared among them",
    )
    parser.add_argument("--block", type=float, default=0.2, help="seconds per block")
    parser.add_argument("--clock", choices=["auto", "wall", "cpu"], default="auto")
    args = parser.parse_args()
    clock = args.clock if args.clock != "auto" else ("cpu" if args.threads == 1 else "wall")
    key = "cpu_per_step" if clock == "cpu" else "per_step"

    if args.base_dir:
        tmp = args.base_dir
    else:
        tmp = tempfile.mkdtemp(prefix="tgbp-ab-")
        tar = subprocess.run(
            ["git", "archive", args.base, "tinygrad_bp"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            tf.extractall(tmp, filter="data")
        # Time the old engine with today's harness (same workloads, same user code), also
        # where the base is older than tinygrad_bp/commands/.
        os.makedirs(os.path.join(tmp, "tinygrad_bp", "commands"), exist_ok=True)
        for name in ("__init__.py", "_bench_impls.py"):
            here = os.path.join(ROOT, "tinygrad_bp", "commands", name)
            shutil.copy(here, os.path.join(tmp, "tinygrad_bp", "commands", name))
    new_root = args.new_dir or ROOT
    variants = {
        "numpy": ("numpy", ROOT),
        "base": ("tinygrad_bp", tmp),
        "new": ("tinygrad_bp", new_root),
    }
    print(
        f"base {args.base_dir or args.base}, new {args.new_dir or 'working tree'}, "
        f"{args.threads} thread(s), {clock} clock, {args.rounds} rounds in {args.sessions} "
        "sessions; ms per step (median), ratios: median of the per-round ratios"
    )
    for wl in args.workloads:
        res: dict[str, list[float]] = {k: [] for k in variants}
        flt: dict[str, list[float]] = {k: [] for k in variants}
        per_session = [args.rounds // args.sessions] * args.sessions
        for i in range(args.rounds % args.sessions):
            per_session[i] += 1
        for rounds in per_session:
            # Fresh processes each session: where NumPy's arrays land in memory (their
            # alignment) changes a step's time by several per cent, and stays fixed for a
            # process's life, so one set of workers would give its layout's ratio.
            _session(wl, variants, args, key, rounds, res, flt)
        med = {k: statistics.median(v) * 1e3 for k, v in res.items()}

        def ratio(a: str, b: str) -> float:
            return statistics.median(x / y for x, y in zip(res[a], res[b]))  # noqa: B023

        print(
            f"{wl}: numpy {med['numpy']:.4g} | base {med['base']:.4g} "
            f"({ratio('base', 'numpy'):.2f}x) | new {med['new']:.4g} "
            f"({ratio('new', 'numpy'):.2f}x) | new/base "
            f"{ratio('new', 'base'):.3f} | faults/step numpy {statistics.median(flt['numpy']):.0f} "
            f"base {statistics.median(flt['base']):.0f} new {statistics.median(flt['new']):.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
