"""``tinygrad-bp train``: the tutorial's training runs, on the engine.

The defaults reproduce the tutorial's notebook: Iris (shipped in the package) with every
feature standardised over the whole set, the 4 → 10 tanh → 5 tanh → 3 softmax network
with the tutorial's initialisation (``W ~ N(0, 0.1²)``, ``b = 0``), plain gradient
descent at learning rate 0.01 on the full batch for 2000 epochs.  ``--hidden ""`` is the
notebook's other model, the single softmax layer (multinomial logistic regression).

With ``--test-fraction`` a seeded stratified split is held out, and the features are
standardised with the training rows' statistics only.  ``--task regress`` trains the
same shapes with a linear output and the batch mean of ½‖ŷ − y‖² on the synthetic set of
:func:`tinygrad_bp.data.make_regression` (or on a CSV whose last column is the target).

Metrics are measured after each epoch's updates, on the whole training (and test) set.
The notebook recorded the accuracy of each epoch's forward pass, before that epoch's
update; the two curves differ by one epoch.

Everything is seeded: the weights are ``nn.mlp(sizes, rng=seed)``'s, the split uses
``seed`` and mini-batch shuffling a generator seeded from it, so a seed gives the same
weights, curves and summary every time.

Output (``--out FOLDER``): ``curves.png`` (loss and accuracy or R² per epoch),
``weights.npz`` (``Module.save``; load with ``nn.mlp(sizes).load(path)``),
``summary.json`` (settings, standardisation statistics, final metrics), ``history.csv``
``graph_forward.png``, ``graph_backward.png`` and, with ``--compare``, ``compare.txt``.
They are written into a temporary folder inside ``FOLDER`` and moved into place only when
everything succeeded (:class:`tinygrad_bp._output.RunFolder`), so a failed or interrupted
run leaves nothing behind.  A manifest in the folder records the files a run wrote: a
later run replaces those and never touches anything else, and a file of one of those names
that tinygrad-bp did not write is refused before any work.  The folder is locked while a
run writes into it; a second run waits a moment, then says which process holds it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import functional as F
from . import nn, optim
from ._output import RunFolder, seed_type
from .autograd import no_grad
from .compare import parse_hidden
from .data import (
    IRIS_CLASSES,
    batches,
    load_iris,
    make_regression,
    read_csv_dataset,
    read_csv_regression,
    standardize,
    train_test_split,
)
from .reference import HIDDEN_ACTIVATIONS
from .tensor import Tensor

__all__ = ["OPTIMIZERS", "TASKS", "TrainResult", "train", "configure", "main"]

OPTIMIZERS = ("sgd", "momentum", "adam")
TASKS = ("classify", "regress")
MOMENTUM = 0.9
REGRESSION_SAMPLES = 200  # make_regression(200, noise=0.05, seed=0) is the regression set


@dataclass
class TrainResult:
    """What :func:`train` returns: the trained model, per-epoch history, the summary
    written to ``summary.json``, and the output folder (or None)."""

    model: nn.Sequential
    history: dict[str, list[float]]
    summary: dict[str, Any]
    out: Path | None = None
    compare_ok: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- inputs
def _check_settings(
    activation: str,
    optimizer: str,
    task: str,
    lr: float,
    epochs: int,
    batch_size: int | None,
    test_fraction: float,
    init: str,
) -> None:
    if activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(
            f"train: unknown activation {activation!r}; expected one of {HIDDEN_ACTIVATIONS}"
        )
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"train: unknown optimizer {optimizer!r}; expected one of {OPTIMIZERS}")
    if task not in TASKS:
        raise ValueError(f"train: unknown task {task!r}; expected one of {TASKS}")
    if init not in nn.INITS:
        raise ValueError(f"train: unknown init {init!r}; expected one of {nn.INITS}")
    if (
        isinstance(lr, bool)
        or not isinstance(lr, (int, float))
        or not (lr > 0 and math.isfinite(lr))
    ):
        raise ValueError(f"train: lr must be a positive number, got {lr!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"train: epochs must be a positive integer, got {epochs!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 0
    ):
        raise ValueError(
            f"train: batch_size must be a positive integer (0 = full batch), got {batch_size!r}"
        )
    if not (isinstance(test_fraction, (int, float)) and 0.0 <= test_fraction < 1.0):
        raise ValueError(f"train: test_fraction must be in [0, 1), got {test_fraction!r}")


def _load_data(
    task: str, data: Any, num_classes: int | None
) -> tuple[np.ndarray, np.ndarray, list[str] | None, str]:
    """(X, y, class names or None, description)."""
    if data is None:
        if task == "classify":
            X, y = load_iris()
            classes: list[str] | None = list(IRIS_CLASSES)
            source = "Iris (shipped with the package)"
        else:
            X, y = make_regression(REGRESSION_SAMPLES, noise=0.05, seed=0)
            classes, source = None, f"make_regression({REGRESSION_SAMPLES}, noise=0.05, seed=0)"
    elif isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if task == "classify":
            X, y, classes = read_csv_dataset(path)
        else:
            X, y = read_csv_regression(path)
            classes = None
        source = path
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = np.asarray(data[0]), np.asarray(data[1])
        classes, source = None, "arrays"
    else:
        raise TypeError(
            f"train: data must be None, a CSV path or a pair (X, y), got {type(data).__name__}"
        )
    X = np.asarray(X)
    if X.dtype.kind not in "fiu" or X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            "train: X must be a non-empty 2-D numeric array (rows, features), got "
            f"shape {X.shape}, dtype {X.dtype}"
        )
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        raise ValueError("train: X holds NaN or infinite values")
    if len(y) != len(X):
        raise ValueError(f"train: X has {len(X)} rows but y has {len(y)}")
    if task == "classify":
        y = np.asarray(y)
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise ValueError(
                f"train: class labels must be a 1-D integer array, got {y.shape} {y.dtype}"
            )
        n_classes = (
            num_classes
            if num_classes is not None
            else (len(classes) if classes else int(y.max()) + 1)
        )
        if n_classes < 2:
            raise ValueError(f"train: classification needs at least 2 classes, got {n_classes}")
        if y.min() < 0 or y.max() >= n_classes:
            raise ValueError(
                f"train: labels out of range: expected 0..{n_classes - 1} for {n_classes} "
                f"classes, got values from {y.min()} to {y.max()}"
            )
        if classes is None or len(classes) != n_classes:
            classes = [str(i) for i in range(n_classes)]
        y = y.astype(np.int64)
    else:
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or not np.isfinite(y).all():
            raise ValueError(
                f"train: regression targets must be finite, shape (rows, targets), got {y.shape}"
            )
    return X, y, classes, source


# ---------------------------------------------------------------------- output folder
# Every file a run may write: checked against the folder before any work.
OUTPUT_FILES = (
    "summary.json",
    "weights.npz",
    "curves.png",
    "history.csv",
    "graph_forward.png",
    "graph_backward.png",
    "compare.txt",
)


def _check_memory(sizes: list[int], rows: int, optimizer: str) -> None:
    """Refuse a network that cannot fit in this machine's memory, before allocating it
    (NumPy would raise a MemoryError deep inside, or the machine would start to swap)."""
    params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    copies = 3 + {"sgd": 0, "momentum": 1, "adam": 2}.get(optimizer, 2)  # W, grad, temp, state
    need = 8 * (params * copies + rows * sum(sizes) * 4)
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if need > have:
        raise ValueError(
            f"train: the {'-'.join(map(str, sizes))} network has {params:.3g} parameters and "
            f"needs about {need / 2**30:,.0f} GiB (weights, gradients, optimizer state); "
            f"this machine has {have / 2**30:,.0f} GiB; choose smaller --hidden sizes"
        )


def _plot_curves(path: Path, history: dict[str, list[float]], task: str, title: str) -> None:
    # Figure + Agg canvas directly: no pyplot, so no global backend is changed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metric = "accuracy" if task == "classify" else "R²"
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    for split, style in (("train", "-"), ("test", "--")):
        if history.get(f"{split}_loss"):
            ax1.plot(epochs, history[f"{split}_loss"], style, label=split)
            ax2.plot(epochs, history[f"{split}_metric"], style, label=split)
    ax1.set(xlabel="epoch", ylabel="loss", title="loss")
    ax2.set(xlabel="epoch", ylabel=metric, title=metric)
    if task == "classify":
        ax2.set_ylim(0, 1.02)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)


def _draw_graphs(
    output: RunFolder, model: nn.Sequential, X: np.ndarray, y: Any, loss_fn: Any
) -> None:
    """The trained network's graph, forward and backward, on its first 4 training rows
    (few enough that the gradient values can be read in the picture)."""
    from . import viz

    loss = loss_fn(model(Tensor(X[:4])), y[:4])
    viz.draw_graph(loss, model=model).save(output.path("graph_forward.png"))
    viz.draw_graph(loss, backward=True, model=model).save(output.path("graph_backward.png"))


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------- training
def _evaluate(model: nn.Sequential, X: Tensor, y: np.ndarray, task: str) -> tuple[float, float]:
    """(loss, accuracy or R²) on a whole set, without recording a graph."""
    with no_grad():
        out = model(X)
        if task == "classify":
            loss = float(F.cross_entropy(out, y).data)
            metric = float((out.data.argmax(axis=1) == y).mean())
        else:
            loss = float(F.half_squared_error(out, y).data)
            resid = ((out.data - y) ** 2).sum()
            total = ((y - y.mean(axis=0)) ** 2).sum()
            metric = float(1.0 - resid / total) if total > 0 else float("nan")
    return loss, metric


def _progress(total: int, disable: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="train", unit="epoch", disable=disable, leave=False)


def train(
    hidden: Sequence[int] | str = (10, 5),
    activation: str = "tanh",
    lr: float = 0.01,
    epochs: int = 2000,
    batch_size: int | None = None,
    optimizer: str = "sgd",
    seed: int = 0,
    task: str = "classify",
    test_fraction: float = 0.0,
    out: str | os.PathLike[str] | None = None,
    data: Any = None,
    init: str = "tutorial",
    num_classes: int | None = None,
    progress: bool = False,
    compare_after: bool = False,
) -> TrainResult:
    """Train the tutorial's network; optionally write curves, weights and a summary.

    Parameters
    ----------
    hidden : hidden sizes, e.g. ``(10, 5)`` (the default, the tutorial's) or ``()`` for the
        single output layer; a string ``"10,5"`` is accepted.
    activation : hidden activation, ``"sigmoid"``, ``"tanh"`` or ``"relu"``.
    lr, epochs : learning rate and number of passes over the training set.
    batch_size : rows per step; ``None`` or 0 for the full batch (the tutorial's).
    optimizer : ``"sgd"`` (plain, the tutorial's), ``"momentum"`` (SGD, momentum 0.9) or
        ``"adam"``.
    seed : seeds the weights, the split and the mini-batch order.
    task : ``"classify"`` (softmax + mean cross-entropy) or ``"regress"`` (linear output
        + mean of ½‖ŷ − y‖²).
    test_fraction : fraction held out (stratified for classification); 0 trains on all.
    out : folder to write ``curves.png``, ``weights.npz``, ``summary.json``,
        ``history.csv`` (and ``compare.txt``) into, atomically; None writes nothing.
    data : None (Iris, or the synthetic regression set), a CSV path (numeric feature
        columns, the label or target last, a header row), or a pair ``(X, y)``.
    init : ``"tutorial"`` (default), ``"xavier"``, ``"he"`` or ``"auto"``.
    num_classes : output width for ``(X, y)`` data whose labels do not show every class.
    progress : show a tqdm progress bar with the loss and accuracy.
    compare_after : also check the trained network's gradients with
        :func:`tinygrad_bp.compare.compare` (its sizes, activation, task, trained weights
        and training rows) and write the report to ``compare.txt``.

    Examples
    --------
    >>> from tinygrad_bp.train import train
    >>> r = train(hidden=(), epochs=50)
    >>> r.summary["sizes"], r.summary["final"]["train_accuracy"] > 0.7
    ([4, 3], True)
    """
    hidden = parse_hidden(hidden)
    batch_size = None if batch_size in (None, 0) else batch_size
    _check_settings(activation, optimizer, task, lr, epochs, batch_size, test_fraction, init)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"train: seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    args = (
        hidden, activation, float(lr), int(epochs), batch_size, optimizer, seed, task,
        float(test_fraction),
    )  # fmt: skip
    if out is None:
        return _train(*args, None, data, init, num_classes, progress, compare_after)
    run = RunFolder(out, "train")  # refuses a file or an unwritable path at once
    with run:  # locked; removed again unless committed
        # before any work: no file of the user's is ever overwritten
        run.check([f for f in OUTPUT_FILES if compare_after or f != "compare.txt"])
        result = _train(*args, run, data, init, num_classes, progress, compare_after)
        run.commit()
    result.out = Path(out)
    return result


def _train(
    hidden: tuple[int, ...],
    activation: str,
    lr: float,
    epochs: int,
    batch_size: int | None,
    optimizer: str,
    seed: int,
    task: str,
    test_fraction: float,
    output: RunFolder | None,
    data: Any,
    init: str,
    num_classes: int | None,
    progress: bool,
    compare_after: bool,
) -> TrainResult:
    X, y, classes, source = _load_data(task, data, num_classes)
    X_tr, y_tr, X_te, y_te = train_test_split(X, y, test_fraction, seed=seed)
    if test_fraction > 0:  # statistics of the training rows only
        Z_tr, mean, std = standardize(X_tr)
        Z_te, _, _ = standardize(X_te, mean, std)
    else:  # the notebook: the whole set
        Z_tr, mean, std = standardize(X_tr)
        Z_te = Z_tr[:0]
    n_out = len(classes) if task == "classify" else y.shape[1]  # type: ignore[arg-type]
    sizes = [X.shape[1], *hidden, n_out]
    _check_memory(sizes, len(Z_tr) if batch_size is None else min(batch_size, len(Z_tr)), optimizer)
    model = nn.mlp(sizes, activation=activation, init=init, rng=seed)
    params = model.parameters()
    if optimizer == "sgd":
        opt: optim.Optimizer = optim.SGD(params, lr=lr)
    elif optimizer == "momentum":
        opt = optim.SGD(params, lr=lr, momentum=MOMENTUM)
    else:
        opt = optim.Adam(params, lr=lr)
    loss_fn = F.cross_entropy if task == "classify" else F.half_squared_error
    shuffle = np.random.default_rng([seed, 1])
    has_test = len(Z_te) > 0
    T_tr, T_te = Tensor(Z_tr), Tensor(Z_te)
    history: dict[str, list[float]] = {"train_loss": [], "train_metric": []}
    if has_test:
        history.update(test_loss=[], test_metric=[])
    metric = "accuracy" if task == "classify" else "r2"

    start = time.perf_counter()
    bar = _progress(epochs, disable=not progress)
    try:
        # A diverging run is reported once, below, instead of as NumPy overflow warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(epochs):
                for xb, yb in batches(Z_tr, y_tr, batch_size, shuffle):
                    opt.zero_grad()
                    loss = loss_fn(model(Tensor(xb)), yb)
                    loss.backward()
                    opt.step()
                tl, tm = _evaluate(model, T_tr, y_tr, task)
                if not math.isfinite(tl):
                    raise RuntimeError(
                        f"train: the loss became {tl} at epoch {epoch + 1}; lower the learning "
                        f"rate (lr={lr})"
                    )
                history["train_loss"].append(tl)
                history["train_metric"].append(tm)
                if has_test:
                    el, em = _evaluate(model, T_te, y_te, task)
                    history["test_loss"].append(el)
                    history["test_metric"].append(em)
                bar.update(1)
                if epoch % 10 == 9 or epoch == epochs - 1:
                    bar.set_postfix({"loss": f"{tl:.4f}", metric: f"{tm:.3f}"}, refresh=False)
    finally:
        bar.close()
    seconds = time.perf_counter() - start

    final = {
        "train_loss": history["train_loss"][-1],
        f"train_{'accuracy' if task == 'classify' else 'r2'}": history["train_metric"][-1],
        "test_loss": history["test_loss"][-1] if has_test else None,
        f"test_{'accuracy' if task == 'classify' else 'r2'}": (
            history["test_metric"][-1] if has_test else None
        ),
    }
    from . import __version__

    summary: dict[str, Any] = {
        "task": task,
        "data": source,
        "classes": classes,
        "n_train": int(len(Z_tr)),
        "n_test": int(len(Z_te)),
        "sizes": sizes,
        "activation": activation if hidden else None,
        "output": "softmax + mean cross-entropy"
        if task == "classify"
        else "linear + mean of 1/2 squared error",
        "init": init,
        "optimizer": optimizer,
        "momentum": MOMENTUM if optimizer == "momentum" else None,
        "lr": lr,
        "epochs": epochs,
        "batch_size": batch_size if batch_size is not None else "full",
        "seed": seed,
        "test_fraction": test_fraction,
        "standardize": {
            "statistics_of": "training rows" if test_fraction > 0 else "whole data set",
            "mean": np.asarray(mean).tolist(),
            "std": np.asarray(std).tolist(),
        },
        "final": final,
        "tinygrad_bp_version": __version__,
    }
    result = TrainResult(model=model, history=history, summary=summary)
    result.extra["seconds"] = seconds

    report = None
    if compare_after:
        from .compare import Trained, compare, format_report

        # The network that was trained: its sizes, activation, task, trained weights and
        # (a sample of) its training rows; not a fresh Iris 4-10-5-3.
        trained = Trained(model.state_dict(), Z_tr, y_tr, f"{source}, training rows")
        cmp = compare(
            hidden=hidden, activations=activation, tasks=task, batch_size=min(150, len(Z_tr)),
            seed=seed, init=init, lr=lr, trained=trained,
        )  # fmt: skip
        result.compare_ok = cmp.ok
        summary["compare"] = cmp.summary()
        report = format_report(cmp)
        result.extra["compare_report"] = report

    if output is not None:
        files = ["summary.json", "weights.npz", "curves.png", "history.csv"]
        files += ["graph_forward.png", "graph_backward.png"]
        if report is not None:
            files.append("compare.txt")
        summary["files"] = files
        model.save(output.path("weights.npz"), metadata={"task": task})
        _draw_graphs(output, model, Z_tr, y_tr, loss_fn)
        label = "no hidden layer" if not hidden else f"{activation} hidden layers"
        title = (
            f"{task}: {'-'.join(map(str, sizes))} ({label}), {optimizer} lr {lr:g}, "
            f"batch {summary['batch_size']}, seed {seed}"
        )
        _plot_curves(output.path("curves.png"), history, task, title)
        with open(output.path("history.csv"), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            keys = list(history)
            w.writerow(["epoch", *[k.replace("metric", metric) for k in keys]])
            for i in range(epochs):
                w.writerow([i + 1, *[repr(history[k][i]) for k in keys]])
        if report is not None:
            output.path("compare.txt").write_text(report + "\n", encoding="utf-8")
        _write_json(output.path("summary.json"), summary)  # last: marks the run complete
    return result


# ---------------------------------------------------------------------- command line
def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tinygrad-bp train``."""
    parser.epilog = (
        "Exit status: 0 on success, 1 when --compare found a difference above its "
        "tolerance, 2 on bad input (nothing is written then)."
    )
    parser.add_argument(
        "--hidden",
        default="10,5",
        help="hidden layer sizes: '10,5' (the tutorial's 4-10-5-3, default) or '' for the "
        "notebook's single softmax layer",
    )
    parser.add_argument(
        "--activation",
        default="tanh",
        choices=HIDDEN_ACTIVATIONS,
        help="hidden activation (default tanh)",
    )
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    parser.add_argument("--epochs", type=int, default=2000, help="epochs (default 2000)")
    parser.add_argument(
        "--batch-size", type=int, default=0, help="rows per step; 0 = full batch (default)"
    )
    parser.add_argument(
        "--optimizer",
        default="sgd",
        choices=OPTIMIZERS,
        help="sgd (default), momentum (0.9) or adam",
    )
    parser.add_argument(
        "--seed", type=seed_type, default=0, help="seed for weights, split and batches (default 0)"
    )
    parser.add_argument(
        "--task", default="classify", choices=TASKS, help="classify (Iris, default) or regress"
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.0,
        help="fraction held out for testing (default 0: train on all, as the notebook)",
    )
    parser.add_argument(
        "--init",
        default="tutorial",
        choices=list(nn.INITS),
        help="weight init (default tutorial: N(0, 0.1²), zero bias)",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="a CSV to train on instead (header row; numeric features; the label, or the "
        "regression target, in the last column)",
    )
    parser.add_argument(
        "--out", default=None, help="folder for curves.png, weights.npz, summary.json, history.csv"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="then check the trained network's gradients as `tinygrad-bp compare` does "
        "(engine vs hand-written vs finite differences; report in compare.txt)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="print nothing but errors: no progress bar, no summary (the exit status tells)",
    )


def main(args: argparse.Namespace) -> int:
    """Train, print the final metrics; 1 if ``--compare`` found a difference, else 0."""
    result = train(
        hidden=args.hidden,
        activation=args.activation,
        lr=args.lr,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        seed=args.seed,
        task=args.task,
        test_fraction=args.test_fraction,
        out=args.out,
        data=args.data,
        init=args.init,
        progress=not args.quiet and sys.stderr.isatty(),
        compare_after=args.compare,
    )
    if args.quiet:
        return 0 if result.compare_ok in (None, True) else 1
    s = result.summary
    fin = s["final"]
    name = "accuracy" if s["task"] == "classify" else "r2"
    print(
        f"trained {'-'.join(map(str, s['sizes']))} on {s['data']}: {s['epochs']} epochs, "
        f"{s['optimizer']} lr {s['lr']:g}, batch {s['batch_size']}, seed {s['seed']} "
        f"({result.extra['seconds']:.1f} s)"
    )
    line = f"final train loss {fin['train_loss']:.4f}, train {name} {fin[f'train_{name}']:.4f}"
    if fin["test_loss"] is not None:
        line += f"; test loss {fin['test_loss']:.4f}, test {name} {fin[f'test_{name}']:.4f}"
    print(line)
    if result.compare_ok is not None:
        report = result.extra["compare_report"]
        print(report[report.index("maxima over") :])
    if result.out is not None:
        print(f"wrote {', '.join(s['files'])} to {result.out}")
    return 0 if result.compare_ok in (None, True) else 1
