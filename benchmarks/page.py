"""The benchmarks page (docs/benchmarks.md): the bench's measurements, with the peers and
the goals, as Markdown.

    python benchmarks/run.py --threads 1 2 --out docs/benchmarks.md

:func:`render_markdown` turns :func:`tinygrad_bp.commands.bench.run`'s results into the
page; :data:`GOALS` are the engine's targets, as ratios to hand NumPy.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Sequence
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinygrad_bp.commands import _bench_impls as impls  # noqa: E402
from tinygrad_bp.commands.bench import STEADY, THREAD_VARS, TOLERANCE, _ms  # noqa: E402

# The engine's goal on each workload, as a ratio to hand NumPy at each thread count (issue 5
# set W1-W4; W5, W6 and W7, the CNN, the LSTM and the transformer, were added later).
GOALS = {"W1": 1.5, "W2": 1.10, "W3": 1.05, "W4": 1.5, "W5": 2.0, "W6": 2.0, "W7": 2.0}
# Issue 24's goals for the models, as a ratio to PyTorch eager (the same rounds).
TORCH_GOALS = {"W5": 0.6, "W6": 1.0, "W7": 1.0}
REPRODUCE = "python benchmarks/run.py --threads 1 2 --out docs/benchmarks.md"


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
    # The command that made this page (set by benchmarks/run.py); the standard one when
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
        "and loss. Source: `tinygrad_bp/commands/_bench_impls.py` (tinygrad_bp, hand NumPy, "
        "tutorial) and `benchmarks/peers.py` (the peers).",
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
    "gradients or temporaries are often exactly such a top). Importing tinygrad_bp raises "
    "both thresholds with `mallopt` (glibc only; `TINYGRAD_BP_MALLOC=default` opts out), "
    "so its step reuses memory instead; the peers run with glibc's defaults, as they "
    "would without tinygrad_bp in the process. The fault table shows where it happened; "
    "the steady-allocator table runs hand NumPy with the same thresholds.",
    "- W7's check runs in float64: the key bias gets an exactly-zero gradient (it moves a "
    "whole softmax row alike), and AdamW turns float32 rounding noise there into steps of "
    "±lr in every implementation.",
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
        "thread), after a throw-away run of two steps on the same workload (every library "
        "and lazily loaded module it uses is loaded before the mark is reset; its freed "
        "heap is handed back with `malloc_trim`); from building the model out of the given "
        "arrays through 5 training steps (`measure_memory` in "
        "`tinygrad_bp/commands/_bench_impls.py`); the median of "
        f"{res.get('memory_runs', 1)} such process(es). Ratio to hand NumPy in brackets.",
        "The `tg.compile` column counts its one-time tracing too: within those 5 steps its "
        "first call runs eagerly and the next two are traced and verified, holding every "
        "intermediate array of two steps; its replays then write into buffers allocated "
        "once (see docs/compile.md).",
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
