"""A/B timing of the engine against an earlier revision of itself, in one process.

    PYTHONPATH=$PWD python benchmarks/ab.py --base HEAD~1 --threads 1 --workloads W1 W4

Exports ``tinygrad_bp/`` at ``--base`` with ``git archive`` into a temporary directory as
the package ``tinygrad_bp_base``, then alternates short blocks of hand NumPy, the base
engine and the working tree's engine on the same problem, many times, and prints the
medians and the median paired ratios.  Used for the before/after figures in the commit
messages of engine optimisations; `tinygrad-bp bench` is the benchmark itself.
"""

from __future__ import annotations

import argparse
import os
import sys

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--base", default="HEAD", help="git revision to compare with (HEAD)")
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--workloads", nargs="+", default=["W1", "W2", "W3", "W4"])
parser.add_argument("--seconds", type=float, default=12.0, help="per workload")
parser.add_argument("--block", type=float, default=0.05, help="seconds per block")
args = parser.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import importlib  # noqa: E402
import io  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from threadpoolctl import threadpool_limits  # noqa: E402

from tinygrad_bp import _bench_impls as B  # noqa: E402

threadpool_limits(args.threads)
root = subprocess.run(
    ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
).stdout.strip()
tmp = tempfile.mkdtemp(prefix="tgbp-ab-")
tar = subprocess.run(
    ["git", "archive", args.base, "tinygrad_bp"], cwd=root, capture_output=True, check=True
).stdout
with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
    tf.extractall(tmp, filter="data")
os.rename(os.path.join(tmp, "tinygrad_bp"), os.path.join(tmp, "tinygrad_bp_base"))
sys.path.insert(0, tmp)
base_pkg = importlib.import_module("tinygrad_bp_base")
new_pkg = importlib.import_module("tinygrad_bp")


def timed(step, n):
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


print(f"base {args.base}, {args.threads} thread(s); ms per step, median; ratios: median of pairs")
for wl in args.workloads:
    w = B.WORKLOADS[wl]
    steps = {
        "numpy": B.build_numpy(B.make_problem(w))[0],
        "base": B.build_tinygrad_bp(B.make_problem(w), base_pkg)[0],
        "new": B.build_tinygrad_bp(B.make_problem(w), new_pkg)[0],
    }
    n = {}
    for k, s in steps.items():
        per = timed(s, 3)
        n[k] = max(1, int(args.block / timed(s, max(1, int(0.05 / per)))))
    res = {k: [] for k in steps}
    t_end = time.perf_counter() + args.seconds
    r = 0
    while time.perf_counter() < t_end or r < 3:
        order = list(steps)[r % 3 :] + list(steps)[: r % 3]
        for k in order:
            res[k].append(timed(steps[k], n[k]))
        r += 1
    med = {k: statistics.median(v) * 1e3 for k, v in res.items()}
    ratio = {
        k: statistics.median(a / b for a, b in zip(res[k], res["numpy"])) for k in ("base", "new")
    }
    new_base = statistics.median(a / b for a, b in zip(res["new"], res["base"]))
    print(
        f"{wl}: numpy {med['numpy']:.4g} ms | base {med['base']:.4g} ms ({ratio['base']:.2f}x) | "
        f"new {med['new']:.4g} ms ({ratio['new']:.2f}x) | new/base {new_base:.3f} ({r} rounds)"
    )
