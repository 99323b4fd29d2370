"""``tinygrad-bp bench``: one SGD training step, timed against hand-written NumPy.

Four workloads (the tutorial's 4-10-5-3 tanh network on Iris, two MNIST-sized ReLU
networks in float32, a deep narrow tanh network in float64) run in every implementation
from the same seeded data and initial weights (:mod:`tinygrad_bp._bench_impls`):
tinygrad_bp written as plain user code, a hand-written NumPy backprop (the baseline), the
tutorial's batch formulas, and PyTorch eager, MyGrad and HIPS autograd when installed.

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
  (:func:`tinygrad_bp._bench_impls.measure_memory`).
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

__all__ = ["configure", "main", "BenchConfig", "run", "render_markdown"]

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# Issue 5's goal for tinygrad_bp, as a ratio to hand NumPy at each thread count.
GOALS = {"W1": 1.5, "W2": 1.10, "W3": 1.05, "W4": 1.5, "W5": 2.0, "W6": 2.0, "W7": 2.0}
# Issue 24's goals for the models, as a ratio to PyTorch eager (same rounds).
TORCH_GOALS = {"W5": 0.6, "W6": 1.0, "W7": 1.0}
MEMORY_GOAL = 1.2
# Agreement with hand NumPy after the check steps, relative, by dtype.
TOLERANCE = {"float64": 1e-6, "float32": 1e-3}
REPRODUCE = "python -m tinygrad_bp bench --threads 1 2 --out docs/benchmarks.md"
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
    from ._malloc import ENV_VAR

    return {} if impl.startswith("tinygrad_bp") else {ENV_VAR: "default"}


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(impls.__file__)))


def _child_env(threads: int, root: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    # The worker must import this very package, wherever it was imported from.
    root = root or _package_root()
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _command(impl: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "tinygrad_bp._bench_impls", impl, *args]


def _memory(impl: str, workload: str, threads: int) -> dict[str, Any]:
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
    """Run the benchmark; returns every measurement (see :func:`render_markdown`)."""
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
    if config.memory:
        for i, wl in cells:
            memory[f"{i} {wl}"] = _memory(i, wl, threads[0])
        _log("bench: memory measured", log)
    results["memory"] = memory
    results["memory_threads"] = threads[0]
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


def _blas(info: dict[str, Any]) -> str:
    parts = []
    for d in info.get("blas", []):
        parts.append(f"{d['internal_api']} {d['version']} ({d['architecture']}, "
                     f"{d['threading_layer']} threads)")  # fmt: skip
    return "; ".join(parts) or "unknown"


def render_markdown(res: dict[str, Any]) -> str:
    """The benchmark page (docs/benchmarks.md) from :func:`run`'s results."""
    names, workloads, threads = res["impls"], res["workloads"], res["threads"]
    titles = impls.IMPL_TITLES
    info = res["info"]
    np_info = info[f"numpy {threads[0]}"]
    m = res["machine"]
    # The command that made this page (set by `tinygrad-bp bench`); the standard one when
    # the results came from Python.
    made_by = res.get("command") or REPRODUCE
    lines = [
        "# Benchmarks: one SGD training step against hand-written NumPy",
        "",
        f"Generated {res['date']} by `{made_by}` (this run: {res['seconds']:.0f} s"
        f"{', SMOKE settings: the times mean nothing' if res['config']['smoke'] else ''}).",
        "",
        f"- Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable), "
        f"{m['system']}",
        f"- Python {np_info['python']}, NumPy {np_info['numpy']}, NumPy's BLAS: {_blas(np_info)}",
    ]
    for name, key in (("torch", "torch"), ("mygrad", "mygrad"), ("autograd", "autograd")):
        k = f"{name} {threads[0]}"
        if k in info:
            extra = f" ({info[k]['torch_blas']})" if name == "torch" else ""
            lines.append(f"- {titles[name]} {info[k].get(key, '?')}{extra}")
    for name, why in res["missing"].items():
        lines.append(f"- {titles[name]}: not run ({why})")
    cfg = res["config"]
    lines += [
        f"- Method: each implementation in its own process per thread count; BLAS threads "
        f"pinned by {', '.join(THREAD_VARS[:3])} before NumPy is imported and by threadpoolctl "
        f"(PyTorch: torch.set_num_threads); {cfg['check_steps']} check steps, warm-up, then "
        f"{cfg['rounds']} interleaved rounds of blocks of at least {cfg['block_seconds']} s "
        f"(many steps per block; in each round hand NumPy and tinygrad_bp run back to back, "
        f"alternating which goes first, and the others rotate around them). Times are per "
        f"training step (forward, softmax "
        f"cross-entropy, backward, SGD update with lr {impls.LR}; W7: AdamW); ratios are the "
        "median over "
        f"rounds of each round's ratio to the hand NumPy block of the same round.",
        "- Workloads (same seeded data and initial weights for every implementation; W1 is "
        "standardised Iris):",
    ]
    for wl in workloads:
        lines.append(f"  - **{wl}** {impls.WORKLOADS[wl].title}")
    lines += [
        "- Implementations: **tinygrad_bp** is plain user code (`nn.Sequential` of `nn.Dense`, "
        "`F.cross_entropy`, `optim.SGD`, `zero_grad`/`backward`/`step`); **hand NumPy** is "
        "backprop written by hand (dW = xᵀ·g, db = Σg, dx = g·Wᵀ with the pre-update W, "
        "CE gradient (softmax − onehot)/N), the baseline; **tutorial** is the article's batch "
        "code, whose W-gradient is a (batch, in, out) product averaged over the batch; "
        "**PyTorch eager** is `nn.Sequential` of `nn.Linear` with `F.cross_entropy` and "
        "`optim.SGD`; **MyGrad** and **HIPS autograd** use their own matmul, activations "
        "and loss. Source: `tinygrad_bp/_bench_impls.py`.",
        "",
    ]
    skips = res["skips"]
    for t in threads:
        lines += [f"## {t} BLAS thread{'s' if t > 1 else ''}", ""]
        head = ["workload"] + [titles[i] for i in names]
        has_tg = "tinygrad_bp" in names
        if has_tg:
            head.insert(3 if names.index("tinygrad_bp") == 1 else len(head), "goal")
        lines += ["Ratio to hand NumPy (lower is better):", ""]
        lines += [_row(head), _row(["---"] + ["---:"] * (len(head) - 1))]
        for wl in workloads:
            row = [wl]
            for i in names:
                key = f"{i} {t} {wl}"
                if f"{i} {wl}" in skips or key not in res["ratios"]:
                    row.append("—")
                    continue
                ratio = statistics.median(res["ratios"][key])
                row.append(f"**{ratio:.2f}x**" if i == "tinygrad_bp" else f"{ratio:.2f}x")
                if i == "tinygrad_bp":
                    goal = GOALS[wl]
                    row.append(f"≤ {goal:.2f}x {'✓' if ratio <= goal else '✗'}")
            lines.append(_row(row))
        lines += _torch_table(res, t)
        lines += ["", "Per-step time in ms, median (min–max over rounds):", ""]
        head = ["workload"] + [titles[i] for i in names]
        lines += [_row(head), _row(["---"] + ["---:"] * (len(head) - 1))]
        for wl in workloads:
            row = [wl]
            for i in names:
                key = f"{i} {t} {wl}"
                ts = res["times"].get(key)
                if not ts:
                    row.append("—")
                    continue
                row.append(f"{_ms(statistics.median(ts))} ({_ms(min(ts))}–{_ms(max(ts))})")
            lines.append(_row(row))
        lines += [
            "",
            "Minor page faults per step, median over rounds (the C allocator returning memory "
            "to the system and taking it back; the time they cost is in the times above):",
            "",
        ]
        lines += [_row(head), _row(["---"] + ["---:"] * (len(head) - 1))]
        for wl in workloads:
            row = [wl]
            for i in names:
                fs = res["faults"].get(f"{i} {t} {wl}")
                row.append(f"{statistics.median(fs):.0f}" if fs else "—")
            lines.append(_row(row))
        lines.append("")
        if t == threads[0] and res.get("steady"):
            lines += _steady_table(res, t)
    if res["memory"]:
        lines += _memory_tables(res)
    lines += [
        "## Correctness check",
        "",
        f"After {cfg['check_steps']} steps from the same weights: the largest relative "
        "difference from hand NumPy of the losses, and of the weight updates (max |ΔW − "
        "ΔW_numpy| / max |ΔW_numpy| over all weights and biases), at every thread count. "
        f"Tolerance: {TOLERANCE['float64']:g} for float64, {TOLERANCE['float32']:g} for "
        f"float32. All passed: **{'yes' if res['checks_passed'] else 'NO'}**.",
        "",
    ]
    head = ["workload"] + [titles[i] for i in names if i != "numpy"]
    lines += [_row(head), _row(["---"] + ["---:"] * (len(head) - 1))]
    for wl in workloads:
        row = [wl]
        for i in names:
            if i == "numpy":
                continue
            cs = [res["checks"][k] for t in threads if (k := f"{i} {t} {wl}") in res["checks"]]
            if not cs:
                row.append("—")
                continue
            loss = max(c["loss"] for c in cs)
            upd = max(c["update"] for c in cs)
            mark = "" if all(c["passed"] for c in cs) else " **FAIL**"
            row.append(f"{loss:.1e} / {upd:.1e}{mark}")
        lines.append(_row(row))
    lines.append("")
    if skips:
        lines.append("Not run: " + "; ".join(f"{titles[k.split()[0]]} on {k.split()[1]} ({r})"
                                              for k, r in skips.items()) + ".")  # fmt: skip
        lines.append("")
    lines += READING + ["## Reproduce", "", "```", made_by, "```", ""]
    return "\n".join(lines)


READING = [
    "## Reading the numbers",
    "",
    "- The engine pays Python for every node it records and walks (about 1 µs per node "
    "forward and 1 µs backward on this kind of machine, besides the NumPy call itself), "
    "for every leaf it accumulates and for every parameter the optimiser updates. On the "
    "tutorial's network (W1: 9 nodes, 6 parameters, arrays of a few hundred numbers) and "
    "on the deep narrow one (W4: 63 nodes, 42 parameters) that bookkeeping is a large "
    "share of a step; on W2 and W3 the matrix products dwarf it.",
    "- Memory: a `Dense` layer keeps one array in the forward pass, as the hand-written "
    "step does (the bias and the activation are computed in place in the matmul's "
    "array), and `backward()` releases the outputs inside `nn.Sequential` once it has "
    "used them. What is left above the hand-written step is PyTorch's rule that "
    "`backward()` fills every parameter's `.grad` before `step()` reads them, where the "
    "hand-written step applies each gradient as soon as it has it: on W4, where the "
    "weights dominate, weights plus gradients alone are 1.21x the hand-written peak.",
    "- Page faults: glibc returns the top of its heap to the system when more than 128 "
    "KiB is free there, and maps arrays over its (adaptive) mmap threshold one by one; "
    "whether a step pays for that depends on where its arrays happen to lie, so it "
    "differs between implementations, workloads and machines (a training step's freed "
    "gradients or temporaries are often exactly such a top). The fault table shows where "
    "it happened; the steady-allocator table shows the difference without it. Setting "
    "`MALLOC_TRIM_THRESHOLD_` and `MALLOC_MMAP_THRESHOLD_` as there is a harmless way for "
    "a user to avoid it.",
    "- On the large products (W3, and W2 with two threads) PyTorch's own BLAS (MKL) is "
    "faster than NumPy's OpenBLAS, so PyTorch beats the hand-written NumPy step itself "
    "there; an engine on NumPy can only be as fast as NumPy's BLAS.",
    "- Runs on a shared or busy machine spread widely (see the min–max); the ratios, "
    "taken round by round against the NumPy block of the same round, are steadier than "
    "the times.",
    "",
]


def _torch_table(res: dict[str, Any], t: int) -> list[str]:
    """tinygrad_bp over PyTorch eager, the median of the per-round ratios (the rounds
    time every implementation's block of a workload one after another)."""
    per = res.get("ratios_to_torch") or {}
    rows = [wl for wl in res["workloads"] if per.get(f"tinygrad_bp {t} {wl}")]
    if not rows:
        return []
    lines = [
        "",
        "tinygrad_bp over PyTorch eager (median of the per-round ratios; lower is better):",
        "",
        _row(["workload", "tinygrad_bp / PyTorch", "goal"]),
        _row(["---", "---:", "---:"]),
    ]
    for wl in rows:
        ratio = statistics.median(per[f"tinygrad_bp {t} {wl}"])
        goal = TORCH_GOALS.get(wl)
        mark = f"≤ {goal:.2f}x {'✓' if ratio <= goal else '✗'}" if goal else "—"
        lines.append(_row([wl, f"**{ratio:.2f}x**", mark]))
    return lines


def _steady_table(res: dict[str, Any], t: int) -> list[str]:
    env = " ".join(f"{k}={v}" for k, v in res["steady_env"].items())
    lines = [
        f"The same with a steady allocator (`{env}`: glibc keeps freed heap memory and "
        "serves every array from the heap, so neither side pays page faults that depend "
        "on where its arrays happen to lie); separate processes, same rounds:",
        "",
        _row(["workload", "hand NumPy", "tinygrad_bp", "ratio", "page faults/step (hand, tg)"]),
        _row(["---", "---:", "---:", "---:", "---:"]),
    ]
    for wl in res["workloads"]:
        a, b = f"numpy{STEADY} {t} {wl}", f"tinygrad_bp{STEADY} {t} {wl}"
        if a not in res["times"] or b not in res["times"]:
            continue
        ta, tb = res["times"][a], res["times"][b]
        ratio = statistics.median(res["ratios"][b])
        fa, fb = statistics.median(res["faults"][a]), statistics.median(res["faults"][b])
        lines.append(
            _row(
                [
                    wl,
                    f"{_ms(statistics.median(ta))} ms",
                    f"{_ms(statistics.median(tb))} ms",
                    f"**{ratio:.2f}x**",
                    f"{fa:.0f}, {fb:.0f}",
                ]
            )  # fmt: skip
        )
    lines.append("")
    return lines


def _memory_tables(res: dict[str, Any]) -> list[str]:
    lines = [
        "## Peak memory",
        "",
        f"Each implementation in a fresh process per workload ({res['memory_threads']} "
        "thread), after a throw-away run on W1 so that imports and lazily loaded code are "
        "not counted; from building the model out of the given arrays through 5 training "
        "steps (`measure_memory` in `tinygrad_bp/_bench_impls.py`). Ratio to hand NumPy in "
        "brackets.",
        "",
        "Peak of the memory traced by `tracemalloc`: NumPy reports its array buffers to it "
        "and Python objects are counted too, so this is weights, gradients, optimiser "
        "state, activations, graph objects and temporaries; the input batch is not counted. "
        "PyTorch allocates outside NumPy, so it is left out here:",
        "",
    ]
    names = res["impls"]
    traced_impls = [i for i in names if i != "torch"]
    lines += _mem_table(res, traced_impls, "traced")
    lines += [
        "",
        "Growth of the peak resident set size (the kernel's high-water mark, reset before "
        "building): sees PyTorch's allocations too, but is coarse, since the C allocator "
        "reuses memory it already holds; shown where hand NumPy's growth is at least 1 MiB:",
        "",
    ]
    lines += _mem_table(res, names, "rss")
    lines.append("")
    return lines


def _mem_table(res: dict[str, Any], names: list[str], kind: str) -> list[str]:
    titles = impls.IMPL_TITLES
    head = ["workload"] + [titles[i] for i in names]
    lines = [_row(head), _row(["---"] + ["---:"] * (len(head) - 1))]
    for wl in res["workloads"]:
        base = (res["memory"].get(f"numpy {wl}") or {}).get(kind)
        if kind == "rss" and (base is None or base < 2**20):
            continue
        row = [wl]
        for i in names:
            value = (res["memory"].get(f"{i} {wl}") or {}).get(kind)
            if value is None:
                row.append("—")
                continue
            cell = f"{value / 2**20:.2f} MiB"
            if base:
                cell += f" ({value / base:.2f}x)"
            row.append(cell)
        lines.append(_row(row))
    return lines


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


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
    parser.add_argument("--out", metavar="PATH", help="write the Markdown page here")
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
    page = render_markdown(results)
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
