"""The model results of issue 11, measured: run one, or write the docs page from all runs.

    python benchmarks/model_results.py cnn            # digits CNN, and its PyTorch twin
    python benchmarks/model_results.py mlp            # names: Bengio MLP
    python benchmarks/model_results.py lstm           # names: LSTM
    python benchmarks/model_results.py transformer    # names: transformer vs its PyTorch twin
    python benchmarks/model_results.py docs           # docs/results.md from the runs' JSON

Each run pins BLAS to one thread, trains in float32 with the seed given, writes
``benchmarks/results/models/<run>.json`` (command, seed, wall time, result, loss curve,
sampled names) and prints a summary.  The PyTorch twins are built here from the same
description (they are not makemore's code), get the same initial weights (copied) and the
same batches, and are timed in the same process, in alternating blocks of steps, so that
the time-per-step ratio sees the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from tinygrad_bp import optim  # noqa: E402
from tinygrad_bp.commands import models  # noqa: E402

OUT_DIR = os.path.join(HERE, "results", "models")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
for var, name in (("TINYGRAD_BP_DIGITS", "digits.csv.gz"), ("TINYGRAD_BP_NAMES", "names.txt")):
    if os.path.exists(os.path.join(SHARED, name)):
        os.environ.setdefault(var, os.path.join(SHARED, name))


def _pin_threads() -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass


def _torch():
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    return torch


def _copy_into_torch(ours: Any, twin: Any) -> None:
    """Copy our parameters into the twin, by name (the twins use the same names)."""
    torch = sys.modules["torch"]
    theirs = dict(twin.named_parameters())
    mine = dict(ours.named_parameters())
    if set(theirs) != set(mine):
        raise RuntimeError(f"twin names differ: {sorted(set(theirs) ^ set(mine))}")
    with torch.no_grad():
        for name, p in theirs.items():
            if tuple(p.shape) != mine[name].shape:
                raise RuntimeError(f"{name}: {tuple(p.shape)} vs {mine[name].shape}")
            p.copy_(torch.from_numpy(np.ascontiguousarray(mine[name].data)))


TAG = ""


def _save(name: str, record: dict[str, Any], quiet: bool = False) -> None:
    if TAG:
        name = f"{name}_{TAG}"
        record["run"] = f"{record['run']} ({TAG})"
    os.makedirs(OUT_DIR, exist_ok=True)
    record["machine"] = (
        f"{platform.machine()}, Python {platform.python_version()}, NumPy {np.__version__}"
    )
    record["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    path = os.path.join(OUT_DIR, f"{name}.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, path)
    if not quiet:
        print(f"wrote {os.path.relpath(path, ROOT)}")


# ---------------------------------------------------------------- digits CNN
def torch_cnn():
    torch = _torch()
    nn = torch.nn

    class Twin(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.Conv2d(1, 16, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(128, 10),
            )

        def forward(self, x):
            return self.net(x)

    return Twin()


def run_cnn(args: argparse.Namespace) -> None:
    torch = _torch()
    task = models.load_task("digits", "cnn", seed=0)
    steps, bs, lr, ls = args.steps or 1200, 64, 5e-3, 0.1
    batches = models.batch_indices(task, steps, bs, seed=args.seed)
    model = models.build("digits", "cnn", seed=args.seed, dtype=np.float32)
    twin = torch_cnn()
    _copy_into_torch(model, twin)
    opt = optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    lr_at = models.cosine(lr, steps)
    c0 = time.process_time()
    hist = models.fit(model, task, opt, steps, bs, batches=batches, label_smoothing=ls, lr_at=lr_at)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    acc = models.evaluate(model, task)
    # the twin: same weights, same batches, same optimizer
    topt = torch.optim.Adam(twin.parameters(), lr=lr)
    X = torch.from_numpy(task.X_train.astype(np.float32))
    Y = torch.from_numpy(task.y_train)
    tl = []
    t1, c1 = time.perf_counter(), time.process_time()
    for step, ix in enumerate(batches):
        for group in topt.param_groups:
            group["lr"] = lr_at(step)
        ix = torch.from_numpy(ix)
        loss = torch.nn.functional.cross_entropy(twin(X[ix]), Y[ix], label_smoothing=ls)
        topt.zero_grad()
        loss.backward()
        topt.step()
        tl.append(loss.item())
    twall, tcpu = time.perf_counter() - t1, time.process_time() - c1
    with torch.no_grad():
        tpred = twin(torch.from_numpy(task.X_test.astype(np.float32))).argmax(1).numpy()
    tacc = float((tpred == task.y_test).mean())
    rec = {
        "run": "digits CNN",
        "command": "python benchmarks/model_results.py cnn",
        "seed": args.seed,
        "config": f"Adam lr {lr} cosine-annealed to 0, label smoothing {ls}, batch {bs}, "
        f"{steps} steps ({steps * bs / len(task.y_train):.1f} epochs), inputs standardised, "
        "float32, 1 thread",
        "train/test": f"{len(task.y_train)}/{len(task.y_test)} (stratified 20 %, seed 0)",
        "wall_s": wall,
        "cpu_s": cpu,
        "test_accuracy": acc,
        "torch_wall_s": twall,
        "torch_cpu_s": tcpu,
        "torch_test_accuracy": tacc,
        "loss_first_last": [hist["losses"][0], hist["losses"][-1]],
        "torch_loss_first_last": [tl[0], tl[-1]],
        "max_loss_gap": float(np.max(np.abs(np.array(hist["losses"]) - np.array(tl)))),
    }
    print(json.dumps(rec, indent=1))
    _save("cnn", rec)


# ---------------------------------------------------------------- names
def _names_run(
    kind: str, args: argparse.Namespace, steps: int, bs: int, lr_at: Any, make_opt: Any, config: str
) -> None:
    task = models.load_task("names", kind, seed=0)
    model = models.build("names", kind, seed=args.seed, dtype=np.float32, task=task)
    opt = make_opt(model.parameters())
    batches = models.batch_indices(task, steps, bs, seed=args.seed)
    curve = []
    t0, c0 = time.perf_counter(), time.process_time()
    every = max(steps // 10, 1)
    for start in range(0, steps, every):
        for group in opt.param_groups:
            group["lr"] = lr_at(start)
        chunk = batches[start : start + every]
        models.fit(model, task, opt, len(chunk), bs, batches=chunk)
        elapsed = time.perf_counter() - t0
        test = models.evaluate(model, task)
        curve.append([start + len(chunk), round(elapsed, 1), test])
        print(f"{kind}: step {start + len(chunk)}  {elapsed:.0f} s  test {test:.4f}", flush=True)
        if start + every < steps:  # a partial record, replaced by the final one
            _save(
                kind,
                {
                    "run": f"names {kind}",
                    "partial": True,
                    "curve": curve,
                    "cpu_s": time.process_time() - c0,
                    "wall_s": elapsed,
                    "steps_planned": steps,
                    "config": config,
                    "seed": args.seed,
                    "command": f"python benchmarks/model_results.py {kind}",
                    "test_loss": test,
                },
                quiet=True,
            )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rec = {
        "run": f"names {kind}",
        "command": f"python benchmarks/model_results.py {kind}",
        "seed": args.seed,
        "config": config,
        "train/test names": f"{len(task.info['train_names'])}/{len(task.info['test_names'])} (10 % held out, seed 0)",  # noqa: E501
        "wall_s": wall,
        "cpu_s": cpu,
        "test_loss": curve[-1][2],
        "train_loss": models.evaluate(model, task, split="train", batch=4096)
        if kind != "mlp"
        else None,
        "curve": curve,
        "samples": models.sample_names(model, task, 20, seed=args.seed),
    }
    print(json.dumps(rec, indent=1))
    _save(kind, rec)


def run_mlp(args: argparse.Namespace) -> None:
    steps = args.steps or 20000
    _names_run(
        "mlp",
        args,
        steps,
        256,
        lambda s: 3e-3 if s < 0.75 * steps else 3e-4,
        lambda ps: optim.AdamW(ps, lr=3e-3, weight_decay=0.01),
        f"embedding 24 x 3 chars, tanh 256, AdamW lr 3e-3 (3e-4 for the last quarter), wd 0.01, batch 256, {steps} steps, float32",  # noqa: E501
    )


def run_lstm(args: argparse.Namespace) -> None:
    steps = args.steps or 8000
    _names_run(
        "lstm",
        args,
        steps,
        64,
        lambda s: 3e-3 if s < 0.75 * steps else 3e-4,
        lambda ps: optim.AdamW(ps, lr=3e-3, weight_decay=0.01),
        f"Embedding(27,32) - LSTM(128) - Linear(128,27), AdamW lr 3e-3 (3e-4 for the last quarter), wd 0.01, batch 64, {steps} steps, float32",  # noqa: E501
    )


def torch_transformer(block_size: int) -> Any:
    """The PyTorch twin: the one the bench's W7 uses (``benchmarks/peers.py``)."""
    import peers  # (beside this script)

    return peers.torch_transformer(_torch(), block_size)


def run_transformer(args: argparse.Namespace) -> None:
    torch = _torch()
    task = models.load_task("names", "transformer", seed=0)
    steps, bs, lr = args.steps or 5000, 32, 5e-4
    model = models.build("names", "transformer", seed=args.seed, dtype=np.float32, task=task)
    twin = torch_transformer(task.block_size)
    _copy_into_torch(model, twin)
    opt = optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01)
    topt = torch.optim.AdamW(
        twin.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01
    )
    batches = models.batch_indices(task, steps, bs, seed=args.seed)
    X, Y = torch.from_numpy(task.X_train), torch.from_numpy(task.y_train)
    Xte, Yte = torch.from_numpy(task.X_test), torch.from_numpy(task.y_test)

    def torch_eval() -> float:
        twin.eval()
        with torch.no_grad():
            tot, cnt = 0.0, 0
            for i in range(0, len(Xte), 1024):
                y = Yte[i : i + 1024].reshape(-1)
                tot += F_ce(twin(Xte[i : i + 1024]), y, reduction="sum").item()
                cnt += int((y >= 0).sum())
        twin.train()
        return tot / cnt

    F_ce = lambda z, y, reduction="mean": torch.nn.functional.cross_entropy(  # noqa: E731
        z, y, ignore_index=-1, reduction=reduction
    )
    ours_s = theirs_s = ours_cpu = theirs_cpu = 0.0
    curve = []
    every = args.every or 500
    for start in range(0, steps, every):
        chunk = batches[start : start + every]
        c1 = time.process_time()
        h = models.fit(model, task, opt, len(chunk), bs, batches=chunk)
        ours_cpu += time.process_time() - c1
        ours_s += h["seconds"]
        t1, c1 = time.perf_counter(), time.process_time()
        for ix in chunk:
            ix = torch.from_numpy(ix)
            loss = F_ce(twin(X[ix]), Y[ix].reshape(-1))
            topt.zero_grad()
            loss.backward()
            topt.step()
        theirs_s += time.perf_counter() - t1
        theirs_cpu += time.process_time() - c1
        done = start + len(chunk)
        ours_test, theirs_test = models.evaluate(model, task), torch_eval()
        curve.append([done, ours_test, theirs_test, h["losses"][-1], loss.item()])
        if done < steps:  # a partial record, replaced by the final one
            _save(
                "transformer",
                {
                    "run": "names transformer vs PyTorch twin",
                    "partial": True,
                    "curve": curve,
                    "cpu_s": ours_cpu,
                    "torch_cpu_s": theirs_cpu,
                    "wall_s": ours_s,
                    "torch_wall_s": theirs_s,
                    "steps_planned": steps,
                    "seed": args.seed,
                    "command": "python benchmarks/model_results.py transformer",
                },
                quiet=True,
            )
        print(
            f"transformer: step {done}  ours {ours_test:.4f} ({ours_s:.0f} s)  "
            f"PyTorch {theirs_test:.4f} ({theirs_s:.0f} s)  CPU {ours_cpu:.0f} s / "
            f"{theirs_cpu:.0f} s",
            flush=True,
        )
    rec = {
        "run": "names transformer vs PyTorch twin",
        "command": "python benchmarks/model_results.py transformer",
        "seed": args.seed,
        "config": f"4 layers, 4 heads, 64 channels, block {task.block_size}, AdamW lr {lr} betas (0.9, 0.99) wd 0.01, batch {bs}, {steps} steps, float32, 1 thread",  # noqa: E501
        "wall_s": ours_s,
        "torch_wall_s": theirs_s,
        "cpu_s": ours_cpu,
        "torch_cpu_s": theirs_cpu,
        "ms_per_step": 1000 * ours_cpu / steps,
        "torch_ms_per_step": 1000 * theirs_cpu / steps,
        "time_ratio": ours_cpu / theirs_cpu,
        "wall_ratio": ours_s / theirs_s,
        "test_loss": curve[-1][1],
        "torch_test_loss": curve[-1][2],
        "max_test_gap": max(abs(c[1] - c[2]) for c in curve),
        "curve": curve,
        "samples": models.sample_names(model, task, 20, seed=args.seed),
    }
    print(json.dumps(rec, indent=1))
    _save("transformer", rec)


# ---------------------------------------------------------------- the page
def _secs(r: dict[str, Any], key: str) -> str:
    return f"{r[key]:.0f} s" if r.get(key) is not None else "not recorded"


def write_docs(args: argparse.Namespace) -> None:
    recs = {}
    order = ("cnn", "mlp", "lstm", "transformer")
    files = sorted(
        (f[:-5] for f in os.listdir(OUT_DIR) if f.endswith(".json")),
        key=lambda n: (order.index(n.split("_")[0]) if n.split("_")[0] in order else 9, n),
    )
    for name in files:
        with open(os.path.join(OUT_DIR, f"{name}.json")) as f:
            recs[name] = json.load(f)
    lines = [
        "# Model results",
        "",
        "Made by `python benchmarks/model_results.py docs` from the runs' records in",
        "`benchmarks/results/models/`; each run below names the command that made it. One",
        "thread (BLAS pinned), float32, on a 2-core machine shared with other jobs (load",
        "average ~9 during these runs, which ran under `nice -n 10`), so wall times are far",
        "above the CPU time the process itself used; both are given where recorded (the wall",
        "time bounds the CPU time). The time-per-step ratio of the transformer is taken from",
        "CPU time, measured for both engines in the same process, in alternating blocks of",
        "steps. A run marked *partial* had not reached its last step when the page was made;",
        "its figures are those of its last checkpoint.",
        "",
        "| run | result | target | time | seed |",
        "|---|---|---|---|---|",
    ]
    for name, r in recs.items():
        part = ""
        if r.get("partial"):
            part = f" *partial: step {r['curve'][-1][0]} of {r['steps_planned']}*"
        t = f"{_secs(r, 'cpu_s')} CPU, {_secs(r, 'wall_s')} wall"
        kind = name.split("_")[0]
        if kind == "cnn":
            res = (
                f"{100 * r['test_accuracy']:.2f} % held out (PyTorch twin "
                f"{100 * r['torch_test_accuracy']:.2f} %)"
            )
            target = "≥ 98 % in < 2 min; twin within 0.5 %"
            t += f" (PyTorch {_secs(r, 'torch_cpu_s')} CPU)"
        elif kind == "transformer":
            last = r["curve"][-1]
            res = f"{last[1]:.4f} nats/char (PyTorch twin {last[2]:.4f})"
            target = "≤ 2.05 in ≤ 15 min; twin within 0.02"
            steps = last[0]
            ratio = r["cpu_s"] / r["torch_cpu_s"]
            t += (
                f"; {1000 * r['cpu_s'] / steps:.1f} ms/step vs PyTorch "
                f"{1000 * r['torch_cpu_s'] / steps:.1f}: ratio {ratio:.2f}"
            )
        else:
            res = f"{r['test_loss']:.4f} nats/char (test)"
            target = ("≤ 2.20" if kind == "mlp" else "≤ 2.05") + " in ≤ 15 min"
        lines.append(f"| {r['run']}{part} | {res} | {target} | {t} | {r['seed']} |")
    for name, r in recs.items():
        lines += [
            "",
            f"## {r['run']}",
            "",
            f"- command: `{r['command']}` (seed {r['seed']})",
        ]
        if r.get("config"):
            lines.append(f"- setup: {r['config']}")
        if r.get("date"):
            lines.append(f"- measured: {r['date']}, {r['machine']}")
        if name.startswith("cnn"):
            lines.append(
                f"- largest gap between the two training-loss curves (same weights, same "
                f"batches, float32): {r['max_loss_gap']:.2e}"
            )
        if "curve" in r:
            if name.startswith("transformer"):
                lines += [
                    "",
                    "| step | tinygrad_bp test loss | PyTorch twin test loss |",
                    "|---|---|---|",
                ]
                lines += [f"| {c[0]} | {c[1]:.4f} | {c[2]:.4f} |" for c in r["curve"]]
                gap = max(abs(c[1] - c[2]) for c in r["curve"])
                lines.append(f"\nLargest gap at a checkpoint: {gap:.4f}.")
            else:
                lines += ["", "| step | wall seconds | test loss |", "|---|---|---|"]
                lines += [f"| {c[0]} | {c[1]:.0f} | {c[2]:.4f} |" for c in r["curve"]]
        if "samples" in r:
            lines += ["", "Sampled names: " + ", ".join(r["samples"])]
    path = os.path.join(ROOT, "docs", "results.md")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    print(f"wrote {os.path.relpath(path, ROOT)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", choices=["cnn", "mlp", "lstm", "transformer", "docs"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=0, help="override the run's step count")
    p.add_argument("--every", type=int, default=0, help="transformer: steps per block")
    p.add_argument("--tag", default="", help="record as <run>_<tag>.json")
    args = p.parse_args()
    global TAG
    TAG = args.tag
    _pin_threads()
    {
        "cnn": run_cnn,
        "mlp": run_mlp,
        "lstm": run_lstm,
        "transformer": run_transformer,
        "docs": write_docs,
    }[args.run](args)


if __name__ == "__main__":
    main()
