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

``--data digits|names --model ...`` (:func:`train_model`) trains the later chapters' models
of :mod:`tinygrad_bp.commands.models` (digits: ``mlp``, ``cnn``; names: ``mlp``, ``lstm``,
``transformer``) with the settings of ``benchmarks/model_results.py`` that reached the
results in docs/results.md, through the same output folder; their folder gets
``graph.png`` (the collapsed graph) instead of the two graph pictures, and, for names,
``samples.txt``.

Everything is seeded: the weights are ``nn.mlp(sizes, rng=seed)``'s, the split uses
``seed`` and mini-batch shuffling a generator seeded from it, so a seed gives the same
weights, curves and summary every time.

Output (``--out FOLDER``): ``curves.png`` (loss and accuracy or R² per epoch),
``weights.npz`` (``Module.save``; load with ``nn.mlp(sizes).load(path)``),
``summary.json`` (settings, standardisation statistics, final metrics), ``history.csv``
``graph_forward.png``, ``graph_backward.png`` (the trained network on its first 4
training rows, as their titles say) and, with ``--compare``, ``compare.txt``.
They are written into a temporary folder inside ``FOLDER`` and moved into place only when
everything succeeded (:class:`tinygrad_bp.commands._output.RunFolder`), so a failed or interrupted
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

from .. import functional as F
from .. import nn, optim
from ..autograd import no_grad
from ..data import (
    IRIS_CLASSES,
    load_iris,
    make_regression,
    read_csv_dataset,
    read_csv_regression,
    standardize,
    train_test_split,
)
from ..reference import HIDDEN_ACTIVATIONS
from ..tensor import Tensor
from . import _parallel
from ._output import RunFolder, seed_type
from .compare import parse_hidden

__all__ = [
    "OPTIMIZERS", "TASKS", "TrainResult", "train", "train_model", "MODEL_DEFAULTS",
    "configure", "main",
]  # fmt: skip

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
def _lr(lr: Any) -> float:
    if (
        isinstance(lr, bool)
        or not isinstance(lr, (int, float))
        or not (lr > 0 and math.isfinite(lr))
    ):
        raise ValueError(f"train: lr must be a positive number, got {lr!r}")
    return float(lr)


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"train: seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"train: {name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class TutorialRun:
    """The settings of one run of the tutorial's network, checked once
    (:func:`_check_settings`), as :func:`train` takes them."""

    hidden: tuple[int, ...]
    activation: str
    lr: float
    epochs: int
    batch_size: int | None  # None: the full batch
    optimizer: str
    seed: int
    task: str
    test_fraction: float
    init: str


def _check_settings(
    hidden: Sequence[int] | str,
    activation: str,
    lr: Any,
    epochs: Any,
    batch_size: Any,
    optimizer: str,
    seed: Any,
    task: str,
    test_fraction: Any,
    init: str,
) -> TutorialRun:
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
    lr = _lr(lr)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"train: epochs must be a positive integer, got {epochs!r}")
    batch_size = None if batch_size in (None, 0) else batch_size
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
    return TutorialRun(
        parse_hidden(hidden), activation, lr, int(epochs),
        None if batch_size is None else int(batch_size), optimizer, _seed(seed), task,
        float(test_fraction), init,
    )  # fmt: skip


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


def _finish_figure(fig: Any, axes: Any, title: str, path: str) -> None:
    """Grid and legend on each panel, the title, then the file: the end of every curve."""
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)


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
    _finish_figure(fig, (ax1, ax2), title, path)


def _draw_graphs(
    output: RunFolder, model: nn.Sequential, X: np.ndarray, y: Any, loss_fn: Any
) -> None:
    """The trained network's graph, forward and backward, on its first 4 training rows
    (few enough that the gradient values can be read in the picture)."""
    from .. import viz

    loss = loss_fn(model(Tensor(X[:4])), y[:4])
    rows = f"the trained network on its first {len(X[:4])} training rows"
    viz.draw_graph(loss, model=model, title=f"Forward: {rows}").save(
        output.path("graph_forward.png")
    )
    viz.draw_graph(loss, backward=True, model=model, title=f"Backward: {rows}").save(
        output.path("graph_backward.png")
    )


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


def _progress(total: int, disable: bool, unit: str = "epoch"):
    from tqdm import tqdm

    return tqdm(total=total, desc="train", unit=unit, disable=disable, leave=False)


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
        :func:`tinygrad_bp.commands.compare.compare` (its sizes, activation, task, trained weights
        and training rows) and write the report to ``compare.txt``.

    Examples
    --------
    >>> from tinygrad_bp.commands.train import train
    >>> r = train(hidden=(), epochs=50)
    >>> r.summary["sizes"], r.summary["final"]["train_accuracy"] > 0.7
    ([4, 3], True)
    """
    settings = _check_settings(
        hidden, activation, lr, epochs, batch_size, optimizer, seed, task, test_fraction, init
    )
    if out is None or not _parallel.current().main:  # under mpiexec: process 0 writes
        return _train(settings, None, data, num_classes, progress, compare_after)
    run = RunFolder(out, "train")  # refuses a file or an unwritable path at once
    with run:  # locked; removed again unless committed
        # before any work: no file of the user's is ever overwritten
        run.check([f for f in OUTPUT_FILES if compare_after or f != "compare.txt"])
        result = _train(settings, run, data, num_classes, progress, compare_after)
        run.commit()
    result.out = Path(out)
    return result


def _train(
    settings: TutorialRun,
    output: RunFolder | None,
    data: Any,
    num_classes: int | None,
    progress: bool,
    compare_after: bool,
) -> TrainResult:
    from . import models

    s = settings
    hidden, activation, lr, epochs, batch_size = (
        s.hidden,
        s.activation,
        s.lr,
        s.epochs,
        s.batch_size,
    )
    optimizer, seed, task, test_fraction, init = (
        s.optimizer,
        s.seed,
        s.task,
        s.test_fraction,
        s.init,
    )
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
    par = _parallel.current()  # under mpiexec -n N: each process takes its share of a batch
    par.check_batch(len(Z_tr) if batch_size is None else min(batch_size, len(Z_tr)))
    net = par.wrap(model)
    params = model.parameters()
    if optimizer == "sgd":
        opt: optim.Optimizer = optim.SGD(params, lr=lr)
    elif optimizer == "momentum":
        opt = optim.SGD(params, lr=lr, momentum=MOMENTUM)
    else:
        opt = optim.Adam(params, lr=lr)
    loss_fn = F.cross_entropy if task == "classify" else F.half_squared_error
    # the tutorial's data as a task of the one training loop (models.fit)
    table = models.Task(source, Z_tr, y_tr, Z_te, y_te, task)
    parallel = par if par.size > 1 else None
    shuffle = np.random.default_rng([seed, 1])
    has_test = len(Z_te) > 0
    T_tr, T_te = Tensor(Z_tr), Tensor(Z_te)
    history: dict[str, list[float]] = {"train_loss": [], "train_metric": []}
    if has_test:
        history.update(test_loss=[], test_metric=[])
    metric = "accuracy" if task == "classify" else "r2"

    start = time.perf_counter()
    bar = _progress(epochs, disable=not (progress and par.main))
    try:
        # A diverging run is reported once, below, instead of as NumPy overflow warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(epochs):
                ix = models.epoch_batches(len(Z_tr), batch_size, shuffle)
                models.fit(net, table, opt, len(ix), batches=ix, parallel=parallel)
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
    from .. import __version__

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


# ---------------------------------------------------------------------- the later models
DATASETS = ("iris", "digits", "names")
PAIRS = {"iris": ("mlp",), "digits": ("mlp", "cnn"), "names": ("mlp", "lstm", "transformer")}
VALID_PAIRS = "iris:mlp, digits:mlp|cnn, names:mlp|lstm|transformer"


@dataclass(frozen=True)
class ModelDefaults:
    """The settings of ``benchmarks/model_results.py`` for one (data, model) pair: those
    that reached the results in docs/results.md (``minutes``: the run's time there)."""

    steps: int
    batch_size: int
    lr: float
    optimizer: str  # "adam" or "adamw"
    schedule: str  # "cosine" (to 0), "step" (lr/10 from 3/4 of the run) or "constant"
    label_smoothing: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.01
    minutes: str = ""


MODEL_DEFAULTS = {
    ("digits", "mlp"): ModelDefaults(1200, 64, 5e-3, "adam", "cosine", 0.1, minutes="~5 s"),
    ("digits", "cnn"): ModelDefaults(1200, 64, 5e-3, "adam", "cosine", 0.1, minutes="~15 s"),
    ("names", "mlp"): ModelDefaults(20000, 256, 3e-3, "adamw", "step", minutes="~6 min"),
    ("names", "lstm"): ModelDefaults(8000, 64, 3e-3, "adamw", "step", minutes="~5 min"),
    ("names", "transformer"): ModelDefaults(
        5000, 32, 5e-4, "adamw", "constant", betas=(0.9, 0.99), minutes="~9 min"
    ),
}
MODEL_FILES = ("summary.json", "weights.npz", "curves.png", "history.csv", "graph.png")


def check_pair(data: str, model: str) -> None:
    """Refuse an unknown data set or model, or a model that does not fit the data."""
    if data not in PAIRS:
        raise ValueError(
            f"train: unknown data {data!r}; expected iris, digits, names (or a CSV file); "
            f"valid pairs: {VALID_PAIRS}"
        )
    if model not in PAIRS[data]:
        raise ValueError(f"train: no model {model!r} for data {data!r}; valid pairs: {VALID_PAIRS}")


def _schedule(d: ModelDefaults, lr: float, steps: int) -> Any:
    """The learning rate at each step, as the results script set it."""
    from . import models

    if d.schedule == "cosine":
        return models.cosine(lr, steps)
    if d.schedule == "step":
        # The results script trained in 10 chunks and set the rate at each chunk's start:
        # lr until the chunk that starts at or after 3/4 of the run, then lr/10.
        every = max(steps // 10, 1)
        return lambda s: lr if (s // every) * every < 0.75 * steps else lr / 10
    return lambda s: lr


def _held_out(model: nn.Module, task: Any) -> tuple[float, float | None]:
    """(held-out loss, held-out accuracy or None): nats per character for names."""
    from . import models

    if task.kind != "image":
        return models.evaluate(model, task), None
    acc = models.evaluate(model, task)
    with no_grad():
        x = Tensor(task.X_test.astype(next(iter(model.parameters())).dtype))
        loss = float(F.cross_entropy(model(x), task.y_test).item())
    return loss, acc


def _plot_model_curves(
    path: Path, hist: dict[str, list], data: str, title: str, smoothing: float = 0.0
) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    steps = np.arange(1, len(hist["train_loss"]) + 1)
    # the training loss includes the label smoothing, the held-out loss does not
    label = "train (batch" + (f", label smoothing {smoothing:g})" if smoothing else ")")
    ax1.plot(steps, hist["train_loss"], "-", lw=0.6, alpha=0.6, label=label)
    ax1.plot(hist["eval_step"], hist["test_loss"], "o--", label="held out")
    unit = "nats/char" if data == "names" else "cross-entropy"
    ax1.set(xlabel="step", ylabel=f"loss ({unit})", title="loss")
    if data == "names":
        ax2.plot(hist["eval_step"], hist["test_loss"], "o--", color="C1", label="held out")
        ax2.set(xlabel="step", ylabel="nats per character", title="held-out loss")
    else:
        ax2.plot(hist["eval_step"], hist["test_accuracy"], "o--", color="C1", label="held out")
        ax2.set(xlabel="step", ylabel="accuracy", title="held-out accuracy")
        ax2.set_ylim(0, 1.02)
    _finish_figure(fig, (ax1, ax2), title, path)


def train_model(
    data: str,
    model: str,
    steps: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    out: str | os.PathLike[str] | None = None,
    progress: bool = False,
    eval_every: int | None = None,
    epochs: int | None = None,
) -> TrainResult:
    """Train one of the later chapters' models (:mod:`tinygrad_bp.commands.models`) as
    ``benchmarks/model_results.py`` does; optionally write curves, weights, a summary, a
    collapsed graph and (names) sampled names.

    ``data``/``model``: ``digits`` with ``mlp`` or ``cnn``; ``names`` with ``mlp``,
    ``lstm`` or ``transformer``.  ``steps``, ``lr``, ``batch_size`` default to
    :data:`MODEL_DEFAULTS`; ``epochs`` (instead of ``steps``) counts passes over the
    training set.  The held-out set is scored every ``eval_every`` steps (default a tenth
    of the run, at least 100) and at the end.  ``seed`` seeds the weights and the batches (the split
    is the results script's, seed 0).

    Examples
    --------
    >>> from tinygrad_bp.commands.train import train_model
    >>> r = train_model("digits", "mlp", steps=20)
    >>> r.summary["model"], r.summary["steps"], 0 <= r.summary["test_accuracy"] <= 1
    ('mlp', 20, True)
    """
    from . import models

    check_pair(data, model)
    if data == "iris":
        raise ValueError("train_model: the Iris MLP is train() (the tutorial's network)")
    d = MODEL_DEFAULTS[(data, model)]
    seed = _seed(seed)
    bs = d.batch_size if batch_size in (None, 0) else _positive_int(batch_size, "batch_size")
    lr = _lr(d.lr if lr is None else lr)
    if steps is not None and epochs is not None:
        raise ValueError("train: give --steps or --epochs, not both")
    task = models.load_task(data, model, seed=0)
    n_train = len(task.y_train)
    if epochs is not None:
        steps = _positive_int(epochs, "epochs") * math.ceil(n_train / bs)
    steps = d.steps if steps is None else _positive_int(steps, "steps")
    # a tenth of the run, as the results script, but not more often than every 100 steps:
    # scoring the 3203 held-out names takes the transformer seconds
    every = max(steps // 10, 100) if eval_every is None else _positive_int(eval_every, "eval_every")
    if out is None or not _parallel.current().main:  # under mpiexec: process 0 writes
        return _train_model(data, model, d, task, steps, lr, bs, seed, every, None, progress)
    run = RunFolder(out, "train")
    with run:
        names = [*MODEL_FILES, *(["samples.txt"] if data == "names" else [])]
        run.check(names)
        result = _train_model(data, model, d, task, steps, lr, bs, seed, every, run, progress)
        run.commit()
    result.out = Path(out)
    return result


def _train_model(
    data: str,
    name: str,
    d: ModelDefaults,
    task: Any,
    steps: int,
    lr: float,
    bs: int,
    seed: int,
    every: int,
    output: RunFolder | None,
    progress: bool,
) -> TrainResult:
    from . import models

    model = models.build(data, name, seed=seed, dtype=np.float32, task=task)
    params = model.parameters()
    if d.optimizer == "adam":
        opt: optim.Optimizer = optim.Adam(params, lr=lr)
        opt_text = f"Adam lr {lr:g}"
    else:
        opt = optim.AdamW(params, lr=lr, betas=d.betas, eps=d.eps, weight_decay=d.weight_decay)
        opt_text = f"AdamW lr {lr:g} betas {d.betas} wd {d.weight_decay:g}"
    opt_text += {
        "cosine": " cosine-annealed to 0",
        "step": " (lr/10 for the last quarter)",
        "constant": "",
    }[d.schedule]
    if d.label_smoothing:
        opt_text += f", label smoothing {d.label_smoothing:g}"
    lr_at = _schedule(d, lr, steps)
    batches = models.batch_indices(task, steps, bs, seed=seed)
    par = _parallel.current()  # under mpiexec -n N: each process takes its share of a batch
    par.check_batch(bs)
    net = par.wrap(model)
    hist: dict[str, list] = {"train_loss": [], "eval_step": [], "test_loss": []}
    if task.kind == "image":
        hist["test_accuracy"] = []
    bar = _progress(steps, disable=not (progress and par.main), unit="step")

    def on_step(step: int, value: float) -> None:
        if not math.isfinite(value):
            raise RuntimeError(
                f"train: the loss became {value} at step {len(hist['train_loss']) + 1}; "
                f"lower the learning rate (lr={lr:g})"
            )
        hist["train_loss"].append(value)
        bar.update(1)
        if len(hist["train_loss"]) % 10 == 0:
            bar.set_postfix({"loss": f"{value:.4f}"}, refresh=False)

    start = time.perf_counter()
    train_s = 0.0
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            for begin in range(0, steps, every):
                chunk = batches[begin : begin + every]
                h = models.fit(
                    net, task, opt, len(chunk), bs, batches=chunk, on_step=on_step,
                    label_smoothing=d.label_smoothing,
                    lr_at=lambda i, o=begin: lr_at(o + i), parallel=par if par.size > 1 else None,
                )  # fmt: skip
                train_s += h["seconds"]
                loss, acc = _held_out(model, task)
                hist["eval_step"].append(begin + len(chunk))
                hist["test_loss"].append(loss)
                if acc is not None:
                    hist["test_accuracy"].append(acc)
                    bar.set_postfix({"test acc": f"{acc:.3f}"}, refresh=False)
                else:
                    bar.set_postfix({"test": f"{loss:.4f}"}, refresh=False)
    finally:
        bar.close()
    wall = time.perf_counter() - start
    from .. import __version__

    n_params = int(sum(p.data.size for p in params))
    summary: dict[str, Any] = {
        "data": data,
        "model": name,
        "model_class": type(model).__name__,
        "parameters": n_params,
        "n_train": int(len(task.y_train)),
        "n_test": int(len(task.y_test)),
        "steps": steps,
        "batch_size": bs,
        "lr": lr,
        "optimizer": opt_text,
        "seed": seed,
        "wall_s": round(wall, 3),
        "train_s": round(train_s, 3),
        "final_train_loss": hist["train_loss"][-1],
        "test_loss": hist["test_loss"][-1],
    }
    if data == "names":
        summary["test_metric"] = "test_loss (nats per character, 10 % of the names held out)"
    else:
        summary["test_accuracy"] = hist["test_accuracy"][-1]
        summary["test_metric"] = "test_accuracy (stratified 20 % held out)"
    summary["tinygrad_bp_version"] = __version__
    result = TrainResult(model=model, history=hist, summary=summary)
    result.extra["seconds"] = wall
    if data == "names":
        result.extra["samples"] = models.sample_names(model, task, 20, seed=seed)
    if output is not None:
        files = list(MODEL_FILES)
        if data == "names":
            files.append("samples.txt")
        summary["files"] = files
        # enough to rebuild it: tinygrad_bp.commands.models.build(**metadata["model"])
        model_args = {"data": data, "model": name, "seed": seed, "dtype": "float32"}
        if name == "transformer":
            model_args["block_size"] = task.block_size
        model.save(
            output.path("weights.npz"),
            metadata={"model": model_args, "rebuild": "tinygrad_bp.commands.models.build(**model)"},
        )
        # the collapsed graph (one node per layer) of a 4-example batch, with gradients
        x = task.X_train[:4]
        xb = Tensor(x.astype(np.float32)) if task.kind == "image" else x
        loss = models.loss_of(model, xb, task.y_train[:4])
        loss.backward()
        from .. import viz

        viz.draw_graph(loss, model=model, collapse=True, backward=True).save(
            output.path("graph.png")
        )
        model.zero_grad()
        title = f"{data} {name}: {steps} steps, {opt_text}, batch {bs}, seed {seed}"
        _plot_model_curves(output.path("curves.png"), hist, data, title, d.label_smoothing)
        evals = dict(zip(hist["eval_step"], range(len(hist["eval_step"]))))
        with open(output.path("history.csv"), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            extra = ["test_loss"] + (["test_accuracy"] if task.kind == "image" else [])
            w.writerow(["step", "train_loss", *extra])
            for i, value in enumerate(hist["train_loss"], start=1):
                j = evals.get(i)
                cells = [repr(hist[k][j]) if j is not None else "" for k in extra]
                w.writerow([i, repr(value), *cells])
        if data == "names":
            summary["samples"] = result.extra["samples"]
            text = "\n".join(result.extra["samples"]) + "\n"
            output.path("samples.txt").write_text(text, encoding="utf-8")
        _write_json(output.path("summary.json"), summary)  # last: marks the run complete
    return result


# ---------------------------------------------------------------------- command line
def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tinygrad-bp train``."""
    parser.description = (
        "Reproduce the tutorial's training runs (Iris, regression), or train a later "
        "chapter's model: --data digits --model mlp|cnn, --data names --model "
        "mlp|lstm|transformer (the settings of benchmarks/model_results.py by default)."
    )
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
    parser.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate (default: iris 0.01; digits 5e-3; names mlp, lstm 3e-3; "
        "transformer 5e-4)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="passes over the training set (default: iris 2000; the other models count --steps)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="optimizer steps, digits and names (default: the documented runs: digits 1200; "
        "names mlp 20000, lstm 8000, transformer 5000)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="rows per step (default: iris 0 = full batch; digits 64; names mlp 256, lstm 64, "
        "transformer 32)",
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
        help="iris (default: the tutorial's network), digits, names, or a CSV to train the "
        "tutorial's network on (header row; numeric features; the label, or the regression "
        "target, in the last column)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="iris: mlp (the tutorial's); digits: mlp or cnn; names: mlp (Bengio), lstm or "
        "transformer. The default runs take (CPU time of one core): digits mlp ~3 s, cnn "
        "~15 s; names mlp ~3 min, lstm ~5 min, transformer ~9 min; --steps 50 a few seconds",
    )
    parser.add_argument(
        "--eval-every",
        type=int,
        default=None,
        help="digits and names: score the held-out set every N steps (default a tenth of "
        "the run, at least 100) and at the end",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="folder for curves.png, weights.npz, summary.json, history.csv and graph "
        "pictures (digits, names: graph.png, collapsed; names: samples.txt)",
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


# the tutorial's options, and their defaults: refused with --data digits|names
TUTORIAL_FLAGS = {
    "hidden": "10,5",
    "activation": "tanh",
    "optimizer": "sgd",
    "task": "classify",
    "test_fraction": 0.0,
    "init": "tutorial",
    "compare": False,
}


def _main_model(args: argparse.Namespace) -> int:
    """``--data digits|names``: train a later chapter's model and report it."""
    given = ["--" + k.replace("_", "-") for k, v in TUTORIAL_FLAGS.items() if getattr(args, k) != v]
    if given:
        raise ValueError(
            f"train: {', '.join(given)} belong to the tutorial's Iris network; "
            f"--data {args.data} trains --model {args.model or 'mlp'} with its own settings"
        )
    result = train_model(
        args.data,
        args.model or "mlp",
        steps=args.steps,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
        progress=not args.quiet and sys.stderr.isatty(),
        eval_every=args.eval_every,
        epochs=args.epochs,
    )
    if args.quiet or not _parallel.current().main:
        return 0
    s = result.summary
    print(
        f"trained {s['data']} {s['model']} ({s['parameters']:,} parameters): {s['steps']} "
        f"steps, {s['optimizer']}, batch {s['batch_size']}, seed {s['seed']} "
        f"({s['wall_s']:.1f} s)"
    )
    if s["data"] == "names":
        print(f"held-out loss {s['test_loss']:.4f} nats per character")
        print("20 sampled names:")
        for sample in result.extra["samples"]:
            print(f"  {sample}")
    else:
        print(f"held-out accuracy {s['test_accuracy']:.4f} (loss {s['test_loss']:.4f})")
    if result.out is not None:
        print(f"wrote {', '.join(s['files'])} to {result.out}")
    return 0


def _is_name(data: str) -> bool:
    """A --data value that is meant as a data set's name, not a CSV path."""
    return data in PAIRS or not (os.path.exists(data) or any(c in data for c in "./\\"))


def main(args: argparse.Namespace) -> int:
    """Train, print the final metrics; 1 if ``--compare`` found a difference, else 0.
    Under ``mpiexec -n N``, data-parallel over the N processes; process 0 prints."""
    _parallel.current()  # (joins the job first, so that a failure ends every process)
    data = args.data
    if data is None or _is_name(data):
        data = data or "iris"
        check_pair(data, args.model or "mlp")
        if data != "iris":
            return _main_model(args)
        data = None
    elif args.model not in (None, "mlp"):
        raise ValueError(
            f"train: a CSV trains the tutorial's network (--model mlp), not {args.model!r}; "
            f"valid pairs: {VALID_PAIRS}"
        )
    if args.steps is not None or args.eval_every is not None:
        flag = "--steps" if args.steps is not None else "--eval-every"
        raise ValueError(
            f"train: {flag} is for --data digits|names; the tutorial's network counts --epochs"
        )
    result = train(
        hidden=args.hidden,
        activation=args.activation,
        lr=0.01 if args.lr is None else args.lr,
        epochs=2000 if args.epochs is None else args.epochs,
        batch_size=0 if args.batch_size is None else args.batch_size,
        optimizer=args.optimizer,
        seed=args.seed,
        task=args.task,
        test_fraction=args.test_fraction,
        out=args.out,
        data=data,
        init=args.init,
        progress=not args.quiet and sys.stderr.isatty(),
        compare_after=args.compare,
    )
    if args.quiet or not _parallel.current().main:
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
