"""``tinygrad-bp bench``: one SGD training step, timed against hand-written NumPy.

The workloads (the tutorial's 4-10-5-3 tanh network on Iris, two MNIST-sized ReLU
networks in float32, a deep narrow tanh network in float64, the digits CNN and the names
LSTM) run in every implementation
from the same seeded data and initial weights (:mod:`tinygrad_bp.commands._bench_impls`):
tinygrad_bp written as plain user code, a hand-written NumPy backprop (the baseline) and the
tutorial's batch formulas.  (The benchmarks page, ``python benchmarks/run.py``, adds PyTorch
eager, MyGrad and HIPS autograd with the same harness: ``benchmarks/peers.py``.)

How it measures:

- each implementation runs in its own worker process per BLAS thread count, started with
  ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS`` set before NumPy is
  imported and pinned again with threadpoolctl (PyTorch: ``torch.set_num_threads``);
- first a check: ``--check-steps`` steps from the initial weights in every
  implementation; the losses and the weights after those steps must agree with hand
  NumPy (float64: 1e-6 relative; float32: 1e-3), or the run fails;
- then warm-up and calibration (steps per block so that a block lasts at least
  ``--block-seconds``), then ``--rounds`` rounds; in each round every implementation
  times one block of every workload at every thread count, in a rotating order, so that
  slow drifts of the machine's load hit all of them alike;
- the per-step time of a block is its time over its step count; the tables give the
  median and the min–max over rounds, and the ratio to hand NumPy as the median of the
  per-round ratios (each against the NumPy block of the same round);
- peak memory: each implementation once more in a fresh process per workload
  (:func:`tinygrad_bp.commands._bench_impls.measure_memory`).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from . import _bench_impls as impls

__all__ = ["configure", "main", "BenchConfig", "run", "render_report"]

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# Agreement with hand NumPy after the check steps, relative, by dtype.
TOLERANCE = {"float64": 1e-6, "float32": 1e-3}
# The "steady allocator" columns: glibc told never to give heap memory back to the system
# and to serve every array from the heap, so that neither implementation pays for page
# faults that depend only on where its arrays happen to lie (see docs/benchmarks.md).
STEADY = "~steady"
STEADY_ENV = {"MALLOC_TRIM_THRESHOLD_": str(2**30), "MALLOC_MMAP_THRESHOLD_": str(2**25)}
STEADY_IMPLS = ("numpy", "tinygrad_bp")


@dataclass
class BenchConfig:
    threads: list[int] = field(default_factory=lambda: [1, 2])
    workloads: list[str] = field(default_factory=lambda: list(impls.WORKLOADS))
    impls: list[str] = field(default_factory=lambda: list(impls.IMPLS))
    rounds: int = 9  # the 2-core machine scatters ±10% between runs: more rounds, steadier medians
    block_seconds: float = 0.5
    check_steps: int = 3
    memory: bool = True
    steady: bool = True
    smoke: bool = False


# ----------------------------------------------------------------------------- workers
class _Worker:
    """One implementation at one thread count, in its own process.

    ``root`` is the directory holding the ``tinygrad_bp`` package the worker imports (this
    one by default; ``benchmarks/ab.py`` points it at an exported older revision).
    """

    def __init__(
        self, impl: str, threads: int, root: str | None = None, env: dict | None = None
    ) -> None:
        self.impl, self.threads = impl, threads
        self._err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            _command(impl, "--threads", str(threads)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
            env={**_child_env(threads, root), **_peer_env(impl), **(env or {})},
            cwd=root or _package_root(),  # `python -m` puts the cwd first on sys.path
        )

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(impls.TAG):
                return json.loads(line[len(impls.TAG) :])
        self.proc.wait()
        self._err.seek(0)
        tail = self._err.read()[-2000:]
        raise RuntimeError(
            f"bench: the {self.impl} worker ({self.threads} thread(s)) exited with status "
            f"{self.proc.returncode}:\n{tail}"
        )

    def ready(self) -> None:
        self._read()

    def request(self, cmd: str, **kwargs: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        if not reply.get("ok"):
            raise RuntimeError(
                f"bench: {self.impl} ({self.threads} thread(s)) failed in {cmd} "
                f"{kwargs.get('workload', '')}: {reply.get('error')}"
            )
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._err.close()


def _peer_env(impl: str) -> dict[str, str]:
    """The peers run with the C library's allocator settings, as they would without
    tinygrad_bp in the process (importing tinygrad_bp tunes glibc's malloc; the worker
    imports the package to find the workloads)."""
    from .._malloc import ENV_VAR

    return {} if impl.startswith("tinygrad_bp") else {ENV_VAR: "default"}


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(impls.__file__))))


def _child_env(threads: int, root: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    # The worker must import this very package, wherever it was imported from.
    root = root or _package_root()
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _command(impl: str, *args: str) -> list[str]:
    script = impls.WORKER_SCRIPTS.get(impl)  # a peer registered by benchmarks/peers.py
    where = [script] if script else ["-m", "tinygrad_bp.commands._bench_impls"]
    return [sys.executable, *where, impl, *args]


MEMORY_RUNS = 3  # fresh processes per implementation and workload; the median is kept


def _memory(impl: str, workload: str, threads: int, runs: int = MEMORY_RUNS) -> dict[str, Any]:
    """The median of ``runs`` measurements, each in a fresh process: the RSS growth of a
    small step moves by a fraction of a MiB from one process to the next (where the C
    allocator's arenas happen to fall), PyTorch's most."""
    got = [_memory_once(impl, workload, threads) for _ in range(runs)]
    out: dict[str, Any] = {}
    for key in got[0]:
        values = [g[key] for g in got if g.get(key) is not None]
        numbers = key != "ok" and all(isinstance(v, (int, float)) for v in values)
        out[key] = (statistics.median(values) if values else None) if numbers else got[0][key]
    out["rss_runs"] = [g.get("rss") for g in got]
    return out


def _memory_once(impl: str, workload: str, threads: int) -> dict[str, Any]:
    proc = subprocess.run(
        _command(impl, "--threads", str(threads), "--memory", workload),
        capture_output=True,
        cwd=_package_root(),
        text=True,
        env={**_child_env(threads), **_peer_env(impl)},
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(impls.TAG):
            return json.loads(line[len(impls.TAG) :])
    raise RuntimeError(
        f"bench: memory measurement of {impl} on {workload} failed (status "
        f"{proc.returncode}):\n{proc.stderr[-2000:]}"
    )


# ----------------------------------------------------------------------------- the run
def available_impls(wanted: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The wanted implementations whose modules are installed, and why others are not."""
    have, missing = [], {}
    for name in wanted:
        module = impls.IMPL_MODULES.get(name)
        if module is not None and importlib.util.find_spec(module) is None:
            missing[name] = f"{module} is not installed"
        else:
            have.append(name)
    return have, missing


def _validate(config: BenchConfig) -> None:
    for w in config.workloads:
        if w not in impls.WORKLOADS:
            raise ValueError(
                f"bench: unknown workload {w!r}; expected some of {list(impls.WORKLOADS)}"
            )
    for i in config.impls:
        if i not in impls.IMPLS:
            raise ValueError(
                f"bench: unknown implementation {i!r}; expected some of {list(impls.IMPLS)}"
            )
    if not config.threads or any(t < 1 for t in config.threads):
        raise ValueError(f"bench: --threads must be positive integers, got {config.threads}")
    if config.rounds < 1 or config.block_seconds <= 0 or config.check_steps < 2:
        raise ValueError(
            "bench: need rounds >= 1, block seconds > 0 and check steps >= 2, got "
            f"{config.rounds}, {config.block_seconds}, {config.check_steps}"
        )


def _log(msg: str, log: TextIO | None) -> None:
    if log is not None:
        print(msg, file=log, flush=True)


def _compare(ref: dict[str, Any], got: dict[str, Any], p0: list[np.ndarray]) -> dict[str, float]:
    """Largest relative differences of the losses and of the weight updates."""
    loss = max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(got["losses"], ref["losses"]))
    upd = 0.0
    for mine, theirs, start in zip(got["arrays"], ref["arrays"], p0):
        if mine.shape != theirs.shape:
            return {"loss": loss, "update": float("inf")}
        scale = float(np.abs(theirs.astype(np.float64) - start).max()) or 1.0
        upd = max(upd, float(np.abs(mine.astype(np.float64) - theirs).max()) / scale)
    return {"loss": float(loss), "update": upd}


def run(config: BenchConfig, log: TextIO | None = sys.stderr) -> dict[str, Any]:
    """Run the benchmark; returns every measurement (see :func:`render_report`)."""
    _validate(config)
    started = time.time()
    wanted = list(dict.fromkeys(["numpy", *config.impls]))  # the baseline always runs
    names, missing = available_impls(wanted)
    workloads = list(dict.fromkeys(config.workloads))
    threads = list(dict.fromkeys(config.threads))
    skips = {
        (i, w): r
        for i in names
        for w in workloads
        if (r := impls.skip_reason(i, impls.WORKLOADS[w])) is not None
    }
    cells = [(i, w) for w in workloads for i in names if (i, w) not in skips]
    results: dict[str, Any] = {
        "config": vars(config).copy(),
        "impls": names,
        "missing": missing,
        "skips": {f"{i} {w}": r for (i, w), r in skips.items()},
        "workloads": workloads,
        "threads": threads,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
    }
    _log(f"bench: starting {len(names)} implementations x {len(threads)} thread counts", log)
    # One process per implementation, thread count and workload, holding one model: the
    # way a training script runs (NumPy's allocations, and so page faults, depend on what
    # else the process holds).
    workers = {(i, t, wl): _Worker(i, t) for t in threads for i, wl in cells}
    steady = []
    if config.steady and "tinygrad_bp" in names:
        steady = [(i + STEADY, wl) for i, wl in cells if i in STEADY_IMPLS]
        for col, wl in steady:
            workers[col, threads[0], wl] = _Worker(col[: -len(STEADY)], threads[0], env=STEADY_ENV)
    results["steady"] = [col for col, _ in steady[:2]]
    results["steady_env"] = STEADY_ENV
    try:
        for w in workers.values():
            w.ready()
        results["info"] = {}
        for (i, t, _wl), w in workers.items():
            if f"{i} {t}" not in results["info"] and not i.endswith(STEADY):
                results["info"][f"{i} {t}"] = w.request("info")

        # 1. everything agrees with hand NumPy
        checks: dict[str, Any] = {}
        ok = True
        with tempfile.TemporaryDirectory() as tmp:
            for t in threads:
                for wl in workloads:
                    problem = impls.make_problem(impls.WORKLOADS[wl].for_check())
                    p0 = [a.astype(np.float64) for W, b in zip(problem.Ws, problem.bs)
                          for a in (W, b)]  # fmt: skip
                    got = {}
                    for i in names:
                        if (i, wl) in skips:
                            continue
                        path = os.path.join(tmp, f"{i}-{t}-{wl}.npz")
                        reply = workers[i, t, wl].request(
                            "check", workload=wl, steps=config.check_steps, out=path
                        )
                        with np.load(path) as f:
                            reply["arrays"] = [f[k] for k in f.files]
                        got[i] = reply
                    tol = TOLERANCE[impls.WORKLOADS[wl].for_check().dtype]
                    for i, reply in got.items():
                        dev = _compare(got["numpy"], reply, p0)
                        passed = dev["loss"] <= tol and dev["update"] <= tol
                        ok &= passed
                        checks[f"{i} {t} {wl}"] = {
                            "losses": reply["losses"],
                            **dev,
                            "tolerance": tol,
                            "passed": passed,
                        }
                        if not passed:
                            _log(f"bench: {i} disagrees with hand NumPy on {wl}: {dev}", log)
        results["checks"] = checks
        results["checks_passed"] = ok
        _log(f"bench: correctness check {'passed' if ok else 'FAILED'}", log)

        # 2. warm-up and steps per block
        nsteps = {
            key: w.request("calibrate", workload=key[2], block_s=config.block_seconds)["n"]
            for key, w in workers.items()
        }
        _log("bench: calibrated; timing rounds", log)

        # 3. interleaved rounds
        times: dict[str, list[float]] = {f"{i} {t} {wl}": [] for i, t, wl in workers}
        ratios: dict[str, list[float]] = {k: [] for k in times}
        to_torch: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {k: [] for k in times}
        faults: dict[str, list[float]] = {k: [] for k in times}
        for r in range(config.rounds):
            for t in threads:
                for k, wl in enumerate(workloads):
                    order = _round_order(
                        [i for i in names if (i, wl) not in skips],
                        [col for col, w in steady if w == wl] if t == threads[0] else [],
                        r + k,
                    )
                    this_round = {}
                    for i in order:
                        reply = workers[i, t, wl].request("block", workload=wl, n=nsteps[i, t, wl])
                        key = f"{i} {t} {wl}"
                        this_round[i] = reply["per_step"]
                        times[key].append(reply["per_step"])
                        cpu[key].append(reply["cpu_per_step"])
                        faults[key].append(reply["faults_per_step"])
                    for i, s in this_round.items():
                        base = "numpy" + STEADY if i.endswith(STEADY) else "numpy"
                        ratios[f"{i} {t} {wl}"].append(s / this_round[base])
                    if "torch" in this_round and "tinygrad_bp" in this_round:
                        to_torch.setdefault(f"tinygrad_bp {t} {wl}", []).append(
                            this_round["tinygrad_bp"] / this_round["torch"]
                        )
            _log(f"bench: round {r + 1}/{config.rounds} done", log)
        results["times"] = times
        results["ratios"] = ratios
        results["ratios_to_torch"] = to_torch
        results["cpu_times"] = cpu
        results["faults"] = faults
        results["steps_per_block"] = {f"{i} {t} {wl}": n for (i, t, wl), n in nsteps.items()}
    finally:
        for w in workers.values():
            w.close()

    # 4. peak memory, each in a fresh process
    memory: dict[str, Any] = {}
    runs = 1 if config.smoke else MEMORY_RUNS
    if config.memory:
        for i, wl in cells:
            memory[f"{i} {wl}"] = _memory(i, wl, threads[0], runs)
        _log("bench: memory measured", log)
    results["memory"] = memory
    results["memory_threads"] = threads[0]
    results["memory_runs"] = runs
    results["seconds"] = time.time() - started
    return results


# ----------------------------------------------------------------------------- the report
def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "system": f"{platform.system()} {platform.release()}",
    }


def _ms(s: float) -> str:
    ms = s * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def render_report(res: dict[str, Any]) -> str:
    """The command's report: per thread count and workload, the median step times and the
    median of the per-round ratios to hand NumPy, and the correctness check.  (The
    benchmarks page, with the peers and the goals, is ``benchmarks/run.py``'s.)"""
    names, workloads = res["impls"], res["workloads"]
    titles = impls.IMPL_TITLES
    others = [i for i in names if i != "numpy"]
    smoke = " (SMOKE settings: the times mean nothing)" if res["config"]["smoke"] else ""
    lines = [
        "tinygrad-bp bench: one SGD training step (forward, softmax cross-entropy, backward, "
        f"update), {res['config']['rounds']} interleaved round(s){smoke}",
        "ms per step (median over rounds); in brackets the median of each round's ratio "
        "to hand NumPy",
    ]
    for t in res["threads"]:
        lines += ["", f"{t} BLAS thread{'s' if t > 1 else ''}:"]
        head = ["workload", "hand NumPy"] + [titles[i] for i in others]
        rows = [head]
        for wl in workloads:
            row = [wl]
            for i in names:
                ts = res["times"].get(f"{i} {t} {wl}")
                if not ts:
                    row.append("-")
                    continue
                cell = _ms(statistics.median(ts))
                if i != "numpy":
                    cell += f" ({statistics.median(res['ratios'][f'{i} {t} {wl}']):.2f}x)"
                row.append(cell)
            rows.append(row)
        widths = [max(len(r[k]) for r in rows) for k in range(len(head))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines += [
        "",
        "Check: after {} steps from the same weights every implementation agrees with hand "
        "NumPy (losses and updates; float64 {:g}, float32 {:g}): {}".format(
            res["config"]["check_steps"],
            TOLERANCE["float64"],
            TOLERANCE["float32"],
            "yes" if res["checks_passed"] else "NO",
        ),
    ]
    for wl in workloads:
        for i in names:
            if f"{i} {wl}" in res["skips"]:
                lines.append(f"Not run: {titles[i]} on {wl} ({res['skips'][f'{i} {wl}']})")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- the command
def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="BLAS thread counts to measure (default: 1 2)",
    )
    parser.add_argument(
        "--workloads",
        nargs="+",
        default=list(impls.WORKLOADS),
        choices=list(impls.WORKLOADS),
        help="default: all of them (W5-W7 need the reference package's hand-written steps)",
    )
    parser.add_argument(
        "--impls",
        nargs="+",
        default=list(impls.IMPLS),
        choices=list(impls.IMPLS),
        help="implementations (default: all installed; hand NumPy always runs)",
    )
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds (default 9)")
    parser.add_argument(
        "--block-seconds",
        type=float,
        default=None,
        help="minimum seconds per timed block (default 0.5)",
    )
    parser.add_argument(
        "--check-steps",
        type=int,
        default=3,
        help="steps whose losses and updates must agree (default 3)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    parser.add_argument(
        "--no-steady",
        action="store_true",
        help="skip the extra hand NumPy / tinygrad_bp columns run with a steady allocator",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny blocks and one round: checks that everything runs and agrees",
    )
    parser.add_argument("--out", metavar="PATH", help="write the report here too")
    parser.add_argument("--json", metavar="PATH", help="write the raw measurements here")


PAIRED = ("numpy", "tinygrad_bp")  # timed back to back in every round


def _round_order(names: list[str], steady: list[str], r: int) -> list[str]:
    """The order of one round's blocks: hand NumPy and tinygrad_bp back to back (which one
    goes first alternates), the other implementations rotated around the pair, then the
    steady-allocator pair, also back to back.  The ratio that the goals are about then
    compares two blocks a second apart, not blocks up to six apart, over which the load
    of a shared machine drifts.

    >>> _round_order(["numpy", "tinygrad_bp", "torch", "mygrad"], [], 1)
    ['torch', 'tinygrad_bp', 'numpy', 'mygrad']
    """
    pair = [i for i in PAIRED if i in names]
    rest = [i for i in names if i not in pair]
    if r % 2:
        pair.reverse()
    shift = r % (len(rest) + 1)
    steady = list(reversed(steady)) if r % 2 else list(steady)
    return rest[:shift] + pair + rest[shift:] + steady


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    smoke = bool(args.smoke)
    return BenchConfig(
        threads=list(args.threads),
        workloads=list(args.workloads),
        impls=list(args.impls),
        rounds=args.rounds if args.rounds is not None else (1 if smoke else BenchConfig.rounds),
        block_seconds=(
            args.block_seconds if args.block_seconds is not None else (0.01 if smoke else 0.5)
        ),
        check_steps=args.check_steps,
        memory=not args.no_memory,
        steady=not args.no_steady,
        smoke=smoke,
    )


def main(args: argparse.Namespace) -> int:
    from ._output import check_file_target, write_file

    # Before minutes of measuring: every output path must be writable now.
    targets = [(flag, p) for flag, p in (("--out", args.out), ("--json", args.json)) if p]
    for flag, path in targets:
        check_file_target(path, f"bench {flag}")
    if args.out and args.json and os.path.abspath(args.out) == os.path.abspath(args.json):
        raise ValueError(f"bench: --out and --json are the same file, {args.out}")
    config = config_from_args(args)
    _validate(config)
    results = run(config)
    results["command"] = getattr(args, "_command_line", None)
    page = render_report(results)
    if args.out:
        write_file(args.out, page, "bench --out")
    if args.json:
        write_file(args.json, json.dumps(results, indent=1), "bench --json")
    print(page)
    if not results["checks_passed"]:
        print("tinygrad-bp bench: error: some implementation disagrees with hand NumPy",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0
